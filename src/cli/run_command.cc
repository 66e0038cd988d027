#include "src/cli/run_command.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "src/cli/cluster_input.h"
#include "src/cli/live_context.h"
#include "src/cli/node_probe.h"
#include "src/cli/node_setup.h"
#include "src/config/flags.h"
#include "src/config/proxier_settings.h"
#include "src/proxy/health_state.h"
#include "src/proxy/healthcheck.h"
#include "src/proxy/metrics.h"
#include "src/server/healthz_server.h"
#include "src/server/metrics_server.h"
#include "src/util/log.h"
#include "src/util/unique_handle.h"
#include "src/watch/api_source.h"
#include "src/watch/deferred_sink.h"
#include "src/watch/file_source.h"
#include "src/watch/kubeconfig.h"

namespace kproxy::cli {
namespace {

// upstream utilerrors.Aggregate: one error as is, several as "[a, b]".
std::string aggregate(const std::vector<Error>& errors) {
  if (errors.size() == 1) return errors.front().message;
  std::string out = "[";
  for (size_t i = 0; i < errors.size(); ++i) out += (i == 0 ? "" : ", ") + errors[i].message;
  return out + "]";
}

int fail(const std::string& message) {
  std::fprintf(stderr, "Error: %s\n", message.c_str());
  return 1;
}

// verflag: "--version" prints "Kubernetes <version>", "--version=raw" the version.Info struct.
int printVersion(const std::string& how) {
  if (how == "raw") {
    std::printf(
        "version.Info{Major:\"1\", Minor:\"33\", GitVersion:\"%s\", GitCommit:\"\", GitTreeState:\"\", "
        "BuildDate:\"\", GoVersion:\"\", Compiler:\"gcc\", Platform:\"linux/%s\"}\n",
        kKubernetesGitVersion,
#if defined(__aarch64__)
        "arm64"
#else
        "amd64"
#endif
    );
  } else {
    std::printf("Kubernetes %s\n", kKubernetesGitVersion);
  }
  return 0;
}

// /configz: the effective configuration as JSON, converted from the YAML --write-config-to writes.
void appendJson(std::string& out, const YAML::Node& node) {
  auto quote = [&](const std::string& s) {
    out.push_back('"');
    for (char c : s) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out.push_back(c);
      }
    }
    out.push_back('"');
  };
  if (node.IsMap()) {
    out.push_back('{');
    bool first = true;
    for (const auto& kv : node) {
      if (!first) out.push_back(',');
      first = false;
      quote(kv.first.as<std::string>());
      out.push_back(':');
      appendJson(out, kv.second);
    }
    out.push_back('}');
  } else if (node.IsSequence()) {
    out.push_back('[');
    for (size_t i = 0; i < node.size(); ++i) {
      if (i != 0) out.push_back(',');
      appendJson(out, node[i]);
    }
    out.push_back(']');
  } else if (node.IsNull()) {
    out += "null";
  } else {
    const std::string s = node.Scalar();
    const bool quoted = node.Tag() == "!";
    const bool number = !quoted && !s.empty() &&
                        s.find_first_not_of("-0123456789.") == std::string::npos &&
                        std::count(s.begin(), s.end(), '.') <= 1 && s != "-" && s != ".";
    if (!quoted && (s == "true" || s == "false" || number)) {
      out += s;
    } else {
      quote(s);
    }
  }
}

std::string configzJson(const config::KubeProxyConfiguration& cfg) {
  std::string out = "{\"kubeproxy.config.k8s.io\":";
  try {
    appendJson(out, YAML::Load(config::encodeConfiguration(cfg)));
  } catch (const std::exception&) {
    out += "{}";
  }
  return out + "}";
}

Status writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return Error("open " + path + ": cannot write");
  return okStatus();
}

