// The iptables-mode planner: a pure function from (snapshot, settings, what changed, what exists)
// to the iptables-restore input upstream kube-proxy's syncProxyRules would write
// (spec iptables-mode.md §4-§6). It reads no clock, file, environment or kernel, and logs nothing.
// Service ports are visited in ServicePortName order (upstream: Go map order), so the output is
// deterministic and equal to upstream's after upstream's test normalisation.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "modes/iptables/chain_names.h"
#include "modes/iptables/plan.h"
#include "src/config/proxier_settings.h"
#include "src/tracker/snapshot.h"

namespace kproxy::iptables {

using SteadyTime = std::chrono::steady_clock::time_point;

// Endpoint count above which rules lose their per-endpoint comments and stale chains are deleted
// at most once per syncPeriod (upstream largeClusterEndpointsThreshold).
inline constexpr size_t kLargeClusterEndpointsThreshold = 1000;

// What a plan wrote for one service port's own chains (KUBE-EXT/FW/SVC/SVL/SEP), so that a later
// partial sync can account for the port while it is unchanged (its chains stay active, its rules
// count as skipped) without hashing and rendering them again: at 10k services x 10 endpoints
// that rendering is most of a partial sync's planning time.
struct ServicePortChains {
  ServiceChainNames names;
  std::vector<ChainName> chains;  // declared, in order (inline names: ~110k of them at 10k services)
  size_t rule_lines = 0;            // rule lines written into them
};
using ServicePortChainsMap = std::map<tracker::ServicePortName, std::shared_ptr<const ServicePortChains>>;

struct PlanInput {
  const tracker::ProxySnapshot* snapshot = nullptr;
  const config::ProxierSettings* settings = nullptr;
  // Full sync: every chain is written. Partial sync: only the chains of services in
  // `changes` (their Service or EndpointSlices changed) are written; other services' chains are
  // left as they are in the kernel.
  bool full_sync = true;
  const tracker::UpdateResult* changes = nullptr;
  // The nat chains that exist now (upstream reads them with iptables-save); per-service chains
  // among them that this sync does not use are deleted. Null: unknown, nothing is deleted.
  const ChainNameSet* existing_nat_chains = nullptr;
  // Large-cluster throttle of the stale-chain deletion: skipped while
  // now - last_stale_cleanup <= settings->sync_period.
  // nullopt: never cleaned up yet.
  SteadyTime now{};
  std::optional<SteadyTime> last_stale_cleanup;
  // Optional. `previous_service_chains`: what the previous plan recorded (below); a partial sync
  // takes unchanged ports from it instead of rendering them. The output is the same either way.
  // `record_service_chains`: filled with what this plan wrote for every service port.
  const ServicePortChainsMap* previous_service_chains = nullptr;
  ServicePortChainsMap* record_service_chains = nullptr;
};

IptablesPlan planIptables(const PlanInput& input);

}  // namespace kproxy::iptables
