// EndpointSliceCache: per Service, the EndpointSlices the last sync used ("applied") and the
// ones received since ("pending"); merges all slices of a Service into one endpoint list per
// service port (upstream pkg/proxy/endpointslicecache.go; spec iptables-mode.md §7.2, §7.5).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "src/api/objects.h"
#include "src/tracker/endpoint.h"
#include "src/tracker/service_port_name.h"

namespace kproxy::tracker {

using EndpointsMap = std::map<ServicePortName, std::shared_ptr<const EndpointList>>;

struct EndpointsChange {
  EndpointsMap previous;
  EndpointsMap current;
};

class EndpointSliceCache {
 public:
  EndpointSliceCache(std::string node_name, bool node_hints_enabled)
      : node_name_(std::move(node_name)), node_hints_enabled_(node_hints_enabled) {}

  // Records a slice add/update (remove=false) or delete (remove=true) as pending. Returns false
  // when it changes nothing: identical to what is pending or applied, or the delete of a slice
  // never seen. The slice must carry the kubernetes.io/service-name label.
  bool updatePending(std::shared_ptr<const api::EndpointSlice> slice, bool remove);

  // Moves every pending slice to applied and returns, per Service that had pending slices, the
  // endpoints before and after.
  std::map<api::NamespacedName, EndpointsChange> checkoutChanges();

  // The endpoints of one Service built from its applied slices.
  EndpointsMap endpointsFor(const api::NamespacedName& service) const;

 private:
  struct SliceData {
    std::shared_ptr<const api::EndpointSlice> slice;
    bool remove = false;
  };
  using SlicesByName = std::map<std::string, SliceData>;
  struct Tracker {
    SlicesByName applied;
    SlicesByName pending;
  };

  EndpointsMap buildEndpointsMap(const api::NamespacedName& service, const SlicesByName& slices) const;

  std::string node_name_;
  bool node_hints_enabled_;
  std::map<api::NamespacedName, Tracker> trackers_;
};

}  // namespace kproxy::tracker
