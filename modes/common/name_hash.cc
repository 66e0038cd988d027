#include "modes/common/name_hash.h"

#include <openssl/evp.h>

#include <cstdint>
#include <stdexcept>

namespace kproxy::names {
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

}  // namespace

void appendHashPrefix(std::string& out, size_t length, std::string_view a, std::string_view b, std::string_view c) {
  thread_local Sha256 sha;
  unsigned char digest[32];
  sha.digest(a, b, c, digest);
  // Each base32 character is 5 bits: eight of them are the first five digest bytes, sixteen the
  // first ten.
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  if (length > 16) length = 16;
  for (size_t i = 0; i < length; ++i) {
    const size_t group = i / 8;
    uint64_t bits = 0;
    for (size_t b = 0; b < 5; ++b) bits = (bits << 8) | digest[group * 5 + b];
    out.push_back(kAlphabet[(bits >> (35 - 5 * (i % 8))) & 31]);
  }
}

}  // namespace kproxy::names
