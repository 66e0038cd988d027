#include "src/tracker/endpoints_change_tracker.h"

#include <cstdio>
#include <ctime>

namespace kproxy::tracker {
namespace {

bool hasUdpPort(const EndpointsMap& map) {
  for (const auto& [name, list] : map) {
    if (name.protocol == api::Protocol::kUDP) return true;
  }
  return false;
}

}  // namespace

bool parseRfc3339(const std::string& text, WallTime* out) {
  int year, month, day, hour, minute, second;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &year, &month, &day, &hour, &minute, &second,
                  &consumed) != 6) {
    return false;
  }
  const char* rest = text.c_str() + consumed;
  long nanos = 0;
  if (*rest == '.') {
    ++rest;
    long scale = 100000000;
    while (*rest >= '0' && *rest <= '9') {
      nanos += (*rest - '0') * scale;
      scale /= 10;
      ++rest;
    }
  }
  long offset_seconds = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    int oh, om;
    if (std::sscanf(rest + 1, "%2d:%2d", &oh, &om) != 2) return false;
    offset_seconds = (oh * 3600L + om * 60L) * (*rest == '-' ? -1 : 1);
    rest += 6;
  } else {
    return false;
  }
  if (*rest != '\0') return false;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  time_t t = timegm(&tm);
  if (t == static_cast<time_t>(-1)) return false;
  *out = WallTime(std::chrono::seconds(t - offset_seconds)) +
         std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos));
  return true;
}

bool EndpointsChangeTracker::endpointSliceUpdate(std::shared_ptr<const api::EndpointSlice> slice, bool remove) {
  if (!slice) return false;
  const char* wanted = family_ == IpFamily::kIPv4 ? "IPv4" : "IPv6";
  if (slice->address_type != wanted) return false;
  // upstream endpointSliceCacheKeys: the label, a namespace and a name are required.
  if (slice->serviceName().empty() || slice->meta.namespace_.empty() || slice->meta.name.empty()) return false;
  api::NamespacedName service{slice->meta.namespace_, slice->serviceName()};

  WallTime trigger{};
  bool has_trigger = false;
  if (!remove) {
    auto it = slice->meta.annotations.find(api::kAnnotationLastChangeTriggerTime);
    if (it != slice->meta.annotations.end()) has_trigger = parseRfc3339(it->second, &trigger);
  }
  if (!cache_.updatePending(std::move(slice), remove)) return false;
  ++pending_;
  // upstream: a delete's trigger time says nothing about this change, so it drops the service's
  // collected times; otherwise times after the tracker started are collected.
  if (remove) {
    trigger_times_.erase(service);
  } else if (has_trigger && trigger > start_time_) {
    trigger_times_[service].push_back(trigger);
  }
  return true;
}

EndpointsUpdateResult EndpointsChangeTracker::applyTo(EndpointsMap& map) {
  EndpointsUpdateResult result;
  for (auto& [service, change] : cache_.checkoutChanges()) {
    result.updated_services.insert(service);
    for (const auto& [port_name, list] : change.previous) map.erase(port_name);
    for (auto& [port_name, list] : change.current) map[port_name] = list;
    if (hasUdpPort(change.previous) || hasUdpPort(change.current)) result.conntrack_cleanup_required = true;
  }
  result.last_change_trigger_times = std::move(trigger_times_);
  trigger_times_.clear();
  pending_ = 0;
  return result;
}

}  // namespace kproxy::tracker
