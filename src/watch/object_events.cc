#include "src/watch/object_events.h"

#include <map>

namespace kproxy::watch {
namespace {

template <typename T, typename Same, typename Emit>
void diffKind(const std::vector<std::shared_ptr<const T>>& before_list,
              const std::vector<std::shared_ptr<const T>>& after_list, Same same, Emit emit) {
  std::map<api::NamespacedName, std::shared_ptr<const T>> before, after;
  for (const auto& o : before_list) before[o->meta.namespacedName()] = o;
  for (const auto& o : after_list) after[o->meta.namespacedName()] = o;
  for (const auto& [name, obj] : after) {
    auto it = before.find(name);
    if (it == before.end()) {
      emit(ObjectEvent<T>{nullptr, obj});
    } else if (!same(*it->second, *obj)) {
      emit(ObjectEvent<T>{it->second, obj});
    }
  }
  for (const auto& [name, obj] : before) {
    if (after.count(name) == 0) emit(ObjectEvent<T>{obj, nullptr});
  }
}

bool sameService(const api::Service& a, const api::Service& b) {
  return a.type == b.type && a.cluster_ip == b.cluster_ip && a.cluster_ips == b.cluster_ips &&
         a.ip_families == b.ip_families && a.ports == b.ports && a.external_ips == b.external_ips &&
         a.session_affinity == b.session_affinity && a.session_affinity_timeout == b.session_affinity_timeout &&
         a.external_traffic_policy == b.external_traffic_policy &&
         a.internal_traffic_policy == b.internal_traffic_policy &&
         a.health_check_node_port == b.health_check_node_port &&
         a.load_balancer_source_ranges == b.load_balancer_source_ranges &&
         a.load_balancer_ingress == b.load_balancer_ingress && a.meta.labels == b.meta.labels;
}

bool sameNode(const api::Node& a, const api::Node& b) {
  if (a.meta.labels != b.meta.labels || a.meta.deletion_timestamp != b.meta.deletion_timestamp ||
      a.pod_cidrs != b.pod_cidrs || a.taints != b.taints || a.addresses.size() != b.addresses.size()) {
    return false;
  }
  for (size_t i = 0; i < a.addresses.size(); ++i) {
    if (a.addresses[i].type != b.addresses[i].type || a.addresses[i].address != b.addresses[i].address) return false;
  }
  return true;
}

}  // namespace

void emitDifference(const api::ClusterState& previous, const api::ClusterState& current, ObjectEventSink& sink,
                    const std::string& node_name) {
  diffKind(previous.services, current.services, sameService,
           [&](const ObjectEvent<api::Service>& e) { sink.onService(e); });
  diffKind(previous.endpoint_slices, current.endpoint_slices,
           [](const api::EndpointSlice& a, const api::EndpointSlice& b) { return a.sameContent(b); },
           [&](const ObjectEvent<api::EndpointSlice>& e) { sink.onEndpointSlice(e); });
  std::vector<std::shared_ptr<const api::Node>> before_nodes, after_nodes;
  for (const auto& n : previous.nodes)
    if (node_name.empty() || n->meta.name == node_name) before_nodes.push_back(n);
  for (const auto& n : current.nodes)
    if (node_name.empty() || n->meta.name == node_name) after_nodes.push_back(n);
  diffKind(before_nodes, after_nodes, sameNode, [&](const ObjectEvent<api::Node>& e) { sink.onNode(e); });
  diffKind(previous.service_cidrs, current.service_cidrs,
           [](const api::ServiceCIDR& a, const api::ServiceCIDR& b) { return a.cidrs == b.cidrs; },
           [&](const ObjectEvent<api::ServiceCIDR>& e) { sink.onServiceCIDR(e); });
}

}  // namespace kproxy::watch
