#include "src/tracker/endpoint_slice_cache.h"

#include <algorithm>

namespace kproxy::tracker {
namespace {

bool sameSliceData(const std::shared_ptr<const api::EndpointSlice>& a, bool a_remove,
                   const std::shared_ptr<const api::EndpointSlice>& b, bool b_remove) {
  if (a_remove != b_remove) return false;
  if (a == b) return true;
  return a && b && a->sameContent(*b);
}

std::vector<std::string> sortedUnique(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

}  // namespace

bool EndpointSliceCache::updatePending(std::shared_ptr<const api::EndpointSlice> slice, bool remove) {
  api::NamespacedName service{slice->meta.namespace_, slice->serviceName()};
  const std::string& slice_name = slice->meta.name;
  auto tracker_it = trackers_.find(service);
  if (tracker_it != trackers_.end()) {
    Tracker& tracker = tracker_it->second;
    // Compare with the pending value if there is one, else with the applied one.
    if (auto p = tracker.pending.find(slice_name); p != tracker.pending.end()) {
      if (sameSliceData(slice, remove, p->second.slice, p->second.remove)) return false;
      p->second = SliceData{std::move(slice), remove};
      return true;
    }
    if (auto a = tracker.applied.find(slice_name); a != tracker.applied.end()) {
      if (sameSliceData(slice, remove, a->second.slice, a->second.remove)) return false;
      tracker.pending[slice_name] = SliceData{std::move(slice), remove};
      return true;
    }
  }
  // Not cached: a delete changes nothing, anything else is new.
  if (remove) return false;
  trackers_[service].pending[slice_name] = SliceData{std::move(slice), remove};
  return true;
}

std::map<api::NamespacedName, EndpointsChange> EndpointSliceCache::checkoutChanges() {
  std::map<api::NamespacedName, EndpointsChange> changes;
  for (auto it = trackers_.begin(); it != trackers_.end();) {
    Tracker& tracker = it->second;
    if (tracker.pending.empty()) {
      ++it;
      continue;
    }
    EndpointsChange change;
    change.previous = buildEndpointsMap(it->first, tracker.applied);
    for (auto& [name, data] : tracker.pending) {
      if (data.remove) {
        tracker.applied.erase(name);
      } else {
        tracker.applied[name] = std::move(data);
      }
    }
    tracker.pending.clear();
    change.current = buildEndpointsMap(it->first, tracker.applied);
    changes.emplace(it->first, std::move(change));
    if (tracker.applied.empty()) {
      it = trackers_.erase(it);
    } else {
      ++it;
    }
  }
  return changes;
}

EndpointsMap EndpointSliceCache::endpointsFor(const api::NamespacedName& service) const {
  auto it = trackers_.find(service);
  if (it == trackers_.end()) return {};
  return buildEndpointsMap(service, it->second.applied);
}

EndpointsMap EndpointSliceCache::buildEndpointsMap(const api::NamespacedName& service,
                                                   const SlicesByName& slices) const {
  // Per service port, every endpoint of every slice, in slice-name order (upstream: map order,
  // so the outcome of a duplicate is deterministic here).
  std::map<ServicePortName, std::vector<EndpointInfoPtr>> by_port;
  for (const auto& [slice_name, data] : slices) {
    const api::EndpointSlice& slice = *data.slice;
    for (const auto& port : slice.ports) {
      // upstream ignores ports without a name, and without a (non-zero) number.
      if (!port.name.has_value() || !port.port.has_value() || *port.port == 0) continue;
      auto& endpoints = by_port[ServicePortName{service, *port.name, port.protocol}];
      endpoints.reserve(endpoints.size() + slice.endpoints.size());
      for (const auto& ep : slice.endpoints) {
        if (ep.addresses.empty()) continue;
        auto ip = IpAddress::parseSloppy(ep.addresses[0]);
        if (!ip.ok()) continue;
        auto info = std::make_shared<EndpointInfo>();
        info->ip = *ip;
        info->port = *port.port;
        info->endpoint = joinHostPort(*ip, *port.port);
        info->is_local = ep.node_name.has_value() && !node_name_.empty() && *ep.node_name == node_name_;
        info->ready = !ep.conditions.ready.has_value() || *ep.conditions.ready;
        info->serving = !ep.conditions.serving.has_value() || *ep.conditions.serving;
        info->terminating = ep.conditions.terminating.has_value() && *ep.conditions.terminating;
        if (!ep.hints_for_zones.empty()) info->zone_hints = sortedUnique(ep.hints_for_zones);
        if (node_hints_enabled_ && !ep.hints_for_nodes.empty()) info->node_hints = sortedUnique(ep.hints_for_nodes);
        endpoints.push_back(std::move(info));
      }
    }
  }
  EndpointsMap result;
  for (auto& [port_name, endpoints] : by_port) {
    if (endpoints.empty()) continue;
    // upstream sorts by endpoint string (bytes: "10.1.1.11:11" before "10.1.1.1:11").
    std::stable_sort(endpoints.begin(), endpoints.end(),
                     [](const EndpointInfoPtr& a, const EndpointInfoPtr& b) { return a->endpoint < b->endpoint; });
    // The same endpoint twice (an IP reused by a new pod while the old one terminates, or an
    // endpoint moving between slices): upstream keeps the first copy unless a later one is not
    // terminating; a terminating copy never replaces an existing one.
    auto list = std::make_shared<EndpointList>();
    list->reserve(endpoints.size());
    for (auto& info : endpoints) {
      if (!list->empty() && list->back()->endpoint == info->endpoint) {
        if (!info->terminating) list->back() = std::move(info);
        continue;
      }
      list->push_back(std::move(info));
    }
    result.emplace_hint(result.end(), port_name, std::move(list));
  }
  return result;
}

}  // namespace kproxy::tracker
