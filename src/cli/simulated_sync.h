// What an offline verb (render, trace) knows of a node: the configuration, manifests and node
// facts of the command line (cluster_input.h), planned the way one long-lived proxier would sync
// them: every --from state in order, then the -f state. Shared so that `kproxy trace` follows
// exactly the rules `kproxy render` prints.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "modes/iptables/plan.h"
#include "src/cli/render_command.h"
#include "src/api/decode.h"
#include "src/config/node_facts.h"
#include "src/tracker/snapshot.h"
#include "src/util/ip.h"

namespace kproxy::cli {

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

// Loads and plans `options` (its `files` must not be empty; render's own checks stay in
// render). Appends "warning: ..." lines to `err` as they arise; on bad input appends one
// "error: ..." line per problem and returns nullopt.
std::optional<SimulatedSyncs> simulateSyncs(const RenderOptions& options, std::string& err,
                                            const PlanObserver& each_plan = {});

}  // namespace kproxy::cli
