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
};

// Called after every sync attempt (metrics, healthz, logs).
using SyncObserver = std::function<void(IpFamily, const Result<proxy::SyncReport>&)>;

class ProxyServer final : public watch::ObjectEventSink {
 public:
  struct Options {
    std::chrono::nanoseconds min_sync_period{std::chrono::seconds(1)};
    std::chrono::nanoseconds sync_period{std::chrono::seconds(30)};  // retry delay and canary interval
    int burst = 2;
  };
  ProxyServer(std::vector<std::unique_ptr<FamilyProxy>> families, Options options, const Clock& clock,
              SyncObserver observer = {});
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
  void canaryLoop(std::stop_token stop);
  template <typename Fn>
  void forEachTracker(Fn fn);

  std::vector<std::unique_ptr<FamilyProxy>> families_;
  Options options_;
  const Clock& clock_;
  SyncObserver observer_;
  std::atomic<bool> services_synced_{false}, slices_synced_{false};
  std::vector<std::jthread> threads_;
};

}  // namespace kproxy::cli
