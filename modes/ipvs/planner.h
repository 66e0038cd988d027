// The IPVS-mode planner: a pure function from (snapshot, settings, IPVS options, node addresses)
// to what upstream kube-proxy's IPVS proxier programs in one sync of one IP family (spec
// ipvs-and-runtime.md §1.3-§1.9): every virtual server with its real servers, every IP set with
// its members, the addresses on kube-ipvs0, and the iptables-restore payload of IPVS mode. It
// reads no clock, file, environment or kernel, and logs nothing. Service ports are visited in
// ServicePortName order (upstream: Go map order); where that order shows (two service ports
// claiming the same virtual server, the KUBE-IPVS-OUT-FILTER rules) the output is deterministic.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "modes/ipvs/state.h"
#include "src/config/kube_proxy_configuration.h"
#include "src/config/proxier_settings.h"
#include "src/tracker/snapshot.h"
#include "src/util/result.h"

namespace kproxy::ipvs {

// The ipvs section of KubeProxyConfiguration, for one family.
struct IpvsSettings {
  std::string scheduler = "rr";  // ipvs.scheduler; "" in the file means rr. Any name is accepted
                                 // (the kernel rejects unknown ones when the proxier starts).
  // ipvs.strictARP: only sysctls (arp_ignore=1, arp_announce=2); it changes nothing in the state.
  bool strict_arp = false;
  std::vector<Cidr> exclude_cidrs;  // ipvs.excludeCIDRs of this family
  // ipvs.tcpTimeout, tcpFinTimeout, udpTimeout in seconds (0: leave the kernel's value).
  uint32_t tcp_timeout = 0;
  uint32_t tcp_fin_timeout = 0;
  uint32_t udp_timeout = 0;
  // ipvs.syncPeriod: the live proxier reads the whole kernel state again (a full sync) at least
  // this often; syncs in between send only what changed (proxier.h). Not part of the plan.
  std::chrono::nanoseconds full_sync_period = std::chrono::seconds(30);
};

// Errors name the field: "ipvs.excludeCIDRs[1]: \"10.0.0.0/33\" is not a valid CIDR".
Result<IpvsSettings> ipvsSettingsFrom(const config::KubeProxyConfiguration& config, IpFamily family);

struct IpvsPlanInput {
  const tracker::ProxySnapshot* snapshot = nullptr;
  const config::ProxierSettings* settings = nullptr;
  const IpvsSettings* ipvs = nullptr;
  // The addresses on kube-ipvs0 right now. Node addresses come from settings->facts.local_addresses
  // (every interface); upstream excludes kube-ipvs0's own from them (otherwise every bound
  // ClusterIP would become a NodePort address), so the live proxier passes what it read here.
  // `kproxy render` passes none (the facts of a node must then not list kube-ipvs0's addresses).
  const std::vector<IpAddress>* kube_ipvs0_addresses = nullptr;
};

struct Sysctl {
  std::string_view name;  // "net/ipv4/vs/conntrack"
  int value = 0;
};
// The sysctls IPVS mode ensures at startup, in upstream's order (spec §1.11). conn_reuse_mode is
// not here: it depends on the kernel version, which the proxier knows.
std::vector<Sysctl> ipvsSysctls(const IpvsSettings& ipvs);

// A jump from a built-in chain that IPVS mode ensures with an individual "insert if missing"
// (iptables -I), outside the restore payload (spec §1.9 jump table). Cleanup deletes them.
struct ChainJump {
  std::string_view table;  // "nat" / "filter"
  std::string_view from;
  std::string_view to;
  std::string_view comment;
};
const std::vector<ChainJump>& ipvsChainJumps();

// The chains IPVS mode declares, as (table, chain), in declaration order.
struct TableChain {
  std::string_view table;
  std::string_view chain;
};
const std::vector<TableChain>& ipvsChains();

struct IpvsPlan {
  IpvsState state;
  // iptables-restore input: "*nat" chains, rules, "COMMIT", "*filter" chains, rules, "COMMIT",
  // for iptables-restore (ip6tables-restore for IPv6) --noflush --counters.
  std::string iptables_payload;
  // Sysctls the proxier ensures at startup, in upstream's order. conn_reuse_mode is not here: it
  // depends on the kernel version (set to 0 only for 4.1 <= kernel < 5.9), which the applier knows.
  std::vector<Sysctl> sysctls;
  // kubeproxy_sync_proxy_rules_no_local_endpoints_total{traffic_policy="internal"|"external"}:
  // services with usable endpoints somewhere whose Local-policy virtual servers had none on
  // this node (and fell back to the cluster-wide endpoints, §1.7).
  int no_local_endpoints_internal = 0;
  int no_local_endpoints_external = 0;
  size_t real_server_count = 0;
};

IpvsPlan planIpvs(const IpvsPlanInput& input);

}  // namespace kproxy::ipvs
