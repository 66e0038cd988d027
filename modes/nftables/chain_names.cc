#include "modes/nftables/chain_names.h"

#include "modes/common/name_hash.h"

namespace kproxy::nftables {
namespace {

bool allowedInName(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
         c == '/' || c == '-';
}

// upstream hashAndTruncate: "HASH-" + name, cut to the base length with "..." at the end.
std::string hashAndTruncate(const std::string& name) {
  std::string out;
  out.reserve(9 + name.size());
  names::appendHashPrefix(out, 8, name);
  out.push_back('-');
  for (char c : name) out.push_back(allowedInName(c) ? c : '_');
  if (out.size() > kChainNameBaseLengthMax) {
    out.resize(kChainNameBaseLengthMax - 3);
    out += "...";
  }
  return out;
}

}  // namespace

std::string servicePortChainNameBase(std::string_view namespace_name, std::string_view service_name,
                                     std::string_view protocol, std::string_view port_name) {
  std::string name;
  name.reserve(namespace_name.size() + service_name.size() + protocol.size() + port_name.size() + 3);
  name.append(namespace_name).append("/").append(service_name).append("/").append(protocol).append("/").append(
      port_name);
  return hashAndTruncate(name);
}

std::string servicePortEndpointChainNameBase(std::string_view namespace_name, std::string_view service_name,
                                             std::string_view protocol, std::string_view port_name,
                                             std::string_view endpoint) {
  // upstream: net.SplitHostPort, then ":" -> "." in the host (colons are not allowed in names).
  std::string_view host = endpoint;
  std::string_view port;
  if (auto colon = endpoint.rfind(':'); colon != std::string_view::npos) {
    host = endpoint.substr(0, colon);
    port = endpoint.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string name;
  name.reserve(namespace_name.size() + service_name.size() + protocol.size() + port_name.size() + host.size() +
               port.size() + 6);
  name.append(namespace_name).append("/").append(service_name).append("/").append(protocol).append("/").append(
      port_name);
  name.append("__");
  for (char c : host) name.push_back(c == ':' ? '.' : c);
  name.append("/").append(port);
  return hashAndTruncate(name);
}

ServicePortChainNames servicePortChainNames(const std::string& base) {
  return {"service-" + base, "local-" + base, "external-" + base, "firewall-" + base};
}

std::string endpointChainName(const std::string& endpoint_base) { return "endpoint-" + endpoint_base; }
std::string affinitySetName(const std::string& endpoint_base) { return "affinity-" + endpoint_base; }

bool isServiceChainName(std::string_view chain) { return chain.find('/') != std::string_view::npos; }
bool isAffinitySetName(std::string_view set) { return set.substr(0, 9) == "affinity-"; }

}  // namespace kproxy::nftables
