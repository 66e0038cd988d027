#include "src/cli/diff_command.h"

#include <iostream>
#include <set>

#include "modes/common/restore_text.h"
#include "modes/iptables/planner.h"
#include "modes/iptables/proxier.h"
#include "src/cli/cluster_input.h"
#include "src/cli/tracker_feed.h"

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

// The jumps a sync ensures in the built-in chains, in the order they have on a fresh node (each
// is inserted at position 1, so the last listed comes first).
std::vector<restore::ChainRules> plannedJumps() {
  std::vector<restore::ChainRules> out;
  const auto& rules = iptables::jumpRules();
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    restore::ChainRules* chain = nullptr;
    for (auto& c : out)
      if (c.table == it->table && c.chain == it->from) chain = &c;
    if (chain == nullptr) chain = &out.emplace_back(restore::ChainRules{.table = it->table, .chain = it->from, .builtin = true});
    std::string line = std::string("-A ") + it->from;
    for (const auto& arg : iptables::jumpRuleArgs(*it)) line += arg.find(' ') == std::string::npos ? " " + arg : " \"" + arg + "\"";
    chain->rules.push_back(line);
  }
  return out;
}

}  // namespace

std::vector<restore::ChainRules> kubeProxyChains(const restore::RestoreText& text) {
  std::vector<restore::ChainRules> out;
  for (const auto& table : text.tables) {
    for (const auto& chain : table.chains) {
      const std::string& name = chain.name;
      restore::ChainRules rules{.table = table.name, .chain = name, .builtin = isBuiltinChain(name)};
      if (rules.builtin) {
        for (const auto& rule : chain.rules) {
          const std::string target = jumpTarget(rule);
          if (target.rfind("KUBE-", 0) == 0 && target != "KUBE-KUBELET-CANARY") rules.rules.push_back(rule);
        }
        if (rules.rules.empty()) continue;
      } else {
        if (name.rfind("KUBE-", 0) != 0 || name == "KUBE-PROXY-CANARY" || name == "KUBE-KUBELET-CANARY" ||
            name == "KUBE-IPTABLES-HINT" || chain.deleted) {
          continue;
        }
        rules.rules = chain.rules;
      }
      out.push_back(std::move(rules));
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

    // The plan and the node, compared in process: no scratch namespace, so diff needs no more
    // privilege than reading the rules (CAP_NET_ADMIN).
    auto planned = restore::parseRestoreText(plan.payload());
    if (!planned.ok()) {
      errors.push_back(fam + ": the plan does not parse: " + planned.error().message);
      return fail(2);
    }
    std::vector<restore::ChainRules> desired = kubeProxyChains(*planned);
    // A sync creates every chain its jumps lead to, even one the payload leaves out (IPv6 has no
    // KUBE-FIREWALL rules, but kubelet's jumps to it are ensured, so the chain exists, empty).
    for (const auto& jump : iptables::jumpRules()) {
      bool declared = false;
      for (const auto& c : desired) declared = declared || (c.table == jump.table && c.chain == jump.to);
      if (!declared) desired.push_back({.table = jump.table, .chain = jump.to});
    }
    for (auto& jumps : plannedJumps()) desired.push_back(std::move(jumps));
    auto live_text = env.iptables->save(family, "");
    if (!live_text.ok()) {
      errors.push_back(fam + ": " + live_text.error().message);
      return fail(2);
    }
    auto live = restore::parseRestoreText(*live_text);
    if (!live.ok()) {
      errors.push_back(fam + ": cannot parse iptables-save output: " + live.error().message);
      return fail(2);
    }
    for (const auto& drift : restore::compareChains(kubeProxyChains(*live), desired, family, fam)) {
      differs = true;
      out += drift.diff;
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
