// ProxySnapshot: the immutable state one sync renders (service ports, their endpoints, this
// node's labels), and UpdateResult: what changed since the previous sync. ProxyStateTracker owns
// the change trackers and produces both (design.md: "src/tracker ... ProxySnapshot + UpdateResult").
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include "src/api/objects.h"
#include "src/util/ip.h"
#include "src/tracker/endpoints_change_tracker.h"
#include "src/tracker/service_change_tracker.h"

namespace kproxy::tracker {

struct ProxySnapshot {
  IpFamily family = IpFamily::kIPv4;
  std::string node_name;
  std::map<std::string, std::string> node_labels;
  ServicePortMap services;
  EndpointsMap endpoints;
  // This family's ServiceCIDR ranges (networking.k8s.io/v1), distinct and sorted.
  std::vector<Cidr> service_cidrs;

  // The endpoints of a service port (empty list when it has none).
  const EndpointList& endpointsOf(const ServicePortName& name) const;
};

using ProxySnapshotPtr = std::shared_ptr<const ProxySnapshot>;

struct UpdateResult {
  ServiceUpdateResult services;
  EndpointsUpdateResult endpoints;
  // This node's labels changed (or the Node went away) since the last checkout: topology may
  // differ everywhere, so upstream forces a full sync.
  bool node_labels_changed = false;
  // The ServiceCIDR ranges of this family changed since the last checkout.
  bool service_cidrs_changed = false;

  // Services whose own chains must be rewritten in a partial sync.
  bool serviceUpdated(const api::NamespacedName& name) const {
    return services.updated_services.count(name) != 0 || endpoints.updated_services.count(name) != 0;
  }
};

class ProxyStateTracker {
 public:
  struct Options {
    IpFamily family = IpFamily::kIPv4;
    std::string node_name;
    bool node_hints_enabled = false;  // PreferSameTrafficDistribution
    WallTime start_time{};
  };
  explicit ProxyStateTracker(Options options);

  // Event handlers; each returns true when a sync is needed afterwards.
  bool onServiceAdd(const api::Service& service) { return services_.update(nullptr, &service); }
  bool onServiceUpdate(const api::Service& previous, const api::Service& current) {
    return services_.update(&previous, &current);
  }
  bool onServiceDelete(const api::Service& service) { return services_.update(&service, nullptr); }
  bool onEndpointSliceAdd(std::shared_ptr<const api::EndpointSlice> slice) {
    return endpoints_.endpointSliceUpdate(std::move(slice), false);
  }
  bool onEndpointSliceUpdate(std::shared_ptr<const api::EndpointSlice> slice) { return onEndpointSliceAdd(std::move(slice)); }
  bool onEndpointSliceDelete(std::shared_ptr<const api::EndpointSlice> slice) {
    return endpoints_.endpointSliceUpdate(std::move(slice), true);
  }
  // This node's Node object (other nodes are ignored); null when it was deleted.
  bool onNodeUpdate(const api::Node* node);
  // A ServiceCIDR was added or changed (`current`), or deleted (`current` null, `previous` set).
  // True when this family's ranges changed.
  bool onServiceCIDRUpdate(const std::shared_ptr<const api::ServiceCIDR>& previous,
                           const std::shared_ptr<const api::ServiceCIDR>& current);

  bool hasPendingChanges() const {
    return services_.hasPending() || endpoints_.hasPending() || node_labels_changed_ || service_cidrs_changed_;
  }

  // Applies everything pending and returns the new snapshot with what changed.
  std::pair<ProxySnapshotPtr, UpdateResult> checkout();

  const std::string& nodeName() const { return options_.node_name; }
  IpFamily family() const { return options_.family; }

 private:
  Options options_;
  ServiceChangeTracker services_;
  EndpointsChangeTracker endpoints_;
  ServicePortMap service_map_;
  EndpointsMap endpoints_map_;
  std::map<std::string, std::string> node_labels_;
  bool node_labels_changed_ = false;
  std::map<std::string, std::shared_ptr<const api::ServiceCIDR>> service_cidr_objects_;  // by name
  std::vector<Cidr> service_cidrs_;
  bool service_cidrs_changed_ = false;
};

}  // namespace kproxy::tracker
