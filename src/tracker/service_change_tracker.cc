#include "src/tracker/service_change_tracker.h"

namespace kproxy::tracker {
namespace {

bool sameServicePorts(const ServicePortMap& a, const ServicePortMap& b) {
  if (a.size() != b.size()) return false;
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    if (ia->first != ib->first || !(*ia->second == *ib->second)) return false;
  }
  return true;
}

}  // namespace

ServicePortMap ServiceChangeTracker::toServicePortMap(const api::Service* service) const {
  ServicePortMap map;
  if (service == nullptr) return map;
  for (auto& info : buildServicePorts(*service, family_)) {
    auto key = info->name;
    map[key] = std::move(info);
  }
  return map;
}

bool ServiceChangeTracker::update(const api::Service* previous, const api::Service* current) {
  const api::Service* any = current != nullptr ? current : previous;
  if (any == nullptr) return false;
  auto name = any->meta.namespacedName();

  auto it = pending_.find(name);
  if (it == pending_.end()) {
    // upstream: the first event since the last sync fixes `previous` from the event's old object.
    it = pending_.emplace(name, Change{toServicePortMap(previous), {}}).first;
  }
  it->second.current = toServicePortMap(current);
  if (sameServicePorts(it->second.previous, it->second.current)) {
    pending_.erase(it);
  }
  return !pending_.empty();
}

ServiceUpdateResult ServiceChangeTracker::applyTo(ServicePortMap& map) {
  ServiceUpdateResult result;
  for (auto& [name, change] : pending_) {
    result.updated_services.insert(name);
    for (const auto& [port_name, info] : change.current) map[port_name] = info;
    // Ports in `previous` that are not in `current` are gone.
    for (const auto& [port_name, info] : change.previous) {
      if (change.current.count(port_name) != 0) continue;
      if (info->protocol == api::Protocol::kUDP) result.deleted_udp_cluster_ips.insert(info->cluster_ip);
      map.erase(port_name);
    }
  }
  pending_.clear();
  return result;
}

}  // namespace kproxy::tracker
