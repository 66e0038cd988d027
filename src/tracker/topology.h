// Which endpoints a service port uses on this node: traffic policies, topology hints and the
// terminating-endpoint fallback (upstream pkg/proxy/topology.go CategorizeEndpoints; spec
// iptables-mode.md §7.3).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "src/tracker/endpoint.h"
#include "src/tracker/service_port.h"

namespace kproxy::tracker {

// Pointers into the EndpointList passed in (which must outlive the result), sorted by endpoint string.
using EndpointRefs = std::vector<const EndpointInfo*>;

struct CategorizedEndpoints {
  EndpointRefs cluster;    // for Cluster traffic policy (topology-filtered); empty if unused
  EndpointRefs local;      // for Local traffic policy; empty if unused
  EndpointRefs reachable;  // union of both: every endpoint that gets a KUBE-SEP chain
  bool has_any_endpoints = false;  // usable endpoints exist somewhere in the cluster
};

CategorizedEndpoints categorizeEndpoints(const EndpointList& endpoints, const ServicePortInfo& port,
                                         const std::string& node_name,
                                         const std::map<std::string, std::string>& node_labels,
                                         bool prefer_same_node_enabled);

}  // namespace kproxy::tracker
