#include "src/cli/proxy_server.h"

#include "src/util/log.h"

namespace kproxy::cli {

ProxyServer::ProxyServer(std::vector<std::unique_ptr<FamilyProxy>> families, Options options, const Clock& clock,
                         SyncObserver observer)
    : families_(std::move(families)), options_(options), clock_(clock), observer_(std::move(observer)) {
  for (auto& f : families_) {
    FamilyProxy* family = f.get();
    f->runner = std::make_unique<proxy::SyncRunner>(
        proxy::SyncRunner::Options{.min_interval = options_.min_sync_period,
                                   .max_interval = iptables::kFullSyncPeriod,
                                   .burst = options_.burst},
        clock_, [this, family] { syncFamily(*family); });
  }
}

ProxyServer::~ProxyServer() { stop(); }

template <typename Fn>
void ProxyServer::forEachTracker(Fn fn) {
  const bool initialized = services_synced_ && slices_synced_;
  for (auto& f : families_) {
    bool pending;
    {
      std::lock_guard lock(f->tracker_mu);
      pending = fn(*f->tracker);
    }
    // upstream: events only trigger syncs once the proxier is initialized.
    if (pending && initialized) f->runner->run();
  }
}

void ProxyServer::onService(const watch::ObjectEvent<api::Service>& e) {
  forEachTracker([&](tracker::ProxyStateTracker& t) {
    if (!e.previous) return t.onServiceAdd(*e.current);
    if (!e.current) return t.onServiceDelete(*e.previous);
    return t.onServiceUpdate(*e.previous, *e.current);
  });
}

void ProxyServer::onEndpointSlice(const watch::ObjectEvent<api::EndpointSlice>& e) {
  forEachTracker([&](tracker::ProxyStateTracker& t) {
    return e.current ? t.onEndpointSliceUpdate(e.current) : t.onEndpointSliceDelete(e.previous);
  });
}

void ProxyServer::onNode(const watch::ObjectEvent<api::Node>& e) {
  forEachTracker([&](tracker::ProxyStateTracker& t) { return t.onNodeUpdate(e.current.get()); });
}

void ProxyServer::onSynced(watch::ObjectKind kind) {
  const bool was = services_synced_ && slices_synced_;
  if (kind == watch::ObjectKind::kService) services_synced_ = true;
  if (kind == watch::ObjectKind::kEndpointSlice) slices_synced_ = true;
  // upstream: the synced callbacks sync once, unconditionally, when both lists are in.
  if (!was && services_synced_ && slices_synced_) {
    for (auto& f : families_) f->runner->run();
  }
}

void ProxyServer::syncFamily(FamilyProxy& f) {
  if (!(services_synced_ && slices_synced_)) {
    log::info(2, "Not syncing {} rules until Services and EndpointSlices have been received", ipFamilyName(f.family));
    return;
  }
  if (f.force_full.exchange(false)) f.proxier->requestFullSync();
  std::pair<tracker::ProxySnapshotPtr, tracker::UpdateResult> checkout;
  {
    std::lock_guard lock(f.tracker_mu);
    checkout = f.tracker->checkout();
  }
  auto result = f.proxier->sync(*checkout.first, checkout.second);
  ++f.syncs;
  if (!result.ok()) {
    ++f.failures;
    log::error("{} sync failed, retrying in {}s: {}", ipFamilyName(f.family),
               std::chrono::duration_cast<std::chrono::seconds>(options_.sync_period).count(), result.error().message);
    f.runner->retryAfter(options_.sync_period);
  } else {
    log::info(2, "{} {} sync: {} bytes in {} restore(s), {} ms", ipFamilyName(f.family),
              result->full_sync ? "full" : "partial", result->bytes_written, result->restores,
              std::chrono::duration_cast<std::chrono::milliseconds>(result->duration).count());
    if (!result->conntrack_error.empty()) log::error("conntrack reconciliation: {}", result->conntrack_error);
  }
  if (observer_) observer_(f.family, result);
}

Status ProxyServer::syncAllNow() {
  services_synced_ = true;
  slices_synced_ = true;
  for (auto& f : families_) {
    std::pair<tracker::ProxySnapshotPtr, tracker::UpdateResult> checkout;
    {
      std::lock_guard lock(f->tracker_mu);
      checkout = f->tracker->checkout();
    }
    auto result = f->proxier->sync(*checkout.first, checkout.second);
    if (observer_) observer_(f->family, result);
    if (!result.ok()) return result.error().wrap(std::string(ipFamilyName(f->family)) + " sync");
  }
  return okStatus();
}

void ProxyServer::canaryLoop(std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  while (!stop.stop_requested()) {
    for (auto& f : families_) {
      auto present = f->proxier->canariesPresent();
      if (present.ok() && !*present) {
        // Someone flushed our tables (a firewall reload): recreate the canaries, then resync all.
        log::warn("{} canary chains are gone: the tables were flushed; forcing a full sync", ipFamilyName(f->family));
        if (auto s = f->proxier->ensureCanaries(); !s.ok()) log::error("recreate canary chains: {}", s.error().message);
        f->force_full = true;
        f->runner->run();
      }
    }
    std::unique_lock lock(mu);
    cv.wait_for(lock, stop, options_.sync_period, [] { return false; });
  }
}

void ProxyServer::start() {
  for (auto& f : families_) {
    if (auto s = f->proxier->ensureCanaries(); !s.ok()) log::error("create canary chains: {}", s.error().message);
    threads_.emplace_back([runner = f->runner.get()](std::stop_token stop) { runner->loop(stop); });
  }
  threads_.emplace_back([this](std::stop_token stop) { canaryLoop(stop); });
}

void ProxyServer::stop() {
  for (auto& t : threads_) t.request_stop();
  threads_.clear();  // joins
}

}  // namespace kproxy::cli
