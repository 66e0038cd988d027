// kproxy_workload: writes a synthetic cluster dump for benchmarks and manual measurements:
//   kproxy_workload --services 10000 --endpoints 10 > cluster.json
//   kproxy_workload --config > config.yaml
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "bench/workload.h"

int main(int argc, char** argv) {
  kproxy::bench::WorkloadOptions options;
  bool config = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--services" && i + 1 < argc) {
      options.services = std::atoi(argv[++i]);
    } else if (arg == "--endpoints" && i + 1 < argc) {
      options.endpoints_per_service = std::atoi(argv[++i]);
    } else if (arg == "--node" && i + 1 < argc) {
      options.node_name = argv[++i];
    } else if (arg == "--config") {
      config = true;
    } else {
      std::fprintf(stderr, "usage: kproxy_workload [--services N] [--endpoints M] [--node NAME] [--config]\n");
      return 2;
    }
  }
  std::string out = config ? kproxy::bench::benchmarkConfigYaml(options) : kproxy::bench::generateClusterJson(options);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
