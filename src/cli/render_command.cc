#include "src/cli/render_command.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "modes/ipvs/planner.h"
#include "modes/nftables/planner.h"
#include "src/cli/cluster_input.h"
#include "src/cli/simulated_sync.h"
#include "src/config/proxier_settings.h"
#include "src/tracker/snapshot.h"

namespace kproxy::cli {
namespace {

// Writes `pieces` to DIR/NAME for each (NAME, pieces); "" or an error line.
std::string writeOutputFiles(const std::string& dir,
                             const std::vector<std::pair<std::string, std::vector<std::string_view>>>& files) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return "--output-dir: cannot create " + dir + ": " + ec.message();
  for (const auto& [name, pieces] : files) {
    const std::filesystem::path path = std::filesystem::path(dir) / name;
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    for (auto piece : pieces) file.write(piece.data(), static_cast<std::streamsize>(piece.size()));
    file.close();
    if (!file) return "--output-dir: cannot write " + path.string();
  }
  return "";
}

// The effective proxy mode of `options` (command line over the configuration file), or "" when
// the configuration cannot be read (simulateSyncs then reports why).
std::string effectiveMode(const RenderOptions& options) {
  if (!options.proxy_mode.empty()) return options.proxy_mode;
  std::vector<std::string> ignored;
  auto loaded = loadConfig(options.config_path, &ignored);
  return loaded.ok() ? loaded->config.effectiveMode() : "";
}

// `render --proxy-mode ipvs`. Every IPVS sync is a full sync, so earlier states (--from) only
// matter through the tracker (and the Node of the first state, as at startup).
int runRenderIpvs(const RenderOptions& options, const OutputSink& out, std::string& err) {
  std::vector<std::string> errors;
  auto fail = [&]() {
    for (const auto& e : errors) err += "error: " + e + "\n";
    return 2;
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
  cfg.mode = "ipvs";

  auto node_name = resolveNodeName(options.hostname_override, cfg);
  if (!node_name.ok()) {
    errors.push_back(node_name.error().message);
    return fail();
  }
  std::vector<api::ClusterState> states;
  for (const auto& path : options.from) states.push_back(loadManifests({path}, &errors));
  states.push_back(loadManifests(options.files, &errors));
  if (!errors.empty()) return fail();

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
  auto ipvs_settings = ipvs::ipvsSettingsFrom(cfg, family);
  if (!ipvs_settings.ok()) {
    errors.push_back(ipvs_settings.error().message);
    return fail();
  }

  tracker::ProxyStateTracker tracker({.family = family,
                                      .node_name = *node_name,
                                      .node_hints_enabled = settings->settings.prefer_same_node});
  api::ClusterState empty;
  const api::ClusterState* previous = &empty;
  tracker::ProxySnapshotPtr snapshot;
  for (const auto& state : states) {
    feedClusterState(tracker, *previous, state);
    previous = &state;
    snapshot = tracker.checkout().first;
  }
  const ipvs::IpvsPlan plan = ipvs::planIpvs(
      {.snapshot = snapshot.get(), .settings = &settings->settings, .ipvs = &*ipvs_settings});
  for (const auto& w : settings->warnings) err += "warning: " + w + "\n";

  const std::string ipvsadm = ipvs::formatIpvsadmSave(plan.state);
  const std::string ipset = ipvs::formatIpsetSave(plan.state);
  const std::string link = ipvs::formatKubeIpvs0Commands(plan.state);
  if (!options.output_dir.empty()) {
    std::string problem = writeOutputFiles(options.output_dir, {{"ipvsadm.txt", {ipvsadm}},
                                                                {"ipset.txt", {ipset}},
                                                                {"kube-ipvs0.txt", {link}},
                                                                {"iptables.txt", {plan.iptables_payload}}});
    if (!problem.empty()) {
      err += "error: " + problem + "\n";
      return 1;
    }
    return 0;
  }
  out("# ipvsadm -S -n: virtual and real servers (ipvsadm -R)\n");
  out(ipvsadm);
  out("# ipset save: IP sets (ipset restore)\n");
  out(ipset);
  out("# kube-ipvs0: dummy interface and its addresses (sh)\n");
  out(link);
  out(family == IpFamily::kIPv4 ? "# iptables-restore --noflush: rules of IPVS mode\n"
                                : "# ip6tables-restore --noflush: rules of IPVS mode\n");
  out(plan.iptables_payload);
  return 0;
}

// `render --proxy-mode nftables`.
int runRenderNftables(const RenderOptions& options, const OutputSink& out, std::string& err) {
  auto simulated = simulateNftablesSyncs(options, err);
  if (!simulated) return 2;
  const nftables::NftablesPlan& plan = simulated->plan;
  std::string text;
  if (options.transaction) {
    if (!plan.stale_chain_deletion.empty()) {
      text += "# transaction 1 of 2: delete the chains an earlier sync flushed as stale\n";
      plan.stale_chain_deletion.textTo(text);
      text += "# transaction 2 of 2: the ";
    } else {
      text += "# transaction: the ";
    }
    text += plan.full_sync ? "full sync\n" : "partial sync\n";
    plan.transaction.textTo(text);
  } else {
    plan.ruleset.dumpTo(text);
  }
  if (!options.output_dir.empty()) {
    std::string problem =
        writeOutputFiles(options.output_dir, {{options.transaction ? "transaction.txt" : "nftables.txt", {text}}});
    if (!problem.empty()) {
      err += "error: " + problem + "\n";
      return 1;
    }
    return 0;
  }
  out(text);
  return 0;
}

}  // namespace

int runRender(const RenderOptions& options, const OutputSink& out, std::string& err) {
  if (options.files.empty()) {
    err += "error: render: at least one -f FILE is required\n";
    return 2;
  }
  const std::string mode = effectiveMode(options);
  if (mode == "ipvs") return runRenderIpvs(options, out, err);
  if (mode == "nftables") return runRenderNftables(options, out, err);
  if (options.transaction) {
    err += "error: --transaction: only in nftables mode\n";
    return 2;
  }
  auto simulated = simulateSyncs(options, err);
  if (!simulated) return 2;
  if (!options.output_dir.empty()) {
    auto pieces = simulated->plan.payloadPieces();
    std::string problem = writeOutputFiles(options.output_dir, {{"iptables.txt", {pieces.begin(), pieces.end()}}});
    if (!problem.empty()) {
      err += "error: " + problem + "\n";
      return 1;
    }
    return 0;
  }
  for (auto piece : simulated->plan.payloadPieces()) out(piece);
  return 0;
}

}  // namespace kproxy::cli
