// What an offline verb (render, trace) knows of a node: the configuration, manifests and node
// facts of the command line (cluster_input.h), planned the way one long-lived proxier would sync
// them: every --from state in order, then the -f state. Shared so that `kproxy trace` follows
// exactly the rules `kproxy render` prints.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "modes/iptables/plan.h"
#include "modes/nftables/planner.h"
#include "src/api/decode.h"
#include "src/cli/render_command.h"
#include "src/config/kube_proxy_configuration.h"
#include "src/config/node_facts.h"
#include "src/config/proxier_settings.h"
#include "src/tracker/snapshot.h"
#include "src/util/ip.h"

namespace kproxy::cli {

// The command line's inputs, loaded and checked: the prelude every offline simulation shares.
struct OfflineInputs {
  IpFamily family = IpFamily::kIPv4;
  config::KubeProxyConfiguration config;  // with --proxy-mode applied
  std::string mode;                       // the effective proxy mode
  std::string node_name;
  std::vector<api::ClusterState> states;  // every --from state, then the -f state
  config::NodeFacts node_facts;           // from --node-facts, or the defaults render uses
  config::ProxierSettings settings;       // at startup (the first state's Node)
  std::vector<std::string> settings_warnings;
  double parse_ms = 0;
};

// Loads `options` (its `files` must not be empty). Appends "warning: ..." lines to `err` as they
// arise; on bad input appends one "error: ..." line per problem and returns nullopt. The mode is
// not checked here: callers say which modes they handle.
std::optional<OfflineInputs> loadOfflineInputs(const RenderOptions& options, std::string& err);

struct SimulatedSyncs {
  IpFamily family = IpFamily::kIPv4;
  config::NodeFacts node_facts;  // from --node-facts, or the defaults render uses
  iptables::IptablesPlan plan;   // the last sync's plan
};

// Feeds the difference between two complete cluster states into `tracker` as informer events
// would (services and slices added, updated or deleted by namespace/name; then this node).
void feedClusterState(tracker::ProxyStateTracker& tracker, const api::ClusterState& previous,
                      const api::ClusterState& current);

// Called with the plan of every sync, in order (the last one is also returned).
using PlanObserver = std::function<void(const iptables::IptablesPlan&)>;

// iptables mode: loads and plans `options` as above; any other mode is an error.
std::optional<SimulatedSyncs> simulateSyncs(const RenderOptions& options, std::string& err,
                                            const PlanObserver& each_plan = {});

struct SimulatedNftablesSyncs {
  IpFamily family = IpFamily::kIPv4;
  config::NodeFacts node_facts;
  nftables::NftablesPlan plan;  // the last sync's plan: its ruleset is the table after it
};

// upstream: a chain flushed as stale is deleted by the first sync more than a second later; the
// syncs of render are taken to be this far apart, so each deletes what the one before flushed.
inline constexpr std::chrono::seconds kOfflineSyncInterval{2};

// nftables mode: every state synced in turn by one proxier (the first sync full, later ones
// partial unless this node's labels changed, or --full-sync for the last), each sync's
// transaction applied on top of the table the previous one left.
// `each_plan` (optional) is called with the plan of every sync, in order.
using NftablesPlanObserver = std::function<void(const nftables::NftablesPlan&)>;
std::optional<SimulatedNftablesSyncs> simulateNftablesSyncs(const RenderOptions& options, std::string& err,
                                                            const NftablesPlanObserver& each_plan = {});

}  // namespace kproxy::cli
