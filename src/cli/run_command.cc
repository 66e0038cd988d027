#include "src/cli/run_command.h"

#include <signal.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "src/cli/cluster_input.h"
#include "src/cli/live_proxy.h"
#include "src/cli/node_probe.h"
#include "src/cli/node_setup.h"
#include "src/util/log.h"
#include "src/watch/file_source.h"

namespace kproxy::cli {

int runDaemon(const RunOptions& options) {
  log::setVerbosity(options.verbosity);
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::vector<std::string> errors;
  auto fail = [&](int code) {
    for (const auto& e : errors) log::error("{}", e);
    return code;
  };
  auto loaded = loadConfig(options.config_path, &errors);
  if (!loaded.ok()) return fail(1);
  config::KubeProxyConfiguration cfg = loaded->config;
  for (const auto& w : loaded->warnings) log::warn("{}", w);
  if (!options.proxy_mode.empty()) cfg.mode = options.proxy_mode;
  if (cfg.effectiveMode() != "iptables") {
    errors.push_back("run: proxy mode \"" + cfg.effectiveMode() + "\" is not implemented yet (only iptables)");
    return fail(1);
  }
  if (options.objects.empty()) {
    errors.push_back("run: --objects FILE is required (the Kubernetes API source is not built yet)");
    return fail(1);
  }
  auto node_name = resolveNodeName(options.hostname_override, cfg);
  if (!node_name.ok()) {
    errors.push_back(node_name.error().message);
    return fail(1);
  }
  // The Node at start supplies node IPs and pod CIDRs, as upstream reads it once at start.
  std::vector<std::string> decode_errors;
  api::ClusterState initial = loadManifests(options.objects, &decode_errors);
  for (const auto& e : decode_errors) log::error("{}", e);

  auto env = openLiveEnvironment();
  if (!env.ok()) {
    errors.push_back(env.error().message);
    return fail(1);
  }
  log::info(0, "Using iptables back end: {}", (*env)->backend_reason);
  auto facts = probeNodeFacts(*(*env)->iptables, (*env)->nfacct.get(), *(*env)->sysctl);
  if (!facts.ok()) {
    errors.push_back(facts.error().message);
    return fail(1);
  }
  const api::Node* node = findNode(initial, *node_name);
  std::vector<std::string> warnings;
  std::vector<std::unique_ptr<FamilyProxy>> proxies;
  bool localhost_node_ports = false;
  for (IpFamily family : detectFamilies(**env)) {
    auto f = buildIptablesFamily(**env, cfg, family, *node_name, node, *facts, &warnings);
    if (!f.ok()) {
      errors.push_back(f.error().message);
      return fail(1);
    }
    localhost_node_ports |= (*f)->proxier->settings().localhost_node_ports;
    proxies.push_back(std::move(*f));
  }
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  auto setup = setUpNode(cfg, localhost_node_ports, *(*env)->sysctl, cpus > 0 ? static_cast<int>(cpus) : 1);
  if (!setup.ok()) {
    errors.push_back(setup.error().message);
    return fail(1);
  }
  for (const auto& w : setup->warnings) warnings.push_back(w);
  for (const auto& w : warnings) log::warn("{}", w);

  ProxyServer::Options server_options{.min_sync_period = cfg.iptables.min_sync_period,
                                      .sync_period = cfg.iptables.sync_period};
  ProxyServer server(std::move(proxies), server_options, (*env)->clock);
  server.start();
  watch::FileObjectSource source(options.objects, *node_name, server,
                                 [](const std::string& e) { log::error("objects: {}", e); });
  std::jthread source_thread([&source](std::stop_token stop) { source.run(stop); });

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  log::info(0, "Received signal {}, stopping (rules are left in place)", signal_number);
  source_thread.request_stop();
  source_thread.join();
  server.stop();
  return 0;
}

Verb addRunVerb(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Run the proxy daemon");
  cmd->add_option("--config", options->config_path, "KubeProxyConfiguration file");
  cmd->add_option("--objects", options->objects, "Manifest files to take objects from, re-read when they change");
  cmd->add_option("--hostname-override", options->hostname_override, "This node's name");
  cmd->add_option("--proxy-mode", options->proxy_mode, "iptables");
  cmd->add_option("-v,--v", options->verbosity, "Log verbosity");
  return {cmd, [options] { return runDaemon(*options); }};
}

}  // namespace kproxy::cli
