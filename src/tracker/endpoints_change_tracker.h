// EndpointsChangeTracker: turns EndpointSlice events into pending per-Service endpoint changes and
// applies them to the EndpointsMap at sync time (upstream pkg/proxy/endpointschangetracker.go,
// EndpointsMap.Update; spec iptables-mode.md §7.5).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "src/api/objects.h"
#include "src/tracker/endpoint_slice_cache.h"
#include "src/util/ip.h"

namespace kproxy::tracker {

using WallTime = std::chrono::system_clock::time_point;

struct EndpointsUpdateResult {
  std::set<api::NamespacedName> updated_services;
  // True when a changed Service has a UDP port before or after the change: the live proxier then
  // reconciles the UDP conntrack table (spec ipvs-and-runtime.md §2.1).
  bool conntrack_cleanup_required = false;
  // EndpointSlice last-change-trigger-time annotations, for the network programming latency metric.
  std::map<api::NamespacedName, std::vector<WallTime>> last_change_trigger_times;
};

class EndpointsChangeTracker {
 public:
  // `start_time`: annotations older than this are not latency observations (upstream).
  EndpointsChangeTracker(IpFamily family, std::string node_name, bool node_hints_enabled,
                         WallTime start_time = WallTime())
      : family_(family), cache_(std::move(node_name), node_hints_enabled), start_time_(start_time) {}

  // Add/update (remove=false) or delete (remove=true) of a slice. Slices of the other address
  // family (or FQDN) and slices without the kubernetes.io/service-name label are ignored.
  // Returns true when this event changed something pending.
  bool endpointSliceUpdate(std::shared_ptr<const api::EndpointSlice> slice, bool remove);

  // Applies all pending changes to `map`.
  EndpointsUpdateResult applyTo(EndpointsMap& map);

  bool hasPending() const { return pending_ != 0; }

 private:
  IpFamily family_;
  EndpointSliceCache cache_;
  WallTime start_time_;
  size_t pending_ = 0;
  std::map<api::NamespacedName, std::vector<WallTime>> trigger_times_;
};

// Parses an RFC 3339 timestamp ("2024-01-02T15:04:05Z", fractional seconds and offsets allowed).
bool parseRfc3339(const std::string& text, WallTime* out);

}  // namespace kproxy::tracker
