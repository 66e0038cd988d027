// ProxyHealthState: upstream's ProxyHealthServer bookkeeping (pkg/proxy/healthcheck/proxy_health.go;
// spec ipvs-and-runtime.md §3.7). Per IP family: when the rules were last updated, and the oldest
// change queued since then. A family is unhealthy when a queued change has waited longer than the
// health timeout (2 × syncPeriod) without a successful sync; families that never queued anything
// are healthy (startup). /healthz additionally needs the node to be eligible (not being deleted,
// not tainted ToBeDeletedByClusterAutoscaler); /livez and the service health checks do not.
// Thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "src/api/objects.h"
#include "src/server/healthz_server.h"
#include "src/util/clock.h"
#include "src/util/ip.h"

namespace kproxy::proxy {

// upstream ToBeDeletedTaint (cluster autoscaler).
inline constexpr char kToBeDeletedTaint[] = "ToBeDeletedByClusterAutoscaler";

class ProxyHealthState final : public server::HealthSource {
 public:
  ProxyHealthState(const Clock& clock, std::chrono::nanoseconds health_timeout);

  // The family's rules reflect the current state (a successful sync, or the start of its loop).
  void updated(IpFamily family);
  // The family received a change it has not programmed yet; only the oldest one counts.
  void queuedUpdate(IpFamily family);
  // upstream SyncNode: eligible unless the Node has a deletion timestamp or the autoscaler's
  // to-be-deleted taint. Eligible until the first node event says otherwise.
  void syncNode(bool eligible);

  bool nodeEligible() const;
  // The proxy's own health, ignoring the node (what service health checks report).
  bool isHealthy() const;

  // What /healthz and /livez are built from (server::HealthSource).
  using Check = server::HealthzCheck;
  Check check() const override;

  std::chrono::nanoseconds healthTimeout() const { return health_timeout_; }

 private:
  struct Stamp {
    SteadyTime steady;
    WallTime wall;
  };
  struct Family {
    std::optional<Stamp> last_updated;
    std::optional<SteadyTime> oldest_pending_queued;
  };
  // Healthy, and the lastUpdated of the family that is not (or the latest of all).
  std::pair<bool, std::optional<Stamp>> healthLocked(SteadyTime now) const;
  std::string format(const Stamp& s) const;

  const Clock& clock_;
  const std::chrono::nanoseconds health_timeout_;
  const SteadyTime monotonic_origin_;  // Go's "m=+" counts from process start
  mutable std::mutex mu_;
  std::array<Family, 2> families_;
  bool node_eligible_ = true;
};

// upstream ProxyHealthServer.SyncNode: a node that is being deleted, or that the cluster
// autoscaler has tainted ToBeDeletedByClusterAutoscaler, is not eligible for traffic.
bool nodeEligibleForTraffic(const api::Node& node);

// Go time.Time.String() of a UTC time: "2023-09-13 08:49:21.542153427 +0000 UTC", with
// " m=+1208.114568624" appended when a monotonic reading (seconds since process start) is given.
std::string formatGoTime(WallTime t, std::optional<std::chrono::nanoseconds> monotonic = std::nullopt);

}  // namespace kproxy::proxy
