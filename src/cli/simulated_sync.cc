#include "src/cli/simulated_sync.h"

#include "src/cli/tracker_feed.h"

#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "modes/iptables/planner.h"
#include "src/api/service_cidr.h"
#include "src/cli/cluster_input.h"
#include "src/config/proxier_settings.h"
#include "src/tracker/snapshot.h"

namespace kproxy::cli {
namespace {

using TimingClock = std::chrono::steady_clock;

double msSince(TimingClock::time_point t) {
  return std::chrono::duration<double, std::milli>(TimingClock::now() - t).count();
}

// One sync of the simulation: the snapshot after the state at `index`, and whether it is full.
struct SyncStep {
  size_t index = 0;
  bool full = false;
  bool last = false;
  const tracker::ProxySnapshot& snapshot;
  const tracker::UpdateResult& changes;
};

// Feeds every state into one tracker in turn, as a long-lived proxier's informers would, and
// calls `plan_one` for each sync. upstream: the first sync is full, and so is every sync after
// this node's labels changed (and the last one with --full-sync). Adds the tracking time to
// `track_ms` and the planning time to `plan_ms`.
void runSyncs(const OfflineInputs& in, bool full_sync_last, const std::function<void(const SyncStep&)>& plan_one,
              double& track_ms, double& plan_ms) {
  tracker::ProxyStateTracker tracker(
      {.family = in.family, .node_name = in.node_name, .node_hints_enabled = in.settings.prefer_same_node});
  api::ClusterState empty;
  const api::ClusterState* previous = &empty;
  for (size_t i = 0; i < in.states.size(); ++i) {
    const auto track_start = TimingClock::now();
    feedClusterState(tracker, *previous, in.states[i]);
    previous = &in.states[i];
    auto [snapshot, changes] = tracker.checkout();
    track_ms += msSince(track_start);
    const bool last = i + 1 == in.states.size();
    const bool full = i == 0 || changes.node_labels_changed || (last && full_sync_last);
    const auto plan_start = TimingClock::now();
    plan_one(SyncStep{.index = i, .full = full, .last = last, .snapshot = *snapshot, .changes = changes});
    plan_ms += msSince(plan_start);
  }
}

}  // namespace

void feedClusterState(tracker::ProxyStateTracker& tracker, const api::ClusterState& previous,
                      const api::ClusterState& current) {
  TrackerFeed feed({&tracker});
  watch::emitDifference(previous, current, feed, tracker.nodeName());
}

std::optional<OfflineInputs> loadOfflineInputs(const RenderOptions& options, std::string& err) {
  std::vector<std::string> errors;
  auto fail = [&]() -> std::optional<OfflineInputs> {
    for (const auto& e : errors) err += "error: " + e + "\n";
    return std::nullopt;
  };
  OfflineInputs in;
  if (options.ip_family == "ipv4") {
    in.family = IpFamily::kIPv4;
  } else if (options.ip_family == "ipv6") {
    in.family = IpFamily::kIPv6;
  } else {
    errors.push_back("--ip-family: \"" + options.ip_family + "\" is not ipv4 or ipv6");
    return fail();
  }

  auto loaded = loadConfig(options.config_path, &errors);
  if (!loaded.ok()) return fail();
  in.config = loaded->config;
  for (const auto& w : loaded->warnings) err += "warning: " + w + "\n";
  if (!options.proxy_mode.empty()) in.config.mode = options.proxy_mode;
  in.mode = in.config.effectiveMode();
  if (in.mode != "iptables" && in.mode != "ipvs" && in.mode != "nftables") {
    errors.push_back("--proxy-mode: \"" + in.mode + "\" is not one of iptables, ipvs, nftables");
    return fail();
  }
  // upstream platformApplyDefaults: nftables mode defaults nodePortAddresses to the node's IPs.
  if (in.mode == "nftables" && in.config.node_port_addresses.empty()) in.config.node_port_addresses = {"primary"};

  auto node_name = resolveNodeName(options.hostname_override, in.config);
  if (!node_name.ok()) {
    errors.push_back(node_name.error().message);
    return fail();
  }
  in.node_name = *node_name;

  // Every state first, so that all problems of all files are reported together.
  const auto parse_start = TimingClock::now();
  for (const auto& path : options.from) in.states.push_back(loadManifests({path}, &errors));
  in.states.push_back(loadManifests(options.files, &errors));
  in.parse_ms = msSince(parse_start);
  if (!errors.empty()) return fail();

  // Startup happens at the first state: its Node supplies node IPs and pod CIDRs.
  const api::Node* startup_node = findNode(in.states.front(), in.node_name);
  auto facts = loadNodeFacts(options.node_facts_path, findNode(in.states.back(), in.node_name));
  if (!facts.ok()) {
    errors.push_back(facts.error().message);
    return fail();
  }
  in.node_facts = *facts;
  auto settings = config::buildProxierSettings(in.config, in.family, in.node_name, startup_node, in.node_facts);
  if (!settings.ok()) {
    errors.push_back(settings.error().message);
    return fail();
  }
  in.settings = std::move(settings->settings);
  in.settings_warnings = std::move(settings->warnings);
  return in;
}

std::optional<SimulatedSyncs> simulateSyncs(const RenderOptions& options, std::string& err, const PlanObserver& each_plan) {
  auto in = loadOfflineInputs(options, err);
  if (!in) return std::nullopt;
  if (in->mode != "iptables") {
    err += "error: --proxy-mode: rendering " + in->mode + " mode this way is not supported (only iptables)\n";
    return std::nullopt;
  }
  const config::ProxierSettings& settings = in->settings;

  iptables::ChainNameSet kernel_nat_chains;  // the per-service chains the emulated kernel holds
  std::optional<iptables::SteadyTime> last_cleanup;
  // Render assumes each earlier state was synced long enough before the next that neither the
  // large-cluster cleanup throttle nor the hourly full sync is in the way.
  iptables::SteadyTime now{};
  const auto step = settings.sync_period + std::chrono::seconds(1);
  iptables::IptablesPlan plan;
  double track_ms = 0, render_ms = 0;
  runSyncs(*in, options.full_sync, [&](const SyncStep& sync) {
    now += step;
    iptables::PlanInput input{.snapshot = &sync.snapshot,
                              .settings = &settings,
                              .full_sync = sync.full,
                              .changes = &sync.changes,
                              .existing_nat_chains = &kernel_nat_chains,
                              .now = now,
                              .last_stale_cleanup = last_cleanup};
    plan = iptables::planIptables(input);
    if (plan.stale_chains_checked) last_cleanup = now;
    // The emulated kernel's chains only matter to a later step (40k set inserts at 10k services).
    if (!sync.last) kernel_nat_chains = iptables::natChainsAfter(kernel_nat_chains, plan);
    if (each_plan) each_plan(plan);
  }, track_ms, render_ms);
  for (const auto& w : in->settings_warnings) err += "warning: " + w + "\n";
  if (options.timings) {
    err += fmt::format("timings: parse {:.1f} ms, track {:.1f} ms, render {:.1f} ms ({} bytes)\n", in->parse_ms,
                       track_ms, render_ms, plan.payloadSize());
  }
  return SimulatedSyncs{.family = in->family, .node_facts = std::move(in->node_facts), .plan = std::move(plan)};
}

std::optional<SimulatedNftablesSyncs> simulateNftablesSyncs(const RenderOptions& options, std::string& err,
                                                            const NftablesPlanObserver& each_plan) {
  auto in = loadOfflineInputs(options, err);
  if (!in) return std::nullopt;
  if (in->mode != "nftables") {
    err += "error: --proxy-mode: expected nftables, got " + in->mode + "\n";
    return std::nullopt;
  }
  const config::ProxierSettings& settings = in->settings;
  std::optional<nftables::NftablesPlan> plan;
  nftables::SteadyTime now{};
  double track_ms = 0, render_ms = 0;
  runSyncs(*in, options.full_sync, [&](const SyncStep& sync) {
    now += kOfflineSyncInterval;
    nftables::PlanInput input{.snapshot = &sync.snapshot,
                              .settings = &settings,
                              .service_cidrs = api::serviceCidrsOf(in->states[sync.index], in->family),
                              .full_sync = sync.full,
                              .changes = &sync.changes,
                              .existing = plan ? &plan->ruleset : nullptr,
                              .stale_chains = plan ? &plan->stale_chains : nullptr,
                              .first_sync = sync.index == 0,
                              .now = now};
    plan = nftables::planNftables(input);
    if (each_plan) each_plan(*plan);
  }, track_ms, render_ms);
  for (const auto& w : in->settings_warnings) err += "warning: " + w + "\n";
  if (options.timings) {
    err += fmt::format("timings: parse {:.1f} ms, track {:.1f} ms, render {:.1f} ms ({} rules, {} elements)\n",
                       in->parse_ms, track_ms, render_ms, plan->ruleset.ruleCount(), plan->ruleset.elementCount());
  }
  return SimulatedNftablesSyncs{.family = in->family, .node_facts = std::move(in->node_facts), .plan = std::move(*plan)};
}

}  // namespace kproxy::cli
