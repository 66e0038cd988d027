#include "src/tracker/topology.h"

#include <algorithm>

#include "src/api/objects.h"

namespace kproxy::tracker {
namespace {

enum class TopologyMode { kNone, kPreferSameZone, kPreferSameNode };

// upstream topologyModeFromHints: only ready endpoints count; node hints win when every ready
// endpoint has one and one names this node (gate on), else zone hints likewise.
TopologyMode topologyModeFromHints(const EndpointList& endpoints, const std::string& node_name,
                                   const std::string& zone, bool prefer_same_node_enabled) {
  bool has_endpoint_for_node = false;
  bool all_have_node_hints = true;
  bool has_endpoint_for_zone = false;
  bool all_have_zone_hints = true;
  for (const auto& ep : endpoints) {
    if (!ep->ready) continue;
    if (ep->node_hints.empty()) {
      all_have_node_hints = false;
    } else if (ep->hasNodeHint(node_name)) {
      has_endpoint_for_node = true;
    }
    if (ep->zone_hints.empty()) {
      all_have_zone_hints = false;
    } else if (ep->hasZoneHint(zone)) {
      has_endpoint_for_zone = true;
    }
  }
  if (prefer_same_node_enabled && all_have_node_hints && has_endpoint_for_node) return TopologyMode::kPreferSameNode;
  if (all_have_zone_hints && has_endpoint_for_zone) return TopologyMode::kPreferSameZone;
  return TopologyMode::kNone;
}

bool availableForTopology(const EndpointInfo& ep, TopologyMode mode, const std::string& node_name,
                          const std::string& zone) {
  switch (mode) {
    case TopologyMode::kNone:
      return true;
    case TopologyMode::kPreferSameNode:
      return ep.hasNodeHint(node_name);
    case TopologyMode::kPreferSameZone:
      return ep.hasZoneHint(zone);
  }
  return false;
}

template <typename Pred>
EndpointRefs filter(const EndpointList& endpoints, Pred pred) {
  EndpointRefs out;
  out.reserve(endpoints.size());
  for (const auto& ep : endpoints)
    if (pred(*ep)) out.push_back(ep.get());
  return out;
}

}  // namespace

CategorizedEndpoints categorizeEndpoints(const EndpointList& endpoints, const ServicePortInfo& port,
                                         const std::string& node_name,
                                         const std::map<std::string, std::string>& node_labels,
                                         bool prefer_same_node_enabled) {
  CategorizedEndpoints result;
  TopologyMode mode = TopologyMode::kNone;
  bool use_serving_terminating = false;

  if (port.usesClusterEndpoints()) {
    auto zone_it = node_labels.find(api::kLabelTopologyZone);
    const std::string zone = zone_it == node_labels.end() ? std::string() : zone_it->second;
    mode = topologyModeFromHints(endpoints, node_name, zone, prefer_same_node_enabled);
    result.cluster = filter(endpoints, [&](const EndpointInfo& ep) {
      return ep.ready && availableForTopology(ep, mode, node_name, zone);
    });
    // No ready endpoint anywhere (topology is already ignored when it would select none):
    // fall back to serving-and-terminating endpoints, cluster-wide.
    if (result.cluster.empty()) {
      result.cluster = filter(endpoints, [](const EndpointInfo& ep) { return ep.serving && ep.terminating; });
    }
    if (!result.cluster.empty()) result.has_any_endpoints = true;
  }

  if (!port.usesLocalEndpoints()) {
    result.reachable = result.cluster;
    return result;
  }

  bool has_local_ready = false;
  bool has_local_serving_terminating = false;
  for (const auto& ep : endpoints) {
    if (ep->ready) {
      result.has_any_endpoints = true;
      if (ep->is_local) has_local_ready = true;
    } else if (ep->serving && ep->terminating) {
      result.has_any_endpoints = true;
      if (ep->is_local) has_local_serving_terminating = true;
    }
  }
  if (has_local_ready) {
    result.local = filter(endpoints, [](const EndpointInfo& ep) { return ep.is_local && ep.ready; });
  } else if (has_local_serving_terminating) {
    use_serving_terminating = true;
    result.local = filter(endpoints, [](const EndpointInfo& ep) { return ep.is_local && ep.serving && ep.terminating; });
  }

  if (!port.usesClusterEndpoints()) {
    result.reachable = result.local;
    return result;
  }
  if (mode == TopologyMode::kNone && !use_serving_terminating) {
    // Every ready endpoint is in `cluster`, and `local` holds only ready ones: a superset.
    result.reachable = result.cluster;
    return result;
  }
  // Merge by endpoint string; both inputs are sorted by it.
  std::merge(result.cluster.begin(), result.cluster.end(), result.local.begin(), result.local.end(),
             std::back_inserter(result.reachable),
             [](const EndpointInfo* a, const EndpointInfo* b) { return a->endpoint < b->endpoint; });
  result.reachable.erase(std::unique(result.reachable.begin(), result.reachable.end(),
                                     [](const EndpointInfo* a, const EndpointInfo* b) {
                                       return a->endpoint == b->endpoint;
                                     }),
                         result.reachable.end());
  return result;
}

}  // namespace kproxy::tracker
