// Workload generator: a synthetic cluster as `kubectl get svc,endpointslices,nodes -A -o json`
// prints it, with kubectl's verbosity (uids, timestamps, managed-by labels, targetRefs, zones).
#pragma once

#include <string>

namespace kproxy::bench {

struct WorkloadOptions {
  int services = 1000;
  int endpoints_per_service = 10;
  std::string node_name = "node-0";
  int nodes = 100;  // endpoints are spread over this many nodes
};

// A JSON List holding the Services, their EndpointSlices and this node's Node object. Mix: 70%
// ClusterIP, 20% NodePort, 10% LoadBalancer (half of them externalTrafficPolicy Local); every
// tenth service also has a UDP port. Deterministic for given options.
std::string generateClusterJson(const WorkloadOptions& options);

// The KubeProxyConfiguration the benchmarks render with.
std::string benchmarkConfigYaml(const WorkloadOptions& options);

}  // namespace kproxy::bench
