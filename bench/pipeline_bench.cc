// parse + track + render of N services × 10 endpoints (issue: 10k renders in < 500 ms and < 300 MB
// peak RSS, the render step alone in < 100 ms). Each stage is measured alone and end to end.
// Peak RSS of a whole `kproxy render` run is measured outside (see bench/README.md).
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include "bench/workload.h"
#include "modes/iptables/planner.h"
#include "modes/nftables/planner.h"
#include "src/api/decode.h"
#include "src/config/kube_proxy_configuration.h"
#include "src/config/proxier_settings.h"
#include "src/tracker/snapshot.h"
#include "src/util/huge_pages.h"

namespace kproxy::bench {
namespace {

struct Inputs {
  std::string json;
  config::KubeProxyConfiguration config;
};

const Inputs& inputsFor(int services) {
  static std::map<int, Inputs> cache;
  auto it = cache.find(services);
  if (it == cache.end()) {
    WorkloadOptions o{.services = services};
    Inputs in;
    in.json = generateClusterJson(o);
    in.config = config::decodeConfiguration(benchmarkConfigYaml(o), "bench")->config;
    it = cache.emplace(services, std::move(in)).first;
  }
  return it->second;
}

api::ClusterState parse(const Inputs& in) {
  auto result = api::decodeManifests({{"cluster.json", in.json}});
  if (!result.errors.empty()) std::abort();
  return std::move(result.state);
}

std::pair<tracker::ProxySnapshotPtr, tracker::UpdateResult> track(const api::ClusterState& state) {
  tracker::ProxyStateTracker tracker({.family = IpFamily::kIPv4, .node_name = "node-0"});
  for (const auto& svc : state.services) tracker.onServiceAdd(*svc);
  for (const auto& slice : state.endpoint_slices) tracker.onEndpointSliceAdd(slice);
  for (const auto& node : state.nodes) tracker.onNodeUpdate(node.get());
  return tracker.checkout();
}

config::ProxierSettings settingsFor(const Inputs& in, const api::ClusterState& state) {
  const api::Node* node = state.nodes.empty() ? nullptr : state.nodes.front().get();
  config::NodeFacts facts;
  return config::buildProxierSettings(in.config, IpFamily::kIPv4, "node-0", node, facts)->settings;
}

iptables::IptablesPlan render(const tracker::ProxySnapshot& snapshot, const config::ProxierSettings& settings,
                              const tracker::UpdateResult& changes) {
  iptables::ChainNameSet none;
  iptables::PlanInput input{.snapshot = &snapshot, .settings = &settings, .full_sync = true, .changes = &changes,
                            .existing_nat_chains = &none};
  return iptables::planIptables(input);
}

// nftables mode: the whole table of a first (full) sync, as `render --proxy-mode nftables` plans it.
nftables::NftablesPlan renderNftables(const tracker::ProxySnapshot& snapshot, const config::ProxierSettings& settings,
                                      const tracker::UpdateResult& changes) {
  nftables::PlanInput input{.snapshot = &snapshot,
                            .settings = &settings,
                            .service_cidrs = {*Cidr::parse("10.96.0.0/12")},
                            .full_sync = true,
                            .changes = &changes,
                            .existing = nullptr,
                            .stale_chains = nullptr,
                            .first_sync = true,
                            .now = {}};
  return nftables::planNftables(input);
}

config::ProxierSettings nftablesSettingsFor(const Inputs& in, const api::ClusterState& state) {
  config::KubeProxyConfiguration cfg = in.config;
  cfg.mode = "nftables";
  cfg.node_port_addresses = {"primary"};
  const api::Node* node = state.nodes.empty() ? nullptr : state.nodes.front().get();
  config::NodeFacts facts;
  return config::buildProxierSettings(cfg, IpFamily::kIPv4, "node-0", node, facts)->settings;
}

void reportRss(benchmark::State& state) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  state.counters["peak_rss_MB"] = static_cast<double>(usage.ru_maxrss) / 1024.0;
}

void BM_Parse(benchmark::State& state) {
  const Inputs& in = inputsFor(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(parse(in));
  state.counters["input_MB"] = static_cast<double>(in.json.size()) / 1e6;
}

void BM_Track(benchmark::State& state) {
  const Inputs& in = inputsFor(static_cast<int>(state.range(0)));
  auto cluster = parse(in);
  for (auto _ : state) benchmark::DoNotOptimize(track(cluster));
}

void BM_Render(benchmark::State& state) {
  const Inputs& in = inputsFor(static_cast<int>(state.range(0)));
  auto cluster = parse(in);
  auto [snapshot, changes] = track(cluster);
  auto settings = settingsFor(in, cluster);
  size_t bytes = 0;
  for (auto _ : state) {
    auto plan = render(*snapshot, settings, changes);
    bytes = plan.payloadSize();
    benchmark::DoNotOptimize(plan);
  }
  state.counters["payload_MB"] = static_cast<double>(bytes) / 1e6;
}

// The planner alone (objects, and the transaction of a first sync).
void BM_PlanNftables(benchmark::State& state) {
  const Inputs& in = inputsFor(static_cast<int>(state.range(0)));
  auto cluster = parse(in);
  auto [snapshot, changes] = track(cluster);
  auto settings = nftablesSettingsFor(in, cluster);
  for (auto _ : state) benchmark::DoNotOptimize(renderNftables(*snapshot, settings, changes));
}

// The planner plus the dump text render prints (the counterpart of BM_Render's payload).
void BM_RenderNftables(benchmark::State& state) {
  const Inputs& in = inputsFor(static_cast<int>(state.range(0)));
  auto cluster = parse(in);
  auto [snapshot, changes] = track(cluster);
  auto settings = nftablesSettingsFor(in, cluster);
  size_t bytes = 0;
  for (auto _ : state) {
    auto plan = renderNftables(*snapshot, settings, changes);
    std::string text = plan.ruleset.dump();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["dump_MB"] = static_cast<double>(bytes) / 1e6;
}

void BM_ParseTrackRender(benchmark::State& state) {
  const Inputs& in = inputsFor(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto cluster = parse(in);
    auto [snapshot, changes] = track(cluster);
    auto settings = settingsFor(in, cluster);
    benchmark::DoNotOptimize(render(*snapshot, settings, changes));
  }
  reportRss(state);
}

BENCHMARK(BM_Parse)->Arg(1000)->Arg(10000)->Arg(50000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Track)->Arg(1000)->Arg(10000)->Arg(50000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Render)->Arg(1000)->Arg(10000)->Arg(50000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PlanNftables)->Arg(1000)->Arg(10000)->Arg(50000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RenderNftables)->Arg(1000)->Arg(10000)->Arg(50000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseTrackRender)->Arg(1000)->Arg(10000)->Arg(50000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kproxy::bench

int main(int argc, char** argv) {
  // Same allocator setting as the kproxy binary (src/util/huge_pages.h).
  kproxy::reexecWithHugePageMalloc(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
