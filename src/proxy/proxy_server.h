// ProxyServer: the daemon's core, the same for every mode (upstream's ProxyServer with its meta
// proxier): per IP family a change tracker, a sync runner, a Proxier and an optional conntrack
// reconciler. Object events come in through the watch::ObjectEventSink interface; syncs wait
// until Services and EndpointSlices have been listed once; a maintenance thread checks each
// proxier's dataplane (forcing a full sync when it is gone) and runs its housekeeping. What the
// daemon's servers need (health, metrics) goes out through ProxyServerObserver.
//
// It knows no mode: modes/registry builds the proxiers and says which sync periods apply.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>
#include <vector>

#include "netlink/conntrack.h"
#include "src/proxy/conntrack_reconciler.h"
#include "src/proxy/proxier.h"
#include "src/proxy/sync_runner.h"
#include "src/tracker/snapshot.h"
#include "src/watch/object_events.h"

namespace kproxy::proxy {

// One IP family's pipeline. Build it with tracker, proxier and (optionally) the conntrack client;
// the server fills in the rest.
struct FamilyProxy {
  IpFamily family = IpFamily::kIPv4;
  std::unique_ptr<tracker::ProxyStateTracker> tracker;
  std::unique_ptr<Proxier> proxier;
  // Null: stale UDP flows are not cleared (no conntrack support).
  std::unique_ptr<netlink::ConntrackClient> conntrack_client;
  std::unique_ptr<ConntrackReconciler> conntrack;

  // ----- The server's own state. -----
  std::unique_ptr<SyncRunner> runner;
  std::mutex tracker_mu;                    // tracker: event thread vs sync thread
  std::mutex proxier_mu;                    // proxier: sync thread vs maintenance thread
  std::atomic<bool> force_full{false};      // set by the maintenance thread
  std::atomic<int> syncs{0}, failures{0};
  // Guarded by tracker_mu: Services whose changes are pending (kubeproxy_sync_proxy_rules_service_changes_pending).
  std::set<api::NamespacedName> pending_services;
  // Sync thread only: a failed sync consumed a UDP endpoint change, so the next successful one
  // reconciles conntrack even if its own changes do not ask for it.
  bool conntrack_owed = false;
  // Maintenance thread only.
  std::optional<SteadyTime> next_canary_check, next_housekeeping;
};

// One sync attempt, as the observer sees it.
struct SyncOutcome {
  IpFamily family;
  const Result<SyncReport>& result;
  // Whether the attempt was a partial sync: from the report on success, from the proxier's
  // answer before the attempt on failure.
  bool partial;
  std::chrono::nanoseconds duration;  // measured around the proxier's sync
  const tracker::ProxySnapshot& snapshot;
  const tracker::UpdateResult& changes;
};

// What the daemon's servers learn from the proxy server: upstream's healthz "queued update" and
// "updated" calls, the change counters, node events and every sync's outcome. Called from the
// event and runner threads; implementations are thread-safe.
class ProxyServerObserver {
 public:
  virtual ~ProxyServerObserver() = default;
  // A family's sync loop started (upstream SyncLoop: healthz updated, a synthetic queued time).
  virtual void onSyncLoopStarted(IpFamily) {}
  // An event left a change pending for an initialized family and a sync was requested
  // (upstream Proxier.Sync(): healthz QueuedUpdate and the last-queued timestamp).
  virtual void onSyncQueued(IpFamily) {}
  // A Service event reached a family's tracker; `services_pending`: Services with pending changes.
  virtual void onServiceChange(IpFamily, size_t /*services_pending*/) {}
  // An EndpointSlice event of the family's address type; `pending`: it changed something.
  virtual void onEndpointSliceChange(IpFamily, bool /*pending*/) {}
  // A family took its pending changes for a sync.
  virtual void onChangesCheckedOut(IpFamily) {}
  // This node's Node object changed (null: deleted).
  virtual void onNode(const api::Node* /*node*/) {}
  // After every sync attempt.
  virtual void onSync(const SyncOutcome&) {}
};

class ProxyServer final : public watch::ObjectEventSink {
 public:
  struct Options {
    std::chrono::nanoseconds min_sync_period{std::chrono::seconds(1)};
    // The runner's max interval: a sync at least this often (upstream: 1 h for iptables and
    // nftables, ipvs.syncPeriod for IPVS).
    std::chrono::nanoseconds max_sync_period{std::chrono::hours(1)};
    // Retry delay after a failed sync, and how often the dataplane check runs.
    std::chrono::nanoseconds sync_period{std::chrono::seconds(30)};
    int burst = 2;
  };
  // `observer` (may be null) outlives the server.
  ProxyServer(std::vector<std::unique_ptr<FamilyProxy>> families, Options options, const Clock& clock,
              ProxyServerObserver* observer = nullptr);
  ~ProxyServer() override;

  // watch::ObjectEventSink (thread-safe).
  void onService(const watch::ObjectEvent<api::Service>& e) override;
  void onEndpointSlice(const watch::ObjectEvent<api::EndpointSlice>& e) override;
  void onNode(const watch::ObjectEvent<api::Node>& e) override;
  void onServiceCIDR(const watch::ObjectEvent<api::ServiceCIDR>& e) override;
  void onSynced(watch::ObjectKind kind) override;

  // Each proxier's node setup (upstream NewProxier); the first error.
  Status setUpNode();

  // Starts the runner threads and the maintenance thread.
  void start();
  void stop();

  // Syncs every family now, in the calling thread (kproxy sync). Returns the first error.
  Status syncAllNow();

  // One pass of the maintenance thread at `now` (tests drive it with a fake clock): dataplane
  // checks and housekeeping that are due. Returns when the next pass is due.
  SteadyTime maintain(SteadyTime now);

  const std::vector<std::unique_ptr<FamilyProxy>>& families() const { return families_; }

 private:
  void syncFamily(FamilyProxy& f);
  Result<SyncReport> syncOnce(FamilyProxy& f);
  std::pair<tracker::ProxySnapshotPtr, tracker::UpdateResult> checkout(FamilyProxy& f);
  void requestSync(FamilyProxy& f, bool pending, bool initialized);
  void maintenanceLoop(std::stop_token stop);

  std::vector<std::unique_ptr<FamilyProxy>> families_;
  Options options_;
  const Clock& clock_;
  ProxyServerObserver* observer_;
  std::atomic<bool> services_synced_{false}, slices_synced_{false};
  std::vector<std::jthread> threads_;
};

}  // namespace kproxy::proxy
