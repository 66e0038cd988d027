// Proxier: one mode's programmer of one IP family. The sync runner calls sync() with the latest
// snapshot and what changed since the previous call (design.md: "interface Proxier").
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "src/tracker/snapshot.h"
#include "src/util/result.h"

namespace kproxy::proxy {

struct SyncReport {
  bool full_sync = false;
  std::chrono::nanoseconds duration{0};
  size_t bytes_written = 0;   // bytes sent to the kernel tools (iptables-restore input)
  size_t restores = 0;        // iptables-restore invocations
  // Rule counts for kubeproxy_sync_proxy_rules_iptables_{total,last}{table=...}.
  size_t filter_rules = 0;
  size_t nat_rules_total = 0;
  size_t nat_rules_last = 0;
  int no_local_endpoints_internal = 0;
  int no_local_endpoints_external = 0;
  // Conntrack reconciliation after the sync (when UDP endpoints changed).
  bool conntrack_reconciled = false;
  size_t conntrack_deleted = 0;
  std::chrono::nanoseconds conntrack_duration{0};
  std::string conntrack_error;  // "" when fine
};

class Proxier {
 public:
  virtual ~Proxier() = default;
  // Programs the kernel to `snapshot`. On error nothing half-applied remains in use (the previous
  // rules keep working) and the next call is a full sync.
  virtual Result<SyncReport> sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes) = 0;
  // The next sync is full (canary chains vanished, node labels changed, ...).
  virtual void requestFullSync() = 0;
};

}  // namespace kproxy::proxy