// What ends the daemon besides a signal: the first request wins.
class ExitRequest {
 public:
  ExitRequest() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  void request(int code, const std::string& message) {
    {
      std::lock_guard lock(mu_);
      if (requested_) return;
      requested_ = true;
      code_ = code;
      message_ = message;
    }
    const uint64_t one = 1;
    ssize_t n = write(fd_.get(), &one, sizeof(one));
    (void)n;
  }
  int fd() const { return fd_.get(); }
  int code() const {
    std::lock_guard lock(mu_);
    return code_;
  }
  std::string message() const {
    std::lock_guard lock(mu_);
    return message_;
  }

 private:
  UniqueFd fd_;
  mutable std::mutex mu_;
  bool requested_ = false;
  int code_ = 0;
  std::string message_;
};

// upstream NodeManager: kube-proxy reads the node's IPs (and, in NodeCIDR mode, its pod CIDRs)
// once at start and exits when they change or the Node goes away, so the DaemonSet restarts it
// with fresh values.
struct NodeAtStart {
  bool known = false;
  std::vector<IpAddress> ips;
  std::vector<std::string> pod_cidrs;
  bool watch_pod_cidrs = false;
};

// The daemon's observer: healthz state, metrics, health-check node ports, node changes.
class DaemonObserver final : public proxy::ProxyServerObserver {
 public:
  DaemonObserver(const Clock& clock, proxy::ProxyHealthState& health, proxy::ProxyMetrics& metrics,
                 proxy::ServiceHealthServer& health_checks, NodeAtStart node, ExitRequest& exit)
      : clock_(clock), health_(health), metrics_(metrics), health_checks_(health_checks), node_(std::move(node)),
        exit_(exit) {}

  void onSyncLoopStarted(IpFamily family) override {
    health_.updated(family);
    metrics_.syncQueued(family, clock_.wallNow());
  }
  void onSyncQueued(IpFamily family) override {
    health_.queuedUpdate(family);
    metrics_.syncQueued(family, clock_.wallNow());
  }
  void onServiceChange(IpFamily, size_t pending) override { metrics_.serviceChange(pending); }
  void onEndpointSliceChange(IpFamily, bool pending) override { metrics_.endpointSliceChange(pending); }
  void onChangesCheckedOut(IpFamily) override { metrics_.changesCheckedOut(); }

  void onNode(const api::Node* node) override {
    if (node == nullptr) {
      health_.syncNode(false);
      if (node_.known) exit_.request(1, "Node is being deleted");
      return;
    }
    health_.syncNode(proxy::nodeEligibleForTraffic(*node));
    if (!node_.known) return;
    if (node_.watch_pod_cidrs && node->pod_cidrs != node_.pod_cidrs) {
      exit_.request(1, "PodCIDRs changed for the node");
      return;
    }
    if (config::nodeHostIps(*node) != node_.ips) exit_.request(1, "NodeIPs changed for the node");
  }

  void onSync(const proxy::SyncOutcome& outcome) override {
    if (!outcome.result.ok()) {
      metrics_.syncFailed(outcome.family, outcome.partial, outcome.duration);
      return;
    }
    metrics_.syncSucceeded(outcome.family, *outcome.result, outcome.changes, clock_.wallNow());
    health_.updated(outcome.family);
    for (const auto& e : health_checks_.syncServices(outcome.family, proxy::healthCheckNodePorts(outcome.snapshot))) {
      log::error("Failed to start healthcheck: {}", e);
    }
    health_checks_.syncEndpoints(outcome.family, proxy::localReadyEndpoints(outcome.snapshot));
  }

 private:
  const Clock& clock_;
  proxy::ProxyHealthState& health_;
  proxy::ProxyMetrics& metrics_;
  proxy::ServiceHealthServer& health_checks_;
  NodeAtStart node_;
  ExitRequest& exit_;
};

enum class NodeWait { kReady, kSignal, kTimeout };

