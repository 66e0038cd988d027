#include "src/cli/live_commands.h"

#include <unistd.h>

#include <iostream>

#include "modes/common/restore_text.h"
#include "modes/iptables/chain_names.h"
#include "modes/iptables/proxier.h"
#include "src/cli/cluster_input.h"
#include "src/cli/ipvs_live.h"
#include "src/cli/live_proxy.h"
#include "src/cli/node_probe.h"
#include "src/cli/node_setup.h"
#include "src/util/log.h"

namespace kproxy::cli {
namespace {

int cpuCount() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace

int runSync(const SyncOptions& options, std::string& err) {
  log::setVerbosity(options.verbosity);
  std::vector<std::string> errors;
  auto fail = [&](int code) {
    for (const auto& e : errors) err += "error: " + e + "\n";
    return code;
  };
  auto loaded = loadConfig(options.config_path, &errors);
  if (!loaded.ok()) return fail(2);
  config::KubeProxyConfiguration cfg = loaded->config;
  if (!options.proxy_mode.empty()) cfg.mode = options.proxy_mode;
  if (cfg.effectiveMode() == "ipvs") return runSyncIpvs(options, err);
  if (cfg.effectiveMode() != "iptables") {
    errors.push_back("sync: proxy mode \"" + cfg.effectiveMode() + "\" is not implemented yet (iptables, ipvs)");
    return fail(2);
  }
  auto node_name = resolveNodeName(options.hostname_override, cfg);
  if (!node_name.ok()) {
    errors.push_back(node_name.error().message);
    return fail(2);
  }
  api::ClusterState state = loadManifests(options.files, &errors);
  if (!errors.empty()) return fail(2);

  auto env = openLiveEnvironment();
  if (!env.ok()) {
    errors.push_back(env.error().message);
    return fail(1);
  }
  log::info(1, "iptables back end: {}", (*env)->backend_reason);
  auto facts = probeNodeFacts(*(*env)->iptables, (*env)->nfacct.get(), *(*env)->sysctl);
  if (!facts.ok()) {
    errors.push_back(facts.error().message);
    return fail(1);
  }
  std::vector<IpFamily> families = detectFamilies(**env);
  if (options.ip_family == "ipv4") families = {IpFamily::kIPv4};
  if (options.ip_family == "ipv6") families = {IpFamily::kIPv6};

  const api::Node* node = findNode(state, *node_name);
  std::vector<std::string> warnings;
  std::vector<std::unique_ptr<FamilyProxy>> proxies;
  bool localhost_node_ports = false;
  for (IpFamily family : families) {
    auto f = buildIptablesFamily(**env, cfg, family, *node_name, node, *facts, &warnings);
    if (!f.ok()) {
      errors.push_back(f.error().message);
      return fail(2);
    }
    localhost_node_ports |= (*f)->proxier->settings().localhost_node_ports;
    proxies.push_back(std::move(*f));
  }
  auto setup = setUpNode(cfg, localhost_node_ports, *(*env)->sysctl, cpuCount());
  if (!setup.ok()) {
    errors.push_back(setup.error().message);
    return fail(1);
  }
  for (auto& w : setup->warnings) warnings.push_back(w);
  for (const auto& w : warnings) err += "warning: " + w + "\n";

  ProxyServer server(std::move(proxies), {}, (*env)->clock);
  api::ClusterState empty;
  watch::emitDifference(empty, state, server, *node_name);
  for (auto& f : server.families()) {
    if (auto s = f->proxier->ensureCanaries(); !s.ok()) warnings.push_back(s.error().message);
  }
  if (auto s = server.syncAllNow(); !s.ok()) {
    errors.push_back(s.error().message);
    return fail(1);
  }
  return 0;
}

void deleteRuleEveryCopy(netlink::IptablesRestore& iptables, IpFamily family, std::string_view table,
                         std::string_view chain, const std::vector<std::string>& args, CleanupReport& report) {
  for (int i = 0; i < 16; ++i) {
    auto exists = iptables.ruleExists(family, table, chain, args);
    if (!exists.ok() || !*exists) return;
    if (auto s = iptables.deleteRule(family, table, chain, args); !s.ok()) {
      report.errors.push_back(std::string(ipFamilyName(family)) + ": " + s.error().message);
      return;
    }
  }
}

void deleteOwnedChains(netlink::IptablesRestore& iptables, IpFamily family, std::string_view table,
                       const std::function<bool(const std::string&)>& owned, CleanupReport& report) {
  const std::string fam(ipFamilyName(family));
  auto saved = iptables.save(family, table);
  if (!saved.ok()) {
    report.errors.push_back(fam + ": " + saved.error().message);
    return;
  }
  auto parsed = restore::parseRestoreText(*saved);
  if (!parsed.ok()) {
    report.errors.push_back(fam + " " + std::string(table) + ": cannot parse iptables-save output: " +
                            parsed.error().message);
    return;
  }
  const restore::Table* t = parsed->find(table);
  if (t == nullptr) return;
  std::vector<std::string> ours;
  for (const auto& chain : t->chains) {
    if (owned(chain.name)) ours.push_back(chain.name);
  }
  if (ours.empty()) return;
  std::string input = "*" + std::string(table) + "\n";
  for (const auto& c : ours) input += ":" + c + " - [0:0]\n";
  for (const auto& c : ours) input += "-X " + c + "\n";
  input += "COMMIT\n";
  if (auto s = iptables.restore(family, {input}); !s.ok()) {
    report.errors.push_back(fam + " " + std::string(table) + ": " + s.error().message);
  }
}

CleanupReport cleanupIptables(netlink::IptablesRestore& iptables, const std::vector<IpFamily>& families) {
  CleanupReport report;
  auto owned = [](const std::string& n) {
    using namespace iptables;
    return isServiceChainName(n) || n == kServicesChain || n == kNodePortsChain || n == kPostroutingChain ||
           n == kMarkMasqChain || n == kExternalServicesChain || n == kForwardChain || n == kProxyFirewallChain ||
           n == kProxyCanaryChain;
  };
  for (IpFamily family : families) {
    // Unlink our chains first: a chain still jumped to cannot be deleted.
    for (const auto& rule : iptables::jumpRules()) {
      if (rule.kubelet) continue;
      deleteRuleEveryCopy(iptables, family, rule.table, rule.from, iptables::jumpRuleArgs(rule), report);
    }
    for (const char* table : {"nat", "filter", "mangle"}) deleteOwnedChains(iptables, family, table, owned, report);
  }
  return report;
}

Verb addSyncVerb(CLI::App& app) {
  auto options = std::make_shared<SyncOptions>();
  auto* cmd = app.add_subcommand("sync", "Program one full sync of the given cluster state into this network namespace");
  cmd->add_option("-f,--filename", options->files, "Manifests; - for stdin")->required()->allow_extra_args(false);
  cmd->add_option("--config", options->config_path, "KubeProxyConfiguration file");
  cmd->add_option("--hostname-override", options->hostname_override, "This node's name");
  cmd->add_option("--proxy-mode", options->proxy_mode, "iptables or ipvs (overrides the config file)");
  cmd->add_option("--ip-family", options->ip_family, "ipv4 or ipv6 (default: every family the node has)");
  cmd->add_option("-v,--v", options->verbosity, "Log verbosity");
  return {cmd, [options] {
            std::string err;
            int code = runSync(*options, err);
            std::fwrite(err.data(), 1, err.size(), stderr);
            return code;
          }};
}

int runCleanup(std::string& err) {
  auto env = openLiveEnvironment();
  if (!env.ok()) {
    err += "error: " + env.error().message + "\n";
    return 1;
  }
  const auto families = detectFamilies(**env);
  // The two modes share chain names (KUBE-SERVICES, KUBE-MARK-MASQ, ...) and each mode's chains go
  // in one atomic restore per table, so a chain of one mode can still be jumped to from a chain of
  // the other and the whole restore fails as busy. A second pass, once the other mode's chains are
  // gone, removes what the first could not; only the last pass's errors count.
  CleanupReport report;
  for (int pass = 0; pass < 2; ++pass) {
    report = cleanupIpvs(*(*env)->iptables, families);
    auto iptables_report = cleanupIptables(*(*env)->iptables, families);
    report.errors.insert(report.errors.end(), iptables_report.errors.begin(), iptables_report.errors.end());
    if (report.errors.empty()) break;
  }
  for (const auto& e : report.errors) err += "error: " + e + "\n";
  return report.errors.empty() ? 0 : 1;
}

Verb addCleanupVerb(CLI::App& app) {
  auto* cmd = app.add_subcommand("cleanup", "Remove every chain and rule kproxy or kube-proxy created, and exit");
  return {cmd, [] {
            std::string err;
            const int code = runCleanup(err);
            std::cerr << err;
            return code;
          }};
}

Verb addFactsVerb(CLI::App& app) {
  auto* cmd = app.add_subcommand("facts", "Print this node's probed facts in render's --node-facts format");
  return {cmd, [] {
            auto env = openLiveEnvironment();
            if (!env.ok()) {
              std::cerr << "error: " << env.error().message << "\n";
              return 1;
            }
            auto facts = probeNodeFacts(*(*env)->iptables, (*env)->nfacct.get(), *(*env)->sysctl);
            if (!facts.ok()) {
              std::cerr << "error: " << facts.error().message << "\n";
              return 1;
            }
            std::cout << config::encodeNodeFacts(*facts);
            return 0;
          }};
}

}  // namespace kproxy::cli
