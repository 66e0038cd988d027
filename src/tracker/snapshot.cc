#include "src/tracker/snapshot.h"

#include "src/api/service_cidr.h"

namespace kproxy::tracker {

const EndpointList& ProxySnapshot::endpointsOf(const ServicePortName& name) const {
  static const EndpointList kEmpty;
  auto it = endpoints.find(name);
  return it == endpoints.end() ? kEmpty : *it->second;
}

ProxyStateTracker::ProxyStateTracker(Options options)
    : options_(std::move(options)),
      services_(options_.family),
      endpoints_(options_.family, options_.node_name, options_.node_hints_enabled, options_.start_time) {}

bool ProxyStateTracker::onNodeUpdate(const api::Node* node) {
  if (node != nullptr && node->meta.name != options_.node_name) return false;
  static const std::map<std::string, std::string> kNoLabels;
  const auto& labels = node != nullptr ? node->meta.labels : kNoLabels;
  if (node != nullptr && labels == node_labels_) return false;
  node_labels_ = labels;
  node_labels_changed_ = true;
  return true;
}

bool ProxyStateTracker::onServiceCIDRUpdate(const std::shared_ptr<const api::ServiceCIDR>& previous,
                                            const std::shared_ptr<const api::ServiceCIDR>& current) {
  if (current != nullptr) {
    service_cidr_objects_[current->meta.name] = current;
  } else if (previous != nullptr) {
    service_cidr_objects_.erase(previous->meta.name);
  }
  std::vector<std::shared_ptr<const api::ServiceCIDR>> objects;
  for (const auto& [name, object] : service_cidr_objects_) objects.push_back(object);
  std::vector<Cidr> cidrs = api::serviceCidrsOf(objects, options_.family);
  if (cidrs == service_cidrs_) return false;
  service_cidrs_ = std::move(cidrs);
  service_cidrs_changed_ = true;
  return true;
}

std::pair<ProxySnapshotPtr, UpdateResult> ProxyStateTracker::checkout() {
  UpdateResult result;
  result.services = services_.applyTo(service_map_);
  result.endpoints = endpoints_.applyTo(endpoints_map_);
  result.node_labels_changed = node_labels_changed_;
  node_labels_changed_ = false;
  result.service_cidrs_changed = service_cidrs_changed_;
  service_cidrs_changed_ = false;

  auto snapshot = std::make_shared<ProxySnapshot>();
  snapshot->family = options_.family;
  snapshot->node_name = options_.node_name;
  snapshot->node_labels = node_labels_;
  snapshot->services = service_map_;
  snapshot->endpoints = endpoints_map_;
  snapshot->service_cidrs = service_cidrs_;
  return {std::move(snapshot), std::move(result)};
}

}  // namespace kproxy::tracker
