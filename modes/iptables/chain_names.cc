#include "modes/iptables/chain_names.h"

#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace kproxy::iptables {
namespace {

// One digest context per thread, reused: OpenSSL 3's one-shot SHA256() fetches the algorithm on
// every call, which costs 3x more than hashing ~40 bytes (100k endpoint chains per full sync).
class Sha256 {
 public:
  Sha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    if (md_ == nullptr || ctx_ == nullptr) throw std::runtime_error("OpenSSL SHA256 unavailable");
  }
  ~Sha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void digest(std::string_view a, std::string_view b, std::string_view c, unsigned char out[32]) {
    unsigned int len = 0;
    EVP_DigestInit_ex(ctx_, md_, nullptr);
    EVP_DigestUpdate(ctx_, a.data(), a.size());
    EVP_DigestUpdate(ctx_, b.data(), b.size());
    EVP_DigestUpdate(ctx_, c.data(), c.size());
    EVP_DigestFinal_ex(ctx_, out, &len);
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

Sha256& threadSha256() {
  thread_local Sha256 sha;
  return sha;
}

// First 16 base32 characters: 80 bits = the first 10 digest bytes.
void appendBase32Prefix16(const unsigned char digest[32], std::string& out) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  for (int group = 0; group < 2; ++group) {
    uint64_t bits = 0;
    for (int i = 0; i < 5; ++i) bits = (bits << 8) | digest[group * 5 + i];
    for (int shift = 35; shift >= 0; shift -= 5) out.push_back(kAlphabet[(bits >> shift) & 31]);
  }
}

std::string hash3(std::string_view a, std::string_view b, std::string_view c) {
  unsigned char digest[32];
  threadSha256().digest(a, b, c, digest);
  std::string out;
  out.reserve(16);
  appendBase32Prefix16(digest, out);
  return out;
}

}  // namespace

std::string chainHash(std::string_view text) { return hash3(text, {}, {}); }

ServiceChainNames serviceChainNames(std::string_view port_name, std::string_view protocol) {
  std::string h = hash3(port_name, protocol, {});
  return {"KUBE-SVC-" + h, "KUBE-SVL-" + h, "KUBE-EXT-" + h, "KUBE-FW-" + h};
}

std::string endpointChainName(std::string_view port_name, std::string_view protocol, std::string_view endpoint) {
  return "KUBE-SEP-" + hash3(port_name, protocol, endpoint);
}

bool isServiceChainName(std::string_view chain) {
  for (std::string_view prefix : {"KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"}) {
    if (chain.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

}  // namespace kproxy::iptables
