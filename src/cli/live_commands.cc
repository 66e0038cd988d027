#include "src/cli/live_commands.h"

#include <unistd.h>

#include <iostream>

#include "src/cli/node_probe.h"
#include "src/cli/node_setup.h"
#include "src/util/log.h"
#include "src/watch/object_events.h"

namespace kproxy::cli {
namespace {

int cpuCount() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

int printErrors(const std::vector<std::string>& errors, std::string& err) {
  for (const auto& e : errors) err += "error: " + e + "\n";
  return 2;
}

}  // namespace

int runSync(const SyncOptions& options, std::string& err) {
  log::setVerbosity(options.verbosity);
  std::vector<std::string> errors;
  auto ctx = openLiveContext(options.live, &errors);
  if (!ctx) return printErrors(errors, err);
  log::info(1, "iptables back end: {}", ctx->env->backend_reason);

  std::vector<std::string> warnings = ctx->warnings;
  auto families = buildFamilyProxies(*ctx->env, ctx->config, *ctx->mode, ctx->families, ctx->node_name, ctx->node(),
                                     ctx->facts, &warnings);
  if (!families.ok()) return printErrors({families.error().message}, err);
  auto setup = setUpNodeCommon(ctx->config, *ctx->env->sysctl, cpuCount());
  if (!setup.ok()) return printErrors({setup.error().message}, err);
  for (auto& w : setup->warnings) warnings.push_back(w);
  for (const auto& w : warnings) err += "warning: " + w + "\n";

  proxy::ProxyServer server(std::move(*families), {}, ctx->env->clock);
  if (auto s = server.setUpNode(); !s.ok()) return printErrors({s.error().message}, err);
  api::ClusterState empty;
  watch::emitDifference(empty, ctx->state, server, ctx->node_name);
  const Status synced = server.syncAllNow();
  if (options.verbosity >= 1) {
    for (const auto& f : server.families()) err += f->proxier->lastSyncDetails();
  }
  if (!synced.ok()) return printErrors({synced.error().message}, err);
  return 0;
}

Verb addSyncVerb(CLI::App& app) {
  auto options = std::make_shared<SyncOptions>();
  auto* cmd = app.add_subcommand("sync", "Program one full sync of the given cluster state into this network namespace");
  cmd->add_option("-f,--filename", options->live.files, "Manifests; - for stdin")->required()->allow_extra_args(false);
  cmd->add_option("--config", options->live.config_path, "KubeProxyConfiguration file");
  cmd->add_option("--hostname-override", options->live.hostname_override, "This node's name");
  cmd->add_option("--proxy-mode", options->live.proxy_mode, "iptables or ipvs (overrides the config file)");
  cmd->add_option("--ip-family", options->live.ip_family, "ipv4 or ipv6 (default: every family the node has)");
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
  auto clients = env->clients();
  const auto errors = modes::cleanupAllModes(clients, detectFamilies(*env));
  if (errors.empty()) return 0;
  return printErrors(errors, err);
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
            auto facts = probeNodeFacts(*env->iptables, env->nfacct.get(), *env->sysctl);
            if (!facts.ok()) {
              std::cerr << "error: " << facts.error().message << "\n";
              return 2;
            }
            std::cout << config::encodeNodeFacts(*facts);
            return 0;
          }};
}

}  // namespace kproxy::cli
