// The nftables-mode planner: a pure function from (snapshot, settings, ServiceCIDRs, what
// changed, what the table holds now) to the table upstream kube-proxy's newest nftables proxier
// leaves after a sync, and the transactions it sends to get there (upstream
// pkg/proxy/nftables/proxier.go syncProxyRules; layout from proxier_test.go at kubernetes commit
// edca5633aa54). It reads no clock, file, environment or kernel, and logs nothing.
//
// Layout, per IP family, in the table `kube-proxy`:
//  * base chains filter-prerouting-pre-dnat and filter-output-pre-dnat (priority -110, before
//    DNAT: firewall-check), filter-forward/-input/-output (priority 0, after DNAT: the no-endpoint
//    and cluster-IP checks), nat-prerouting/-output (-100: services) and nat-postrouting (100:
//    masquerading);
//  * verdict maps service-ips, service-nodeports, no-endpoint-services, no-endpoint-nodeports,
//    firewall-ips and sets cluster-ips, nodeport-ips (unless nodePortAddresses matches every
//    address), hairpin-connections (each local endpoint as "ip . ip . proto . port");
//  * per service port "service-HASH-ns/name/proto/port" (Cluster policy endpoints),
//    "local-..." (Local policy), "external-..." (node ports, external and LB IPs) and
//    "firewall-..." (loadBalancerSourceRanges). Without session affinity a policy chain DNATs
//    straight through `numgen random mod N map`; with ClientIP affinity it picks one of the
//    "endpoint-HASH-..." chains, which record the client in "affinity-HASH-..." sets.
//
// Syncs: a full sync rewrites the whole table; a partial sync rewrites only the chains of
// services whose Service or EndpointSlices changed, and adds or deletes only the set and map
// elements that differ from the table. A per-service chain no longer used is flushed by one sync
// and deleted by the first sync that starts more than one second later, in a transaction of its
// own that runs before that sync's (upstream: kernels before 6.2 notice a chain is unreferenced
// only a little after the map element that pointed to it is gone).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "modes/nftables/plan.h"
#include "src/config/proxier_settings.h"
#include "src/tracker/snapshot.h"
#include "src/util/ip.h"

namespace kproxy::nftables {

using SteadyTime = std::chrono::steady_clock::time_point;
// Per-service chains flushed as stale and not yet deleted, with the time they became stale.
using StaleChains = std::map<std::string, SteadyTime, std::less<>>;

// upstream: a stale chain is deleted once it has been stale for more than this.
inline constexpr std::chrono::seconds kStaleChainDelay{1};

struct PlanInput {
  const tracker::ProxySnapshot* snapshot = nullptr;
  const config::ProxierSettings* settings = nullptr;
  // This family's ServiceCIDRs (networking.k8s.io/v1 ServiceCIDR spec.cidrs): traffic to an
  // address inside them that is no service's cluster IP is dropped. Empty: no such rule.
  std::vector<Cidr> service_cidrs;
  // Full sync: the whole table is rewritten. Partial sync: only services in `changes`. A partial
  // sync is promoted to a full one when there is no table yet, or when anything outside the
  // per-service objects (ServiceCIDRs, node-port addresses, settings) differs from `existing`.
  bool full_sync = true;
  const tracker::UpdateResult* changes = nullptr;
  // The table as it is now (after the previous sync); null when there is none.
  const Ruleset* existing = nullptr;
  // What the previous sync left in `stale_chains` (null: none).
  const StaleChains* stale_chains = nullptr;
  // upstream: the first sync of a proxier's life deletes and re-adds each base chain, so that a
  // base chain left with other properties (priority, hook) by an older version is replaced.
  bool first_sync = false;
  SteadyTime now{};
};

struct NftablesPlan {
  IpFamily family = IpFamily::kIPv4;
  bool full_sync = true;
  // The table after this sync (what `kproxy render` prints).
  Ruleset ruleset;
  // Deletes stale chains that have waited long enough; run before `transaction` (empty: none).
  Transaction stale_chain_deletion;
  // What this sync sends.
  Transaction transaction;
  // Stale chains still waiting to be deleted after this sync.
  StaleChains stale_chains;

  // For upstream's metrics.
  size_t total_endpoints = 0;
  int no_local_endpoints_internal = 0;
  int no_local_endpoints_external = 0;
};

NftablesPlan planNftables(const PlanInput& input);

}  // namespace kproxy::nftables
