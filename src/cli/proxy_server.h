// ProxyServer: the daemon's core for iptables mode (upstream's ProxyServer with its meta proxier):
// per IP family a change tracker, a proxier and a sync runner; object events come in through
// sink(); syncs wait until Services and EndpointSlices have been listed once; a canary monitor
// forces a full sync when someone flushes our tables.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>
#include <vector>

#include "modes/iptables/proxier.h"
#include "src/cli/tracker_feed.h"
#include "src/proxy/sync_runner.h"

namespace kproxy::cli {

struct FamilyProxy {
  IpFamily family;
  std::unique_ptr<tracker::ProxyStateTracker> tracker;
  std::unique_ptr<iptables::IptablesProxier> proxier;
  std::unique_ptr<proxy::SyncRunner> runner;
  std::mutex tracker_mu;                    // tracker: event thread vs sync thread
  std::atomic<bool> force_full{false};      // set by the canary monitor
  std::atomic<int> syncs{0}, failures{0};
  // Guarded by tracker_mu: Services whose changes are pending (kubeproxy_sync_proxy_rules_service_changes_pending).
  std::set<api::NamespacedName> pending_services;
  // Runner thread only: what makes the next sync full, mirrored from the proxier for the
  // partial-restore-failure metric.
  bool next_sync_full = true;
  std::optional<SteadyTime> last_full_sync;
};

// One sync attempt, as the observer sees it.
struct SyncOutcome {
  IpFamily family;
  const Result<proxy::SyncReport>& result;
  // Whether the attempt was (expected to be) a partial sync: known from the report on success;
  // on failure ProxyServer's own bookkeeping of what makes a sync full (first sync, forced, after a
  // failure, node labels changed, an hour since the last full one).
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
    std::chrono::nanoseconds sync_period{std::chrono::seconds(30)};  // retry delay and canary interval
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
  void onSynced(watch::ObjectKind kind) override;

  // Starts the runner threads and the canary monitor.
  void start();
  void stop();

  // Syncs every family now, in the calling thread (kproxy sync). Returns the first error.
  Status syncAllNow();

  const std::vector<std::unique_ptr<FamilyProxy>>& families() const { return families_; }

 private:
  void syncFamily(FamilyProxy& f);
  Result<proxy::SyncReport> syncOnce(FamilyProxy& f);
  std::pair<tracker::ProxySnapshotPtr, tracker::UpdateResult> checkout(FamilyProxy& f);
  void requestSync(FamilyProxy& f, bool pending, bool initialized);
  void canaryLoop(std::stop_token stop);

  std::vector<std::unique_ptr<FamilyProxy>> families_;
  Options options_;
  const Clock& clock_;
  ProxyServerObserver* observer_;
  std::atomic<bool> services_synced_{false}, slices_synced_{false};
  std::vector<std::jthread> threads_;
};

}  // namespace kproxy::cli
