#include "modes/iptables/chain_names.h"

#include "modes/common/name_hash.h"

namespace kproxy::iptables {
namespace {

std::string hash3(std::string_view a, std::string_view b, std::string_view c) {
  std::string out;
  out.reserve(16);
  names::appendHashPrefix(out, 16, a, b, c);
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
