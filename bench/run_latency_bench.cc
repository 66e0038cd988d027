// kproxy_run_bench: `kproxy run` (the real binary) fed by the test API server, in a private
// network namespace (root), iptables mode on the nf_tables back end, minSyncPeriod 0. Measures
//
//   * network programming latency: an EndpointSlice changes at the API server (t0, just before
//     the change is stored) -> the kernel announces the nf_tables commit that put it in force
//     (t1: NFT_MSG_NEWGEN on NFNLGRP_NFTABLES, after which `iptables -S` of the new KUBE-SEP
//     chain must show the new endpoint; that check runs after t1 is taken and adds nothing).
//     Nothing polls kproxy meanwhile: an earlier version scraped /metrics every 2 ms, which
//     took CPU from the daemon it measured;
//   * memory: VmHWM and VmRSS of the kproxy process (after its huge-page re-exec, the same pid)
//     after the initial sync and after all changes.
//
//   kproxy_run_bench [--services N] [--endpoints E] [--changes C] [--kproxy PATH]
//
// Prints median, p90, p99 and max latency in ms, and the memory figures.
#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <httplib.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <simdjson.h>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/workload.h"
#include "modes/iptables/chain_names.h"
#include "src/util/subprocess.h"
#include "tests/apiserver/test_apiserver.h"

namespace {

using SteadyClock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "kproxy_run_bench: %s\n", message.c_str());
  std::exit(1);
}

// Sum of the kubeproxy_sync_proxy_rules_duration_seconds_count samples (one per family), or of
// those whose labels contain `only`.
long syncCount(httplib::Client& metrics, const std::string& only = "") {
  auto res = metrics.Get("/metrics");
  if (!res || res->status != 200) return -1;
  long total = 0;
  std::istringstream in(res->body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("kubeproxy_sync_proxy_rules_duration_seconds_count", 0) != 0) continue;
    if (!only.empty() && line.find(only) == std::string::npos) continue;
    total += std::atol(line.substr(line.rfind(' ') + 1).c_str());
  }
  return total;
}

// The rules of one nat chain (`iptables -S`: on nf_tables this fetches that chain only, so the
// check stays cheap at 10k services), from whichever back end has it.
std::string natChain(const std::string& chain) {
  for (const char* tool : {"iptables", "iptables-legacy"}) {
    auto r = kproxy::runProcess({tool, "-w", "5", "-t", "nat", "-S", chain});
    if (r.ok() && r->succeeded()) return r->out;
  }
  return "";
}

// The KUBE-SEP chain kproxy must create for `endpoint` of the slice's (single) port.
std::string endpointChainFor(const std::string& slice_json, const std::string& endpoint_ip) {
  simdjson::dom::parser parser;
  simdjson::dom::element slice = parser.parse(slice_json);
  const std::string ns(slice["metadata"]["namespace"].get_string().value());
  const std::string service(slice["metadata"]["labels"]["kubernetes.io/service-name"].get_string().value());
  simdjson::dom::element port = slice["ports"].at(0);
  const std::string name(port["name"].get_string().value());
  std::string protocol(port["protocol"].get_string().value());
  std::transform(protocol.begin(), protocol.end(), protocol.begin(), [](unsigned char c) { return std::tolower(c); });
  const std::string port_name = ns + "/" + service + (name.empty() ? "" : ":" + name);
  return kproxy::iptables::endpointChainName(port_name, protocol,
                                             endpoint_ip + ":" + std::to_string(port["port"].get_int64().value()));
}

// Commits of nf_tables rule sets in this namespace, as the kernel announces them (NFT_MSG_NEWGEN
// on the NFNLGRP_NFTABLES group): the moment new rules are in force, with no polling that would
// compete with kproxy for the CPU.
class NftCommitWatch {
 public:
  NftCommitWatch() {
    fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) die("netlink socket");
    const int group = NFNLGRP_NFTABLES;
    if (setsockopt(fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) != 0) die("NFNLGRP_NFTABLES");
    const int big = 8 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
  }
  ~NftCommitWatch() { close(fd_); }
  // Waits up to `timeout` for the next commit; true when one was seen.
  bool waitForCommit(std::chrono::milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    alignas(nlmsghdr) static char buf[1 << 16];
    while (SteadyClock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      if (poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
      const ssize_t got = recv(fd_, buf, sizeof(buf), 0);
      if (got < 0) {
        if (errno == ENOBUFS) return true;  // overrun: at least one commit happened
        continue;
      }
      int n = static_cast<int>(got);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
        if (h->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) return true;
      }
    }
    return false;
  }
  // Forgets announcements already queued (from before a change was made).
  void drain() {
    char buf[1 << 16];
    while (recv(fd_, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
    }
  }

 private:
  int fd_ = -1;
};

struct Memory {
  long hwm_kb = 0, rss_kb = 0;
};
Memory memoryOf(pid_t pid) {
  Memory m;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) m.hwm_kb = std::atol(line.c_str() + 6);
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kb = std::atol(line.c_str() + 6);
  }
  return m;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

