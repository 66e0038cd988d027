#include "src/cli/diff_command.h"

#include <iostream>
#include <set>

#include "modes/common/restore_text.h"
#include "modes/iptables/planner.h"
#include "modes/iptables/proxier.h"
#include "netlink/scratch_netns.h"
#include "src/cli/cluster_input.h"
#include "src/cli/tracker_feed.h"
#include "src/util/text_diff.h"

namespace kproxy::cli {
namespace {

bool isBuiltinChain(const std::string& chain) {
  static const std::set<std::string> kBuiltin = {"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"};
  return kBuiltin.count(chain) != 0;
}

std::string jumpTarget(const std::string& rule) {
  auto words = restore::splitRuleWords(rule);
  for (size_t i = 0; i + 1 < words.size(); ++i)
    if (words[i] == "-j" || words[i] == "-g") return words[i + 1];
  return "";
}

}  // namespace

std::map<std::string, std::string> kubeProxyChains(const std::string& save_text) {
  std::map<std::string, std::string> out;
  auto parsed = restore::parseRestoreText(save_text);
  if (!parsed.ok()) return out;
  for (const auto& table : parsed->tables) {
    for (const auto& chain : table.chains) {
      const std::string& name = chain.name;
      std::string lines;
      if (isBuiltinChain(name)) {
        for (const auto& rule : chain.rules) {
          const std::string target = jumpTarget(rule);
          if (target.rfind("KUBE-", 0) == 0 && target != "KUBE-KUBELET-CANARY") lines += rule + "\n";
        }
        if (lines.empty()) continue;
      } else {
        if (name.rfind("KUBE-", 0) != 0 || name == "KUBE-PROXY-CANARY" || name == "KUBE-KUBELET-CANARY" ||
            name == "KUBE-IPTABLES-HINT") {
          continue;
        }
        for (const auto& rule : chain.rules) lines += rule + "\n";
      }
      out[table.name + "/" + name] = lines;
    }
  }
  return out;
}

int runDiff(const DiffOptions& options, std::string& out, std::string& err) {
  std::vector<std::string> errors;
  auto fail = [&](int code) {
    for (const auto& e : errors) err += "error: " + e + "\n";
    out.clear();
    return code;
  };
  auto ctx = openLiveContext(options, &errors);
  if (!ctx) return fail(2);
  if (ctx->mode->mode != modes::ProxyMode::kIptables) {
    errors.push_back("diff: proxy mode \"" + std::string(ctx->mode->name) + "\" is not supported yet (only iptables)");
    return fail(2);
  }
  const config::KubeProxyConfiguration& cfg = ctx->config;
  const std::string& node_name = ctx->node_name;
  const api::Node* node = ctx->node();
  LiveEnvironment& env = *ctx->env;

  bool differs = false;
  for (IpFamily family : ctx->families) {
    const std::string fam(ipFamilyName(family));
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
    iptables::ChainNameSet none;
    iptables::PlanInput input{.snapshot = snapshot.get(), .settings = &settings->settings, .full_sync = true,
                              .changes = &changes, .existing_nat_chains = &none};
    iptables::IptablesPlan plan = iptables::planIptables(input);

    std::vector<std::string> counters(settings->settings.facts.nfacct_counters.begin(),
                                      settings->settings.facts.nfacct_counters.end());
    auto desired_text = netlink::savedAfterRestoreInScratchNetns(
        env.iptables->backend(), family, counters, iptables::jumpRulesRestoreText() + plan.payload());
    if (!desired_text.ok()) {
      errors.push_back(fam + ": " + desired_text.error().message);
      return fail(2);
    }
    auto live_text = env.iptables->save(family, "");
    if (!live_text.ok()) {
      errors.push_back(fam + ": " + live_text.error().message);
      return fail(2);
    }
    auto desired = kubeProxyChains(*desired_text);
    auto live = kubeProxyChains(*live_text);
    std::set<std::string> keys;
    for (const auto& [k, v] : desired) keys.insert(k);
    for (const auto& [k, v] : live) keys.insert(k);
    for (const auto& key : keys) {
      const std::string& a = live.count(key) ? live[key] : std::string();
      const std::string& b = desired.count(key) ? desired[key] : std::string();
      const bool only_live = live.count(key) && !desired.count(key);
      const bool only_plan = desired.count(key) && !live.count(key);
      if (a == b && !only_live && !only_plan) continue;
      differs = true;
      std::string note = only_live ? " (chain not in the plan)" : only_plan ? " (chain missing on the node)" : "";
      std::string d = unifiedDiff(a, b, "live " + fam + " " + key + note, "plan " + fam + " " + key);
      if (d.empty()) d = "--- live " + fam + " " + key + note + "\n+++ plan " + fam + " " + key + "\n";
      out += d;
    }
  }
  return differs ? 1 : 0;
}

Verb addDiffVerb(CLI::App& app) {
  auto options = std::make_shared<DiffOptions>();
  auto* cmd = app.add_subcommand("diff", "Show how this node's rules differ from a full sync to the given state");
  cmd->add_option("-f,--filename", options->files, "Manifests; - for stdin")->required()->allow_extra_args(false);
  cmd->add_option("--config", options->config_path, "KubeProxyConfiguration file");
  cmd->add_option("--hostname-override", options->hostname_override, "This node's name");
  cmd->add_option("--proxy-mode", options->proxy_mode, "iptables (overrides the config file)");
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
