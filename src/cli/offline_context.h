// The prelude of the offline verbs (render, trace): what they know of a node from the command line
// (configuration and mode, manifests with their --from history, node facts, one IP family), synced
// through the mode's offline proxier the way one long-lived daemon would sync them: every --from
// state in order, then the -f state. Shared, so that `kproxy trace` follows exactly the state
// `kproxy render` prints.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "modes/registry.h"
#include "src/api/decode.h"
#include "src/cli/render_command.h"
#include "src/config/node_facts.h"
#include "src/tracker/snapshot.h"
#include "src/util/ip.h"

namespace kproxy::cli {

struct OfflineSyncs {
  IpFamily family = IpFamily::kIPv4;
  const modes::ModeEntry* mode = nullptr;
  config::NodeFacts node_facts;  // from --node-facts, or the defaults render uses
  std::unique_ptr<modes::OfflineProxier> proxier;  // after the last sync
};

// Feeds the difference between two complete cluster states into `tracker` as informer events
// would (services and slices added, updated or deleted by namespace/name; then this node).
void feedClusterState(tracker::ProxyStateTracker& tracker, const api::ClusterState& previous,
                      const api::ClusterState& current);

// Called after every offline sync, in order (tests look at each sync's plan).
using OfflineSyncObserver = std::function<void(const modes::OfflineProxier&)>;

// Loads `options` (its `files` must not be empty) and syncs them through the mode's offline
// proxier (`for_trace`: one that can trace). Appends "warning: ..." lines to `err` as they
// arise (and with options.timings one "timings: ..." line); on bad input appends one
// "error: ..." line per problem and returns nullopt.
std::optional<OfflineSyncs> runOfflineSyncs(const RenderOptions& options, bool for_trace, std::string& err,
                                            const OfflineSyncObserver& after_each_sync = {});

}  // namespace kproxy::cli
