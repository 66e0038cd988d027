// Real-kernel benchmark of iptables-mode syncs (issue: live iptables mode, item 7), in private
// network namespaces (run as root):
//  * cold full sync at N services × 10 endpoints into an empty namespace, per back end, next to
//    its floor in the same run: one plain iptables-restore (no --noflush) of the same bytes;
//  * a one-endpoint change after that: time from the change (tracker event) to the restore being
//    finished, and the bytes written, against the full sync's bytes.
// Usage: kproxy_iptables_bench [--services N] [--backend nft|legacy|both] [--repeat R]
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
  std::vector<double> full_ms, floor_ms, partial_ms;
  size_t full_bytes = 0, partial_bytes = 0, restores = 0;
  for (int r = 0; r < repeat; ++r) {
    if (!freshNetns()) return;
    RealClock clock;
    tracker::ProxyStateTracker tracker({.family = IpFamily::kIPv4, .node_name = "node-0"});
    feed(tracker, cluster.state);
    config::NodeFacts facts;
    auto settings = config::buildProxierSettings(cluster.config, IpFamily::kIPv4, "node-0",
                                                 cluster.state.nodes.front().get(), facts);
    auto iptables = netlink::newProcessIptables(backend);
    iptables::IptablesProxier proxier({.iptables = *iptables, .clock = clock}, settings->settings,
                                      {.chunk_full_syncs = backend == netlink::IptablesBackend::kNft});
    proxier.keepLastPlan(true);
    auto [snapshot, changes] = tracker.checkout();
    auto t0 = BenchClock::now();
    auto report = proxier.sync(*snapshot, changes);
    full_ms.push_back(msSince(t0));
    if (!report.ok()) {
      std::fprintf(stderr, "%s full sync failed: %s\n", name, report.error().message.c_str());
      return;
    }
    full_bytes = report->bytes_written;
    restores = report->restores;

    // One endpoint of one service changes.
    auto slice = std::make_shared<api::EndpointSlice>(*cluster.state.endpoint_slices[cluster.state.endpoint_slices.size() / 2]);
    slice->endpoints[0].addresses[0] = "172.31.255.254";
    auto t1 = BenchClock::now();
    tracker.onEndpointSliceUpdate(slice);
    auto [snap2, changes2] = tracker.checkout();
    auto partial = proxier.sync(*snap2, changes2);
    partial_ms.push_back(msSince(t1));
    if (!partial.ok()) {
      std::fprintf(stderr, "%s partial sync failed: %s\n", name, partial.error().message.c_str());
      return;
    }
    partial_bytes = partial->bytes_written;

    // Floor: the same full payload restored without --noflush into another empty namespace.
    const std::string payload = proxier.lastPlan().payload();
    if (!freshNetns()) return;
    auto t2 = BenchClock::now();
    auto floor = runProcess({bin.restore}, payload, {.capture_stdout = false});
    floor_ms.push_back(msSince(t2));
    if (!floor.ok() || !floor->succeeded()) std::fprintf(stderr, "%s floor restore failed\n", name);
  }
  std::printf("%-9s services=%zu full_sync_ms=%.0f floor_ms=%.0f ratio=%.2f restores=%zu full_bytes=%zu | "
              "one-endpoint partial_ms=%.1f bytes=%zu (%.2f%% of full)\n",
              name, cluster.state.services.size(), median(full_ms), median(floor_ms),
              median(full_ms) / std::max(1.0, median(floor_ms)), restores, full_bytes, median(partial_ms),
              partial_bytes, 100.0 * static_cast<double>(partial_bytes) / static_cast<double>(std::max<size_t>(1, full_bytes)));
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