// upstream NodeManager: poll (every second, up to 5 minutes) until this node's Node exists
// with addresses, and with PodCIDRs in NodeCIDR mode. A stop signal ends the wait.
NodeWait waitForNode(watch::DeferredSink& events, const std::string& node_name, bool need_pod_cidrs, int signal_fd,
                     std::shared_ptr<const api::Node>* node) {
  auto ready = [need_pod_cidrs](const api::Node& n) {
    return !config::nodeHostIps(n).empty() && (!need_pod_cidrs || !n.pod_cidrs.empty());
  };
  std::stop_source never;
  for (int second = 0; second < 300; ++second) {
    if (auto n = events.waitForNode(ready, std::chrono::seconds(1), never.get_token())) {
      *node = std::move(n);
      return NodeWait::kReady;
    }
    pollfd pfd{signal_fd, POLLIN, 0};
    if (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) {
      signalfd_siginfo info{};
      ssize_t r = read(signal_fd, &info, sizeof(info));
      (void)r;
      log::info(0, "Received signal {} while waiting for node {}, stopping", info.ssi_signo, node_name);
      return NodeWait::kSignal;
    }
    if (second % 10 == 9) log::info(0, "Waiting for node {} to exist with addresses", node_name);
  }
  return NodeWait::kTimeout;
}

int cpuCount() {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  return cpus > 0 ? static_cast<int>(cpus) : 1;
}

// upstream: platformCleanup with cleanupAndExit, i.e. every mode's leftovers.
int runCleanup() {
  auto env = openLiveEnvironment();
  auto clients = env->clients();
  const auto errors = modes::cleanupAllModes(clients, detectFamilies(*env));
  for (const auto& e : errors) log::error("{}", e);
  if (!errors.empty()) return fail("encountered an error while tearing down rules");
  return 0;
}

// upstream --init-only: the privileged node setup (conntrack, and what each family's proxier
// needs of the node: sysctls, IPVS), then exit.
int runInitOnly(const config::KubeProxyConfiguration& cfg, const modes::ModeEntry& mode) {
  auto node_name = resolveNodeName("", cfg);
  if (!node_name.ok()) return fail(node_name.error().message);
  auto env = openLiveEnvironment();
  auto facts = probeNodeFacts(*env->iptables, env->nfacct.get(), *env->sysctl);
  if (!facts.ok()) return fail(facts.error().message);
  std::vector<std::string> warnings;
  auto families = buildFamilyProxies(*env, cfg, mode, detectFamilies(*env), *node_name, nullptr, *facts, &warnings);
  if (!families.ok()) return fail("unable to create proxier: " + families.error().message);
  auto setup = setUpNodeCommon(cfg, *env->sysctl, cpuCount());
  if (!setup.ok()) return fail(setup.error().message);
  for (const auto& w : setup->warnings) log::warn("{}", w);
  for (auto& f : *families) {
    if (auto s = f->proxier->setUpNode(); !s.ok()) return fail("unable to create proxier: " + s.error().message);
  }
  log::info(0, "System initialized and --init-only specified");
  return 0;
}

// upstream applies oomScoreAdj to itself at Run; failures are only logged.
void applyOomScoreAdj(int32_t value) {
  std::ofstream out("/proc/self/oom_score_adj");
  out << value;
  out.close();
  if (!out) log::info(2, "Failed to apply OOMScore {}", value);
}