int main(int argc, char** argv) {
  int services = 1000, endpoints = 10, changes = 200;
  std::string kproxy = KPROXY_BINARY;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--services") services = std::atoi(argv[i + 1]);
    else if (a == "--endpoints") endpoints = std::atoi(argv[i + 1]);
    else if (a == "--changes") changes = std::atoi(argv[i + 1]);
    else if (a == "--kproxy") kproxy = argv[i + 1];
    else die("unknown argument " + a);
  }
  if (unshare(CLONE_NEWNET) != 0) die("unshare(CLONE_NEWNET) failed: run as root");
  if (std::system("ip link set lo up") != 0) die("ip link set lo up failed");
  signal(SIGPIPE, SIG_IGN);

  // ----- The API server with the workload. -----
  kproxy::bench::WorkloadOptions workload{.services = services, .endpoints_per_service = endpoints,
                                          .node_name = "node-0", .nodes = 100};
  const std::string cluster = kproxy::bench::generateClusterJson(workload);
  kproxy::apiserver::ServerOptions options;
  options.history = static_cast<size_t>(changes) + 1000;
  kproxy::apiserver::TestApiServer server(options);
  if (auto r = server.apply(cluster); !r.ok()) die("workload: " + r.error().message);
  auto port = server.start();
  if (!port.ok()) die(port.error().message);

  // The EndpointSlices, as text to modify.
  std::vector<std::string> slices;
  {
    simdjson::dom::parser parser;
    simdjson::dom::element root = parser.parse(cluster);
    for (simdjson::dom::element item : root["items"].get_array()) {
      if (std::string_view(item["kind"].get_string().value()) == "EndpointSlice") {
        slices.push_back(simdjson::minify(item));
      }
    }
  }
  if (slices.empty()) die("the workload has no EndpointSlices");

  // ----- kproxy. -----
  const std::string dir = "/tmp/kproxy-run-bench-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const auto started = SteadyClock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int fd = open((dir + "/kproxy.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    const std::string master = "http://127.0.0.1:" + std::to_string(*port);
    const char* verbosity = std::getenv("KPROXY_BENCH_KEEP") != nullptr ? "4" : "0";
    // Flags, not a config file: as in kube-proxy, a KubeProxyConfiguration's
    // `iptables.minSyncPeriod: 0s` is defaulted to 1s (the field's zero value means "unset"), so
    // only the flag can ask for 0 — and with 1s the rate limiter (burst 2) would dominate.
    execl(kproxy.c_str(), kproxy.c_str(), "run", "--proxy-mode=iptables", "--hostname-override=node-0",
          "--cluster-cidr=172.16.0.0/12", "--metrics-bind-address=127.0.0.1:10249",
          "--healthz-bind-address=127.0.0.1:10256", "--iptables-sync-period=1h", "--iptables-min-sync-period=0s",
          "--conntrack-max-per-core=0", "--master", master.c_str(), "-v", verbosity, static_cast<char*>(nullptr));
    _exit(127);
  }
  httplib::Client metrics("127.0.0.1", 10249);
  metrics.set_keep_alive(true);
  while (syncCount(metrics, "IPv4") < 1) {  // the services are IPv4
    if (waitpid(pid, nullptr, WNOHANG) == pid) die("kproxy exited; see " + dir + "/kproxy.log");
    if (SteadyClock::now() - started > 10min) die("no initial sync in 10 minutes");
    std::this_thread::sleep_for(20ms);
  }
  const double initial_s = std::chrono::duration<double>(SteadyClock::now() - started).count();
  const Memory after_initial = memoryOf(pid);

  // ----- Changes. -----
  NftCommitWatch commits;
  std::vector<double> latencies_ms;
  uint64_t rng = 88172645463325252ull;
  for (int c = 0; c < changes; ++c) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    std::string slice = slices[rng % slices.size()];
    const size_t at = slice.find("\"addresses\":[\"");
    if (at == std::string::npos) die("a slice without addresses");
    const size_t start = at + 14, end = slice.find('"', start);
    const std::string new_ip = "10.250." + std::to_string(c / 250) + "." + std::to_string(c % 250 + 1);
    slice.replace(start, end - start, new_ip);
    const std::string sep_chain = endpointChainFor(slice, new_ip);

    std::this_thread::sleep_for(20ms);  // idle between changes
    commits.drain();
    const auto t0 = SteadyClock::now();
    if (auto r = server.apply(slice); !r.ok()) die("change: " + r.error().message);
    auto t1 = t0;
    while (true) {
      if (commits.waitForCommit(1s)) {
        t1 = SteadyClock::now();
        if (natChain(sep_chain).find("--to-destination " + new_ip + ":") != std::string::npos) break;  // untimed
      }
      if (SteadyClock::now() - t0 > 5min) die("change " + std::to_string(c) + " never reached the rules");
    }
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  const Memory after_changes = memoryOf(pid);

  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  server.stop();
  if (std::getenv("KPROXY_BENCH_KEEP") == nullptr) std::filesystem::remove_all(dir);
  else std::printf("  kept %s\n", dir.c_str());

  std::printf("kproxy run, iptables mode, minSyncPeriod 0: %d services x %d endpoints, %d endpoint changes\n", services,
              endpoints, changes);
  std::printf("  initial sync after start: %.2f s\n", initial_s);
  if (!latencies_ms.empty()) {
    std::printf("  network programming latency ms: median %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
                percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.9), percentile(latencies_ms, 0.99),
                percentile(latencies_ms, 1.0));
  }
  std::printf("  memory MB: VmHWM %.1f, VmRSS %.1f after the initial sync; VmHWM %.1f, VmRSS %.1f at the end\n",
              after_initial.hwm_kb / 1024.0, after_initial.rss_kb / 1024.0, after_changes.hwm_kb / 1024.0,
              after_changes.rss_kb / 1024.0);
  std::printf("  kproxy exit status on SIGTERM: %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return 0;
}
