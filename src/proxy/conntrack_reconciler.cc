#include "src/proxy/conntrack_reconciler.h"

#include "src/proxy/conntrack_plan.h"

namespace kproxy::proxy {

ConntrackReconcileResult ConntrackReconciler::reconcile(const tracker::ProxySnapshot& snapshot) {
  const auto start = std::chrono::steady_clock::now();
  ConntrackReconcileResult result;
  result.family = snapshot.family;
  auto finish = [&]() -> ConntrackReconcileResult {
    result.duration = std::chrono::steady_clock::now() - start;
    return result;
  };

  auto flows = client_.dumpUdp(snapshot.family);
  if (!flows.ok()) {
    // upstream: "Failed to list conntrack entries" ends the run; the duration is still observed.
    result.error = flows.error();
    return finish();
  }
  result.dumped = flows->size();

  std::vector<netlink::ConntrackFlow> stale = staleFlows(snapshot, *flows);
  result.stale = stale.size();
  if (stale.empty()) return finish();

  auto deleted = client_.remove(stale);
  if (deleted.ok()) {
    result.deleted = *deleted;
  } else {
    result.error = deleted.error();
  }
  return finish();
}

}  // namespace kproxy::proxy
