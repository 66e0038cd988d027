#include "src/cli/diff_command.h"

#include <cstdio>

#include "src/cli/cluster_input.h"
#include "src/cli/tracker_feed.h"

namespace kproxy::cli {

int runDiff(const DiffOptions& options, std::string& out, std::string& err) {
  std::vector<std::string> errors;
  auto fail = [&](int code) {
    for (const auto& e : errors) err += "error: " + e + "\n";
    out.clear();
    return code;
  };
  auto ctx = openLiveContext(options, &errors);
  if (!ctx) return fail(2);
  if (ctx->mode->live_drift == nullptr) {
    std::string message = "diff: proxy mode \"";
    message.append(ctx->mode->name).append("\" has no diff yet");
    errors.push_back(std::move(message));
    return fail(2);
  }
  const config::KubeProxyConfiguration& cfg = ctx->config;
  const std::string& node_name = ctx->node_name;
  const api::Node* node = ctx->node();
  LiveEnvironment& env = *ctx->env;

  bool differs = false;
  for (IpFamily family : ctx->families) {
    auto settings = config::buildProxierSettings(cfg, family, node_name, node, ctx->facts);
    if (!settings.ok()) {
      errors.push_back(settings.error().message);
      return fail(2);
    }
    settings->settings.facts.random_fully = env.iptables->hasRandomFully();
    tracker::ProxyStateTracker tracker({.family = family,
                                        .node_name = node_name,
                                        .node_hints_enabled = settings->settings.prefer_same_node});
    api::ClusterState empty;
    TrackerFeed feed({&tracker});
    watch::emitDifference(empty, ctx->state, feed, node_name);
    auto [snapshot, changes] = tracker.checkout();
    // The plan and the node, compared in process: no scratch namespace, so diff needs no more
    // privilege than reading the node's state (CAP_NET_ADMIN).
    auto drift = ctx->mode->live_drift({.config = cfg,
                                        .settings = settings->settings,
                                        .snapshot = *snapshot,
                                        .changes = changes,
                                        .clients = env.clients()});
    if (!drift.ok()) {
      errors.push_back(drift.error().message);
      return fail(2);
    }
    if (!drift->empty()) differs = true;
    out += *drift;
  }
  return differs ? 1 : 0;
}

Verb addDiffVerb(CLI::App& app) {
  auto options = std::make_shared<DiffOptions>();
  auto* cmd = app.add_subcommand("diff", "Show how this node's rules differ from a full sync to the given state");
  cmd->add_option("-f,--filename", options->files, "Manifests; - for stdin")->required()->allow_extra_args(false);
  cmd->add_option("--config", options->config_path, "KubeProxyConfiguration file");
  cmd->add_option("--hostname-override", options->hostname_override, "This node's name");
  cmd->add_option("--proxy-mode", options->proxy_mode, "iptables or ipvs (overrides the config file)");
  cmd->add_option("--ip-family", options->ip_family, "ipv4 or ipv6 (default: every family the node has)");
  return {cmd, [options] {
            std::string out, err;
            int code = runDiff(*options, out, err);
            writeStdout(out);
            std::fflush(stdout);
            std::fwrite(err.data(), 1, err.size(), stderr);
            return code;
          }};
}

}  // namespace kproxy::cli
