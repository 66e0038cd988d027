// ConntrackReconciler: one run of upstream's conntrack reconciler for one IP family (spec
// ipvs-and-runtime.md §2.1): dump the family's UDP entries, pick the stale ones (staleFlows, in
// conntrack_plan.h), delete them. The proxier runs it after a successful sync in which a UDP
// service port's endpoints changed (EndpointsUpdateResult::conntrack_cleanup_required) and exports
// the result as kubeproxy_conntrack_reconciler_sync_duration_seconds{ip_family} and
// kubeproxy_conntrack_reconciler_deleted_entries_total{ip_family}.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>

#include "netlink/conntrack.h"
#include "src/tracker/snapshot.h"
#include "src/util/result.h"

namespace kproxy::proxy {

struct ConntrackReconcileResult {
  IpFamily family = IpFamily::kIPv4;
  size_t dumped = 0;   // UDP entries read (a dump cut short by EINTR counts what was read)
  size_t stale = 0;    // entries the plan selected
  size_t deleted = 0;  // entries the kernel deleted (already-gone ones are not counted)
  // From the start of the dump to the end of the deletes (the duration histogram's sample).
  std::chrono::duration<double> duration{0};
  // A failed dump (nothing deleted) or failed deletes. Upstream logs it; the sync itself still counts
  // as successful.
  std::optional<Error> error;
};

class ConntrackReconciler {
 public:
  explicit ConntrackReconciler(netlink::ConntrackClient& client) : client_(client) {}

  // Reconciles the entries of snapshot.family against the snapshot.
  ConntrackReconcileResult reconcile(const tracker::ProxySnapshot& snapshot);

 private:
  netlink::ConntrackClient& client_;
};

}  // namespace kproxy::proxy
