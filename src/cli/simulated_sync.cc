#include "src/cli/simulated_sync.h"

#include "src/cli/tracker_feed.h"

#include <chrono>
#include <fmt/format.h>
#include <map>
#include <set>

#include "modes/iptables/planner.h"
#include "src/cli/cluster_input.h"
#include "src/config/proxier_settings.h"
#include "src/tracker/snapshot.h"

namespace kproxy::cli {

void feedClusterState(tracker::ProxyStateTracker& tracker, const api::ClusterState& previous,
                      const api::ClusterState& current) {
  TrackerFeed feed({&tracker});
  watch::emitDifference(previous, current, feed, tracker.nodeName());
}

std::optional<SimulatedSyncs> simulateSyncs(const RenderOptions& options, std::string& err, const PlanObserver& each_plan) {
  std::vector<std::string> errors;
  auto fail = [&]() -> std::optional<SimulatedSyncs> {
    for (const auto& e : errors) err += "error: " + e + "\n";
    return std::nullopt;
  };

  IpFamily family;
  if (options.ip_family == "ipv4") {
    family = IpFamily::kIPv4;
  } else if (options.ip_family == "ipv6") {
    family = IpFamily::kIPv6;
  } else {
    errors.push_back("--ip-family: \"" + options.ip_family + "\" is not ipv4 or ipv6");
    return fail();
  }

  auto loaded = loadConfig(options.config_path, &errors);
  if (!loaded.ok()) return fail();
  config::KubeProxyConfiguration cfg = loaded->config;
  for (const auto& w : loaded->warnings) err += "warning: " + w + "\n";
  if (!options.proxy_mode.empty()) cfg.mode = options.proxy_mode;
  const std::string mode = cfg.effectiveMode();
  if (mode != "iptables") {
    if (mode == "ipvs" || mode == "nftables") {
      errors.push_back("--proxy-mode: rendering " + mode + " mode is not implemented yet (only iptables)");
    } else {
      errors.push_back("--proxy-mode: \"" + mode + "\" is not one of iptables, ipvs, nftables");
    }
    return fail();
  }

  auto node_name = resolveNodeName(options.hostname_override, cfg);
  if (!node_name.ok()) {
    errors.push_back(node_name.error().message);
    return fail();
  }

  // Every state first, so that all problems of all files are reported together.
  using TimingClock = std::chrono::steady_clock;
  auto msSince = [](TimingClock::time_point t) {
    return std::chrono::duration<double, std::milli>(TimingClock::now() - t).count();
  };
  const auto parse_start = TimingClock::now();
  std::vector<api::ClusterState> states;
  for (const auto& path : options.from) states.push_back(loadManifests({path}, &errors));
  states.push_back(loadManifests(options.files, &errors));
  const double parse_ms = msSince(parse_start);
  double track_ms = 0, render_ms = 0;
  if (!errors.empty()) return fail();

  // Startup happens at the first state: its Node supplies node IPs and pod CIDRs.
  const api::Node* startup_node = findNode(states.front(), *node_name);
  auto facts = loadNodeFacts(options.node_facts_path, findNode(states.back(), *node_name));
  if (!facts.ok()) {
    errors.push_back(facts.error().message);
    return fail();
  }
  auto settings = config::buildProxierSettings(cfg, family, *node_name, startup_node, *facts);
  if (!settings.ok()) {
    errors.push_back(settings.error().message);
    return fail();
  }

  tracker::ProxyStateTracker tracker({.family = family,
                                      .node_name = *node_name,
                                      .node_hints_enabled = settings->settings.prefer_same_node});
  api::ClusterState empty;
  const api::ClusterState* previous = &empty;
  iptables::ChainNameSet kernel_nat_chains;  // the per-service chains the emulated kernel holds
  std::optional<iptables::SteadyTime> last_cleanup;
  // Render assumes each earlier state was synced long enough before the next that neither the
  // large-cluster cleanup throttle nor the hourly full sync is in the way.
  iptables::SteadyTime now{};
  const auto step = settings->settings.sync_period + std::chrono::seconds(1);
  iptables::IptablesPlan plan;
  for (size_t i = 0; i < states.size(); ++i) {
    const auto track_start = TimingClock::now();
    feedClusterState(tracker, *previous, states[i]);
    previous = &states[i];
    auto [snapshot, changes] = tracker.checkout();
    track_ms += msSince(track_start);
    const bool last = i + 1 == states.size();
    // upstream: the first sync is full, and so is every sync after this node's labels changed.
    const bool full = i == 0 || changes.node_labels_changed || (last && options.full_sync);
    now += step;
    iptables::PlanInput input{.snapshot = snapshot.get(),
                              .settings = &settings->settings,
                              .full_sync = full,
                              .changes = &changes,
                              .existing_nat_chains = &kernel_nat_chains,
                              .now = now,
                              .last_stale_cleanup = last_cleanup};
    const auto render_start = TimingClock::now();
    plan = iptables::planIptables(input);
    render_ms += msSince(render_start);
    if (plan.stale_chains_checked) last_cleanup = now;
    // The emulated kernel's chains only matter to a later step (40k set inserts at 10k services).
    if (!last) kernel_nat_chains = iptables::natChainsAfter(kernel_nat_chains, plan);
    if (each_plan) each_plan(plan);
  }
  for (const auto& w : settings->warnings) err += "warning: " + w + "\n";
  if (options.timings) {
    err += fmt::format("timings: parse {:.1f} ms, track {:.1f} ms, render {:.1f} ms ({} bytes)\n", parse_ms, track_ms,
                       render_ms, plan.payloadSize());
  }
  return SimulatedSyncs{.family = family, .node_facts = std::move(*facts), .plan = std::move(plan)};
}

}  // namespace kproxy::cli