int runDaemon(const config::KubeProxyFlags& flags, const config::KubeProxyConfiguration& cfg,
              const modes::ModeEntry& mode) {
  auto node_name = resolveNodeName("", cfg);
  if (!node_name.ok()) return fail(node_name.error().message);

  // Block the stop signals in every thread; the main loop reads them from a signalfd.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // A peer that closes a connection (API server, scraper) must not kill the daemon.
  signal(SIGPIPE, SIG_IGN);
  UniqueFd signal_fd(signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));

  // upstream Options.initWatcher: a write to or rename of the configuration file ends kube-proxy.
  UniqueFd config_watch;
  if (!flags.config_file.empty() && flags.config_file != "-") {
    config_watch = UniqueFd(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!config_watch || inotify_add_watch(config_watch.get(), flags.config_file.c_str(), IN_MODIFY | IN_MOVE_SELF) < 0) {
      return fail("cannot watch " + flags.config_file + ": " + std::strerror(errno));
    }
  }

  // ----- Where the objects come from, and this node's Node at start. -----
  // With the API, the source starts now and its events are held (DeferredSink) until the
  // proxy server exists: the Node it delivers configures the proxiers.
  api::ClusterState initial;
  std::unique_ptr<watch::DeferredSink> api_events;
  std::unique_ptr<watch::ApiObjectSource> api_source;
  std::jthread source_thread;  // joined before everything the source feeds goes away
  std::shared_ptr<const api::Node> api_node;
  if (!flags.objects.empty()) {
    std::vector<std::string> decode_errors;
    initial = loadManifests(flags.objects, &decode_errors);
    for (const auto& e : decode_errors) log::error("{}", e);
  } else {
    auto api_config = watch::buildApiClientConfig(cfg.client_connection.kubeconfig, flags.master);
    if (!api_config.ok()) return fail(api_config.error().message);
    api_config->user_agent = std::string("kube-proxy/") + kKubernetesGitVersion + " (kproxy)";
    log::info(0, "Using the Kubernetes API at {}", api_config->server);
    api_events = std::make_unique<watch::DeferredSink>(*node_name);
    api_source = std::make_unique<watch::ApiObjectSource>(std::move(*api_config), *node_name, *api_events,
                                                          [](const std::string& e) { log::error("{}", e); });
    source_thread = std::jthread([source = api_source.get()](std::stop_token stop) { source->run(stop); });
    switch (waitForNode(*api_events, *node_name, cfg.effectiveDetectLocalMode() == "NodeCIDR", signal_fd.get(),
                        &api_node)) {
      case NodeWait::kReady:
        break;
      case NodeWait::kSignal:
        return 0;
      case NodeWait::kTimeout:
        return fail("timed out waiting for node \"" + *node_name + "\" to exist with addresses" +
                    (cfg.effectiveDetectLocalMode() == "NodeCIDR" ? " and PodCIDRs" : ""));
    }
  }
  const api::Node* node = api_node ? api_node.get() : findNode(initial, *node_name);

  auto env = openLiveEnvironment();
  log::info(0, "Using iptables back end: {}", env->backend_reason);
  auto facts = probeNodeFacts(*env->iptables, env->nfacct.get(), *env->sysctl);
  if (!facts.ok()) return fail(facts.error().message);
  std::vector<std::string> warnings;
  const std::vector<IpFamily> families = detectFamilies(*env);
  log::info(0, "kube-proxy running in {} mode ({})", families.size() > 1 ? "dual-stack" : "single-stack", mode.name);
  std::vector<config::ProxierSettings> settings;
  auto proxies = buildFamilyProxies(*env, cfg, mode, families, *node_name, node, *facts, &warnings, &settings);
  if (!proxies.ok()) return fail("unable to create proxier: " + proxies.error().message);
  auto setup = setUpNodeCommon(cfg, *env->sysctl, cpuCount());
  if (!setup.ok()) return fail(setup.error().message);
  for (const auto& w : setup->warnings) warnings.push_back(w);
  for (const auto& w : warnings) log::warn("{}", w);

  // ----- Health, metrics, health-check node ports. -----
  ExitRequest exit_request;
  const modes::SyncPeriods periods = mode.periods(cfg);
  proxy::ProxyHealthState health(env->clock, 2 * periods.sync_period);
  proxy::MetricsRegistry registry;
  proxy::ProxyMetrics metrics(registry, mode.metrics);
  proxy::registerProcessMetrics(registry, kKubernetesGitVersion);
  // Its own netlink socket: the proxiers use theirs from the runner threads.
  std::shared_ptr<netlink::NfacctClient> nfacct_reader = netlink::newNetlinkNfacct();
  auto nfacct_mu = std::make_shared<std::mutex>();
  metrics.registerNfacctCollectors([nfacct_reader, nfacct_mu](std::string_view counter) -> std::optional<uint64_t> {
    std::lock_guard lock(*nfacct_mu);
    auto packets = nfacct_reader->packets(counter);
    if (!packets.ok()) return std::nullopt;
    return *packets;
  });

  const bool has_v6 = std::find(families.begin(), families.end(), IpFamily::kIPv6) != families.end();
  proxy::ServiceHealthServer health_checks(
      health, proxy::ServiceHealthServer::Options{.node_name = *node_name, .wildcard_host = has_v6 ? "::" : "0.0.0.0"});
  for (const config::ProxierSettings& s : settings) {
    // upstream: health-check node ports listen on the family's nodePortAddresses.
    proxy::HealthCheckListenSpec spec;
    spec.all = s.node_port_addresses.match_all;
    if (!spec.all) spec.ips = s.node_port_addresses.nodeIps(s.facts.local_addresses);
    health_checks.setListenSpec(s.family, std::move(spec));
  }

  NodeAtStart node_at_start;
  if (node != nullptr) {
    node_at_start.known = true;
    node_at_start.ips = config::nodeHostIps(*node);
    node_at_start.pod_cidrs = node->pod_cidrs;
    node_at_start.watch_pod_cidrs = cfg.effectiveDetectLocalMode() == "NodeCIDR";
  }
  DaemonObserver observer(env->clock, health, metrics, health_checks, node_at_start, exit_request);

  server::HealthzServer healthz(health, &metrics);
  if (!cfg.healthz_bind_address.empty()) {
    healthz.start({.address = cfg.healthz_bind_address,
                   .hard_fail = cfg.bind_address_hard_fail,
                   .on_error = [&exit_request, hard = cfg.bind_address_hard_fail](const Error& e) {
                     log::error("Healthz server failed: {}", e.message);
                     // upstream also records a FailedToStartProxierHealthcheck event (no events yet).
                     if (hard) exit_request.request(1, "healthz server failed: " + e.message);
                   }});
  }
  server::MetricsServer metrics_server(registry, std::string(mode.name), [cfg] { return configzJson(cfg); });
  if (!cfg.metrics_bind_address.empty()) {
    metrics_server.start({.address = cfg.metrics_bind_address,
                          .hard_fail = cfg.bind_address_hard_fail,
                          .on_error = [&exit_request, hard = cfg.bind_address_hard_fail](const Error& e) {
                            log::error("starting metrics server failed: {}", e.message);
                            if (hard) exit_request.request(1, "starting metrics server failed: " + e.message);
                          }});
  }
  applyOomScoreAdj(cfg.oom_score_adj);

  proxy::ProxyServer server(std::move(*proxies),
                            {.min_sync_period = periods.min_sync_period,
                             .max_sync_period = periods.max_sync_period,
                             .sync_period = periods.sync_period},
                            env->clock, &observer);
  // upstream NewProxier: a proxier that cannot set up the node is fatal.
  if (auto s = server.setUpNode(); !s.ok()) return fail("unable to create proxier: " + s.error().message);
  server.start();

  if (api_events) {
    api_events->attach(server);  // ProxyServer syncs once Services and EndpointSlices are listed
  } else {
    source_thread = std::jthread([&server, &flags, name = *node_name](std::stop_token stop) {
      watch::FileObjectSource source(flags.objects, name, server,
                                     [](const std::string& e) { log::error("objects: {}", e); });
      source.run(stop);
    });
  }

  // ----- Wait for a signal, a changed configuration file, or an exit request. -----
  int code = 0;
  while (true) {
    pollfd fds[3] = {{signal_fd.get(), POLLIN, 0}, {exit_request.fd(), POLLIN, 0}, {config_watch.get(), POLLIN, 0}};
    const nfds_t n = config_watch ? 3 : 2;
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      code = fail(std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      ssize_t r = read(signal_fd.get(), &info, sizeof(info));
      (void)r;
      log::info(0, "Received signal {}, stopping (rules are left in place)", info.ssi_signo);
      break;
    }
    if (fds[1].revents & POLLIN) {
      code = exit_request.code();
      log::error("{}", exit_request.message());
      break;
    }
    if (n == 3 && (fds[2].revents & POLLIN)) {
      alignas(inotify_event) char buf[4096];
      const ssize_t r = read(config_watch.get(), buf, sizeof(buf));
      bool changed = false;
      for (ssize_t off = 0; off < r;) {
        const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
        if (ev->mask & (IN_MODIFY | IN_MOVE_SELF)) changed = true;
        off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      }
      if (changed) {
        code = fail("content of the proxy server's configuration file was updated");
        break;
      }
    }
  }
  if (source_thread.joinable()) {
    source_thread.request_stop();
    source_thread.join();
  }
  server.stop();
  healthz.stop();
  metrics_server.stop();
  return code;
}

}  // namespace

