// ServiceChangeTracker: accumulates Service events between syncs as (previous, current) pairs of
// service-port maps per Service, and applies them to the ServicePortMap at sync time
// (upstream pkg/proxy/servicechangetracker.go; spec iptables-mode.md §7.4).
#pragma once

#include <map>
#include <set>
#include <vector>

#include "src/api/objects.h"
#include "src/tracker/service_port.h"
#include "src/util/ip.h"

namespace kproxy::tracker {

using ServicePortMap = std::map<ServicePortName, ServicePortInfoPtr>;

struct ServiceUpdateResult {
  std::set<api::NamespacedName> updated_services;
  // Cluster IPs of UDP service ports that were deleted (their conntrack entries are stale).
  std::set<IpAddress> deleted_udp_cluster_ips;
};

class ServiceChangeTracker {
 public:
  explicit ServiceChangeTracker(IpFamily family) : family_(family) {}

  // Records a change; `previous` is null for an add, `current` null for a delete. Returns true
  // when a change is pending for the Service afterwards (a change kube-proxy does not see, such
  // as a label edit, or an add followed by a delete, leaves nothing pending).
  bool update(const api::Service* previous, const api::Service* current);

  // Applies all pending changes to `map` and clears them.
  ServiceUpdateResult applyTo(ServicePortMap& map);

  bool hasPending() const { return !pending_.empty(); }
  size_t pendingCount() const { return pending_.size(); }

 private:
  struct Change {
    ServicePortMap previous;
    ServicePortMap current;
  };
  ServicePortMap toServicePortMap(const api::Service* service) const;

  IpFamily family_;
  std::map<api::NamespacedName, Change> pending_;
};

}  // namespace kproxy::tracker
