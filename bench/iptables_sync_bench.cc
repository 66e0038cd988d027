// Real-kernel benchmark of iptables-mode syncs (issue: live iptables mode, item 7), in private
// network namespaces (run as root):
//  * cold full sync at N services × 10 endpoints into an empty namespace, per back end, next to
//    its floor in the same run: one plain iptables-restore (no --noflush) of the same bytes;
//  * a one-endpoint change after that: time from the change (tracker event) to the restore being
//    finished, and the bytes written, against the full sync's bytes.
// Usage: kproxy_iptables_bench [--services N] [--backend nft|legacy|both] [--repeat R]
//                              [--dump-payload PREFIX]  (writes PREFIX.nf_tables / PREFIX.legacy)
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/workload.h"
#include "modes/iptables/proxier.h"
#include "netlink/iptables_restore.h"
#include "src/api/decode.h"
#include "src/config/proxier_settings.h"
#include "src/tracker/snapshot.h"
#include "src/util/huge_pages.h"
#include "src/util/subprocess.h"

using namespace kproxy;
using BenchClock = std::chrono::steady_clock;

namespace {

// Forwards to the real back end and adds up the wall time of restore() calls, so that a sync's
// time splits into kproxy's own work and iptables-restore's.
class TimedRestore final : public netlink::IptablesRestore {
 public:
  explicit TimedRestore(netlink::IptablesRestore& real) : real_(real) {}
  netlink::IptablesBackend backend() const override { return real_.backend(); }
  Status restore(IpFamily family, const std::vector<std::string_view>& pieces,
                 const netlink::RestoreOptions& options) override {
    auto t0 = std::chrono::steady_clock::now();
    auto status = real_.restore(family, pieces, options);
    restore_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    return status;
  }
  Result<std::string> save(IpFamily family, std::string_view table) override { return real_.save(family, table); }
  Result<bool> ruleExists(IpFamily f, std::string_view t, std::string_view c, const std::vector<std::string>& a) override {
    return real_.ruleExists(f, t, c, a);
  }
  Status insertRule(IpFamily f, std::string_view t, std::string_view c, const std::vector<std::string>& a,
                    bool prepend) override {
    return real_.insertRule(f, t, c, a, prepend);
  }
  Status deleteRule(IpFamily f, std::string_view t, std::string_view c, const std::vector<std::string>& a) override {
    return real_.deleteRule(f, t, c, a);
  }
  Status ensureChain(IpFamily f, std::string_view t, std::string_view c) override { return real_.ensureChain(f, t, c); }
  Result<bool> chainExists(IpFamily f, std::string_view t, std::string_view c) override {
    return real_.chainExists(f, t, c);
  }
  bool hasRandomFully() const override { return real_.hasRandomFully(); }

  double restore_ms = 0;

 private:
  netlink::IptablesRestore& real_;
};

std::string g_dump_payload;  // --dump-payload PREFIX: the full payload, for manual measurements

std::string loadAverage() {
  std::string text;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    char buf[64] = {};
    if (std::fgets(buf, sizeof(buf), f) != nullptr) text = buf;
    std::fclose(f);
  }
  return text.substr(0, text.find(' ', text.find(' ', text.find(' ') + 1) + 1));
}

