// Names of nftables mode's objects (upstream pkg/proxy/nftables): the fixed chains, sets and maps
// of the kube-proxy table, and the per-service-port chains and affinity sets, whose names are a
// hash prefix plus the readable service port (or endpoint): "service-ULMVA6XW-ns1/svc1/tcp/p80",
// "endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80".
#pragma once

#include <string>
#include <string_view>

namespace kproxy::nftables {

inline constexpr std::string_view kTableName = "kube-proxy";
inline constexpr std::string_view kTableComment = "rules for kube-proxy";

// Base chains ("${type}-${hook}[-qualifier]").
inline constexpr std::string_view kFilterPreroutingPreDnatChain = "filter-prerouting-pre-dnat";
inline constexpr std::string_view kFilterOutputPreDnatChain = "filter-output-pre-dnat";
inline constexpr std::string_view kFilterForwardChain = "filter-forward";
inline constexpr std::string_view kFilterInputChain = "filter-input";
inline constexpr std::string_view kFilterOutputChain = "filter-output";
inline constexpr std::string_view kNatPreroutingChain = "nat-prerouting";
inline constexpr std::string_view kNatOutputChain = "nat-output";
inline constexpr std::string_view kNatPostroutingChain = "nat-postrouting";

// Regular top-level chains.
inline constexpr std::string_view kServicesChain = "services";
inline constexpr std::string_view kMasqueradingChain = "masquerading";
inline constexpr std::string_view kServiceEndpointsCheckChain = "service-endpoints-check";
inline constexpr std::string_view kNodePortEndpointsCheckChain = "nodeport-endpoints-check";
inline constexpr std::string_view kRejectChain = "reject-chain";
inline constexpr std::string_view kClusterIPsCheckChain = "cluster-ips-check";
inline constexpr std::string_view kFirewallCheckChain = "firewall-check";

// Sets and maps.
inline constexpr std::string_view kClusterIPsSet = "cluster-ips";
inline constexpr std::string_view kNodePortIPsSet = "nodeport-ips";
inline constexpr std::string_view kHairpinConnectionsSet = "hairpin-connections";
inline constexpr std::string_view kServiceIPsMap = "service-ips";
inline constexpr std::string_view kServiceNodePortsMap = "service-nodeports";
inline constexpr std::string_view kNoEndpointServicesMap = "no-endpoint-services";
inline constexpr std::string_view kNoEndpointNodePortsMap = "no-endpoint-nodeports";
inline constexpr std::string_view kFirewallIPsMap = "firewall-ips";

// upstream: nft names are at most 256 bytes (knftables.NameLengthMax); a prefix ("endpoint-")
// takes at most 16, so the hashed base is at most 240, truncated with "..." beyond that.
inline constexpr size_t kNameLengthMax = 256;
inline constexpr size_t kChainNamePrefixLengthMax = 16;
inline constexpr size_t kChainNameBaseLengthMax = kNameLengthMax - kChainNamePrefixLengthMax;

// "HASH-namespace/name/protocol/port": the 8-character hash of the readable part, then the
// readable part, truncated to kChainNameBaseLengthMax. `protocol` is lower case. Characters that
// nft does not allow in an unquoted name (anything but [A-Za-z0-9_./-]) are replaced with '_' in
// the readable part; the API server's name rules never let one through, and the hash is taken of
// the original text, so names stay distinct either way.
std::string servicePortChainNameBase(std::string_view namespace_name, std::string_view service_name,
                                     std::string_view protocol, std::string_view port_name);
// "HASH-namespace/name/protocol/port__IP/port" for `endpoint` ("10.0.0.1:80", "[fd00::1]:80");
// an IPv6 address's colons become dots.
std::string servicePortEndpointChainNameBase(std::string_view namespace_name, std::string_view service_name,
                                             std::string_view protocol, std::string_view port_name,
                                             std::string_view endpoint);

struct ServicePortChainNames {
  std::string cluster;   // "service-<base>": endpoints for Cluster traffic policy
  std::string local;     // "local-<base>": endpoints for Local traffic policy
  std::string external;  // "external-<base>": NodePort, external and load-balancer IP traffic
  std::string firewall;  // "firewall-<base>": loadBalancerSourceRanges
};
ServicePortChainNames servicePortChainNames(const std::string& base);

// "endpoint-<base>" and "affinity-<base>" (only services with ClientIP affinity have them).
std::string endpointChainName(const std::string& endpoint_base);
std::string affinitySetName(const std::string& endpoint_base);

// upstream isServiceChainName: every per-service chain name holds a "/", no fixed one does.
bool isServiceChainName(std::string_view chain);
bool isAffinitySetName(std::string_view set);

}  // namespace kproxy::nftables
