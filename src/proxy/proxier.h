// Proxier: one mode's programmer of one IP family, behind the mode-agnostic daemon core
// (ProxyServer). The core owns the trackers, the sync runner, conntrack reconciliation, health and
// metrics; a proxier only turns a snapshot into kernel state (design.md: "one daemon core, no mode
// inside it"). Every mode's proxier implements this interface and is built by modes/registry.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "src/tracker/snapshot.h"
#include "src/util/clock.h"
#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::proxy {

// Rules a mode owns in one table after a sync, for upstream's per-table rule gauges
// (kubeproxy_sync_proxy_rules_iptables_{total,last}{table}): `total` held in the kernel, `last`
// written by this sync.
struct TableRuleCount {
  std::string table;
  size_t total = 0;
  size_t last = 0;
};

struct SyncReport {
  bool full_sync = false;
  std::chrono::nanoseconds duration{0};
  size_t bytes_written = 0;         // payload sent to the kernel (restore input, netlink messages)
  size_t kernel_transactions = 0;   // restores / netlink batches sent
  std::vector<TableRuleCount> rule_counts;
  int no_local_endpoints_internal = 0;
  int no_local_endpoints_external = 0;
  // Filled by the core after the sync, when a UDP service port's endpoints changed.
  bool conntrack_reconciled = false;
  size_t conntrack_deleted = 0;
  std::chrono::nanoseconds conntrack_duration{0};
  std::string conntrack_error;  // "" when fine
};

class Proxier {
 public:
  virtual ~Proxier() = default;

  // The mode's configuration name ("iptables", "ipvs", "nftables"), for logs.
  virtual std::string_view mode() const = 0;
  virtual IpFamily family() const = 0;

  // What this mode needs of the node before its first sync (upstream NewProxier's setup: IPVS
  // usable, the mode's sysctls, the canary chains). Idempotent; run at start and by --init-only.
  virtual Status setUpNode() = 0;

  // False when someone removed what this proxier relies on (upstream's iptables canary monitor:
  // a firewall reload flushed our tables); the core then forces a full sync. Modes without such
  // a check answer true.
  virtual Result<bool> dataplaneIntact() { return true; }

  // Programs the kernel to `snapshot`. On error the next call is a full sync, and the previous
  // rules keep working as far as the kernel allows: iptables commits table by table, so a payload
  // refused in filter after nat was committed leaves the new nat in place until that full sync.
  virtual Result<SyncReport> sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes) = 0;

  // Whether a sync started now with `changes` would be full (the core needs it for the metrics of
  // a failed attempt, whose error does not say).
  virtual bool nextSyncIsFull(const tracker::UpdateResult& changes) const = 0;

  // The next sync is full (dataplane no longer intact, ...).
  virtual void requestFullSync() = 0;

  // What the last sync attempt did, for `kproxy sync -v` (IPVS: the applied change list and its
  // timings); "" when the mode has nothing to add.
  virtual std::string lastSyncDetails() const { return ""; }

  // Periodic work between syncs, on the sync thread (IPVS: graceful termination's sweep of
  // quiesced real servers). Zero interval: none.
  virtual std::chrono::nanoseconds housekeepingInterval() const { return std::chrono::nanoseconds::zero(); }
  virtual Status housekeeping() { return okStatus(); }
};

}  // namespace kproxy::proxy