int runKubeProxy(const std::vector<std::string>& args) {
  auto parsed = config::parseKubeProxyFlags(args);
  if (!parsed.ok()) {
    std::fprintf(stderr, "Error: %s\nRun 'kube-proxy --help' for usage.\n", parsed.error().message.c_str());
    return 1;
  }
  const config::KubeProxyFlags& flags = *parsed;
  if (flags.help) {
    std::fputs(config::kubeProxyUsage().c_str(), stdout);
    return 0;
  }
  if (flags.version == "true" || flags.version == "raw") return printVersion(flags.version);
  for (const auto& w : flags.warnings) std::fprintf(stderr, "%s\n", w.c_str());

  auto completed = config::completeConfiguration(flags, readInput);
  if (!completed.ok()) return fail("failed complete: " + completed.error().message);
  const config::KubeProxyConfiguration& cfg = completed->config;
  log::setVerbosity(cfg.logging.verbosity);
  if (cfg.logging.format != "text") log::warn("logging format \"{}\" requested; kproxy logs text", cfg.logging.format);
  for (const auto& line : config::printFlags(flags)) log::info(1, "{}", line);
  for (const auto& w : completed->warnings) log::warn("{}", w);
  if (flags.config_file.empty()) {
    log::info(0,
              "Warning, all flags other than --config, --write-config-to, and --cleanup are deprecated, please "
              "begin using a config file ASAP");
  }
  if (auto errors = config::validateConfiguration(cfg); !errors.empty()) {
    return fail("failed validate: " + aggregate(errors));
  }

  if (!flags.write_config_to.empty()) {
    if (auto s = writeFile(flags.write_config_to, config::encodeConfiguration(cfg)); !s.ok()) {
      return fail(s.error().message);
    }
    log::info(0, "Wrote configuration to {}", flags.write_config_to);
    return 0;
  }
  if (flags.cleanup) return runCleanup();
  auto mode = modes::findMode(cfg.effectiveMode());
  if (!mode.ok()) return fail("proxy mode " + mode.error().message);
  // upstream platformCleanup: without --cleanup only other modes' leftovers are removed, which for
  // iptables and IPVS mode means nftables' (kproxy has no nftables mode yet, so nothing to do).
  if (flags.init_only) return runInitOnly(cfg, **mode);
  return runDaemon(flags, cfg, **mode);
}

Verb addRunVerb(CLI::App& app) {
  auto* cmd = app.add_subcommand("run", "Run the proxy daemon (kube-proxy's flags; see `kproxy run --help`)");
  // kube-proxy's own parser (src/config/flags.h) reads everything after the verb.
  cmd->prefix_command();
  cmd->set_help_flag();
  return {cmd, [cmd] { return runKubeProxy(cmd->remaining()); }};
}

}  // namespace kproxy::cli
