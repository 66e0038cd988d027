// Chain names of iptables mode (spec iptables-mode.md §3): KUBE-SVC/SVL/EXT/FW share
// h(servicePortName + protocol), KUBE-SEP uses h(servicePortName + protocol + endpoint), where
// h = first 16 characters of base32(sha256(text)).
#pragma once

#include <string>
#include <string_view>

namespace kproxy::iptables {

inline constexpr std::string_view kServicesChain = "KUBE-SERVICES";
inline constexpr std::string_view kExternalServicesChain = "KUBE-EXTERNAL-SERVICES";
inline constexpr std::string_view kNodePortsChain = "KUBE-NODEPORTS";
inline constexpr std::string_view kPostroutingChain = "KUBE-POSTROUTING";
inline constexpr std::string_view kMarkMasqChain = "KUBE-MARK-MASQ";
inline constexpr std::string_view kForwardChain = "KUBE-FORWARD";
inline constexpr std::string_view kProxyFirewallChain = "KUBE-PROXY-FIREWALL";
inline constexpr std::string_view kKubeletFirewallChain = "KUBE-FIREWALL";
inline constexpr std::string_view kProxyCanaryChain = "KUBE-PROXY-CANARY";

// The 16-character hash of `text` (sha256, RFC 4648 base32, truncated).
std::string chainHash(std::string_view text);

struct ServiceChainNames {
  std::string svc;  // KUBE-SVC-<h>: cluster-policy endpoints
  std::string svl;  // KUBE-SVL-<h>: local-policy endpoints
  std::string ext;  // KUBE-EXT-<h>: external destinations
  std::string fw;   // KUBE-FW-<h>: loadBalancerSourceRanges
};

// `port_name` is the service-port string ("ns/svc:port" or "ns/svc"), `protocol` lower case.
ServiceChainNames serviceChainNames(std::string_view port_name, std::string_view protocol);
// KUBE-SEP-<h> for `endpoint` ("10.0.0.1:80", "[fd00::1]:80").
std::string endpointChainName(std::string_view port_name, std::string_view protocol, std::string_view endpoint);

// True for the per-service chain prefixes kube-proxy owns and deletes when stale.
bool isServiceChainName(std::string_view chain);

}  // namespace kproxy::iptables
