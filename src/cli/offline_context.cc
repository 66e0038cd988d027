#include "src/cli/offline_context.h"

#include <fmt/format.h>

#include <chrono>

#include "src/cli/cluster_input.h"
#include "src/cli/tracker_feed.h"
#include "src/config/proxier_settings.h"

namespace kproxy::cli {

void feedClusterState(tracker::ProxyStateTracker& tracker, const api::ClusterState& previous,
                      const api::ClusterState& current) {
  TrackerFeed feed({&tracker});
  watch::emitDifference(previous, current, feed, tracker.nodeName());
}

std::optional<OfflineSyncs> runOfflineSyncs(const RenderOptions& options, bool for_trace, std::string& err,
                                            const OfflineSyncObserver& after_each_sync) {
  std::vector<std::string> errors;
  auto fail = [&]() -> std::optional<OfflineSyncs> {
    for (const auto& e : errors) err += "error: " + e + "\n";
    return std::nullopt;
  };

  OfflineSyncs out;
  if (options.ip_family == "ipv4") {
    out.family = IpFamily::kIPv4;
  } else if (options.ip_family == "ipv6") {
    out.family = IpFamily::kIPv6;
  } else {
    errors.push_back("--ip-family: \"" + options.ip_family + "\" is not ipv4 or ipv6");
    return fail();
  }

  auto loaded = loadConfig(options.config_path, &errors);
  if (!loaded.ok()) return fail();
  config::KubeProxyConfiguration cfg = loaded->config;
  for (const auto& w : loaded->warnings) err += "warning: " + w + "\n";
  if (!options.proxy_mode.empty()) cfg.mode = options.proxy_mode;
  config::applyModeDefaults(cfg);
  auto mode = modes::findMode(cfg.effectiveMode());
  if (!mode.ok()) {
    errors.push_back((options.proxy_mode.empty() ? "mode: " : "--proxy-mode: ") + mode.error().message);
    return fail();
  }
  out.mode = *mode;

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
  auto settings = config::buildProxierSettings(cfg, out.family, *node_name, startup_node, *facts);
  if (!settings.ok()) {
    errors.push_back(settings.error().message);
    return fail();
  }
  auto proxier = out.mode->build_offline(cfg, settings->settings, for_trace);
  if (!proxier.ok()) {
    errors.push_back(proxier.error().message);
    return fail();
  }
  out.proxier = std::move(*proxier);

  tracker::ProxyStateTracker tracker({.family = out.family,
                                      .node_name = *node_name,
                                      .node_hints_enabled = settings->settings.prefer_same_node});
  api::ClusterState empty;
  const api::ClusterState* previous = &empty;
  for (size_t i = 0; i < states.size(); ++i) {
    const auto track_start = TimingClock::now();
    feedClusterState(tracker, *previous, states[i]);
    previous = &states[i];
    auto [snapshot, changes] = tracker.checkout();
    track_ms += msSince(track_start);
    const bool last = i + 1 == states.size();
    // upstream: the first sync is full, and so is every sync after this node's labels changed.
    const bool full = i == 0 || changes.node_labels_changed || (last && options.full_sync);
    const auto render_start = TimingClock::now();
    out.proxier->sync(*snapshot, changes, full);
    render_ms += msSince(render_start);
    if (after_each_sync) after_each_sync(*out.proxier);
  }
  for (const auto& w : settings->warnings) err += "warning: " + w + "\n";
  if (options.timings) {
    err += fmt::format("timings: parse {:.1f} ms, track {:.1f} ms, render {:.1f} ms ({} bytes)\n", parse_ms, track_ms,
                       render_ms, out.proxier->renderedSize());
  }
  out.node_facts = std::move(*facts);
  return out;
}

}  // namespace kproxy::cli