double msSince(BenchClock::time_point t) { return std::chrono::duration<double, std::milli>(BenchClock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

bool freshNetns() {
  if (unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "unshare(CLONE_NEWNET): %s (run as root)\n", std::strerror(errno));
    return false;
  }
  return true;
}

struct Cluster {
  api::ClusterState state;
  config::KubeProxyConfiguration config;
};

void feed(tracker::ProxyStateTracker& tracker, const api::ClusterState& state) {
  for (const auto& s : state.services) tracker.onServiceAdd(*s);
  for (const auto& s : state.endpoint_slices) tracker.onEndpointSliceAdd(s);
  for (const auto& n : state.nodes) tracker.onNodeUpdate(n.get());
}

void runBackend(const Cluster& cluster, netlink::IptablesBackend backend, int repeat) {
  const char* name = backend == netlink::IptablesBackend::kNft ? "nf_tables" : "legacy";
  auto bin = netlink::IptablesBinaries::forBackend(backend);
  std::vector<double> full_ms, floor_ms, partial_ms, ratios, second_partial_ms;
  size_t full_bytes = 0, partial_bytes = 0, restores = 0;
  for (int r = 0; r < repeat; ++r) {
    if (!freshNetns()) return;
    RealClock clock;
    tracker::ProxyStateTracker tracker({.family = IpFamily::kIPv4, .node_name = "node-0"});
    feed(tracker, cluster.state);
    config::NodeFacts facts;
    auto settings = config::buildProxierSettings(cluster.config, IpFamily::kIPv4, "node-0",
                                                 cluster.state.nodes.front().get(), facts);
    auto real_iptables = netlink::newProcessIptables(backend);
    TimedRestore timed(*real_iptables);
    iptables::IptablesProxier proxier({.iptables = timed, .clock = clock}, settings->settings);
    proxier.keepLastPlan(true);
    auto [snapshot, changes] = tracker.checkout();
    auto t0 = BenchClock::now();
    timed.restore_ms = 0;
    auto report = proxier.sync(*snapshot, changes);
    full_ms.push_back(msSince(t0));
    if (!report.ok()) {
      std::fprintf(stderr, "%s full sync failed: %s\n", name, report.error().message.c_str());
      return;
    }
    full_bytes = report->bytes_written;
    restores = report->kernel_transactions;
    // The floor restores this full payload (lastPlan() is the partial plan after the next sync).
    const std::string payload = proxier.lastPlan().payload();
    // The live proxier keeps no plan; keeping them would add freeing a 40 MB plan to the partial.
    proxier.keepLastPlan(false);

    // One endpoint of one service changes.
    auto slice = std::make_shared<api::EndpointSlice>(*cluster.state.endpoint_slices[cluster.state.endpoint_slices.size() / 2]);
    slice->endpoints[0].addresses[0] = "172.31.255.254";
    auto t1 = BenchClock::now();
    tracker.onEndpointSliceUpdate(slice);
    auto [snap2, changes2] = tracker.checkout();
    const double tracker_ms = msSince(t1);
    const double full_restore_ms = timed.restore_ms;
    timed.restore_ms = 0;
    auto partial = proxier.sync(*snap2, changes2);
    partial_ms.push_back(msSince(t1));
    if (partial.ok()) {
      const double sync_ms = std::chrono::duration<double, std::milli>(partial->duration).count();
      std::fprintf(stderr,
                   "  %s run %d: full %.0f ms (restores %.0f ms); partial %.1f ms = tracker %.1f + plan/apply %.1f + "
                   "iptables-restore %.1f\n",
                   name, r, full_ms.back(), full_restore_ms, partial_ms.back(), tracker_ms, sync_ms - timed.restore_ms,
                   timed.restore_ms);
    }
    if (!partial.ok()) {
      std::fprintf(stderr, "%s partial sync failed: %s\n", name, partial.error().message.c_str());
      return;
    }
    // A second one-endpoint change. In large-cluster mode the stale-chain scan runs at most once
    // per syncPeriod; the first partial pays it whenever the cold full sync took longer than
    // syncPeriod, this one shows the steady state.
    {
      auto other = std::make_shared<api::EndpointSlice>(*cluster.state.endpoint_slices[cluster.state.endpoint_slices.size() / 3]);
      other->endpoints[0].addresses[0] = "172.31.255.253";
      auto t3 = BenchClock::now();
      tracker.onEndpointSliceUpdate(other);
      auto [snap3, changes3] = tracker.checkout();
      timed.restore_ms = 0;
      auto second = proxier.sync(*snap3, changes3);
      second_partial_ms.push_back(msSince(t3));
      if (second.ok()) {
        std::fprintf(stderr, "  %s run %d: second partial %.1f ms (iptables-restore %.1f)\n", name, r,
                     second_partial_ms.back(), timed.restore_ms);
      }
    }
    partial_bytes = partial->bytes_written;

    // Floor: the same full payload restored without --noflush into another empty namespace.
    if (!g_dump_payload.empty() && r == 0) {
      if (FILE* f = std::fopen((g_dump_payload + "." + name).c_str(), "w")) {
        std::fwrite(payload.data(), 1, payload.size(), f);
        std::fclose(f);
      }
    }
    if (!freshNetns()) return;
    auto t2 = BenchClock::now();
    auto floor = runProcess({bin.restore}, payload, {.capture_stdout = false});
    floor_ms.push_back(msSince(t2));
    std::fprintf(stderr, "  %s run %d: floor %.0f ms, ratio %.2f (load %s)\n", name, r, floor_ms.back(),
                 full_ms.back() / std::max(1.0, floor_ms.back()), loadAverage().c_str());
    ratios.push_back(full_ms.back() / std::max(1.0, floor_ms.back()));
    if (!floor.ok() || !floor->succeeded()) {
      std::fprintf(stderr, "%s floor restore failed: %s\n", name, floor.ok() ? floor->err.c_str() : floor.error().message.c_str());
    }
  }
  // The ratio is the median of each run's full/floor (the two run back to back, under the same load).
  std::printf("%-9s services=%zu full_sync_ms=%.0f floor_ms=%.0f ratio=%.2f restores=%zu full_bytes=%zu | "
              "one-endpoint partial_ms=%.1f (second change %.1f) bytes=%zu (%.2f%% of full) load=%s\n",
              name, cluster.state.services.size(), median(full_ms), median(floor_ms),
              median(ratios), restores, full_bytes, median(partial_ms), median(second_partial_ms),
              partial_bytes, 100.0 * static_cast<double>(partial_bytes) / static_cast<double>(std::max<size_t>(1, full_bytes)),
              loadAverage().c_str());
}

}  // namespace

int main(int argc, char** argv) {
  reexecWithHugePageMalloc(argv);
  int services = 10000, repeat = 3;
  std::string backends = "both";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--services") services = std::atoi(argv[i + 1]);
    if (a == "--backend") backends = argv[i + 1];
    if (a == "--repeat") repeat = std::atoi(argv[i + 1]);
    if (a == "--dump-payload") g_dump_payload = argv[i + 1];
  }
  bench::WorkloadOptions o{.services = services};
  Cluster cluster;
  auto decoded = api::decodeManifests({{"cluster.json", bench::generateClusterJson(o)}});
  cluster.state = std::move(decoded.state);
  cluster.config = config::decodeConfiguration(bench::benchmarkConfigYaml(o), "bench")->config;
  if (backends == "both" || backends == "nft") runBackend(cluster, netlink::IptablesBackend::kNft, repeat);
  if (backends == "both" || backends == "legacy") runBackend(cluster, netlink::IptablesBackend::kLegacy, repeat);
  return 0;
}
