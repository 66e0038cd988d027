#include "src/cli/proxy_server.h"

#include "src/util/heap.h"
#include "src/util/log.h"

namespace kproxy::cli {

ProxyServer::ProxyServer(std::vector<std::unique_ptr<FamilyProxy>> families, Options options, const Clock& clock,
                         ProxyServerObserver* observer)
    : families_(std::move(families)), options_(options), clock_(clock), observer_(observer) {
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

void ProxyServer::requestSync(FamilyProxy& f, bool pending, bool initialized) {
  // upstream: events only trigger syncs once the proxier is initialized; Proxier.Sync() marks the
  // queued update for healthz first.
  if (!pending || !initialized) return;
  if (observer_ != nullptr) observer_->onSyncQueued(f.family);
  f.runner->run();
}

void ProxyServer::onService(const watch::ObjectEvent<api::Service>& e) {
  const bool initialized = services_synced_ && slices_synced_;
  const api::Service& service = e.current ? *e.current : *e.previous;
  const api::NamespacedName name = service.meta.namespacedName();
  for (auto& f : families_) {
    bool pending;
    size_t services_pending;
    {
      std::lock_guard lock(f->tracker_mu);
      tracker::ProxyStateTracker& t = *f->tracker;
      if (!e.previous) {
        pending = t.onServiceAdd(*e.current);
      } else if (!e.current) {
        pending = t.onServiceDelete(*e.previous);
      } else {
        pending = t.onServiceUpdate(*e.previous, *e.current);
      }
      if (pending) {
        f->pending_services.insert(name);
      } else {
        f->pending_services.erase(name);
      }
      services_pending = f->pending_services.size();
    }
    // upstream counts every Service event in each family's ServiceChangeTracker.
    if (observer_ != nullptr) observer_->onServiceChange(f->family, services_pending);
    requestSync(*f, pending, initialized);
  }
}

void ProxyServer::onEndpointSlice(const watch::ObjectEvent<api::EndpointSlice>& e) {
  const bool initialized = services_synced_ && slices_synced_;
  const api::EndpointSlice& slice = e.current ? *e.current : *e.previous;
  for (auto& f : families_) {
    bool pending;
    {
      std::lock_guard lock(f->tracker_mu);
      pending = e.current ? f->tracker->onEndpointSliceUpdate(e.current) : f->tracker->onEndpointSliceDelete(e.previous);
    }
    // upstream counts the slices of the tracker's address type that name their service.
    const bool counted = slice.address_type == ipFamilyName(f->family) && !slice.serviceName().empty();
    if (counted && observer_ != nullptr) observer_->onEndpointSliceChange(f->family, pending);
    requestSync(*f, pending, initialized);
  }
}

void ProxyServer::onNode(const watch::ObjectEvent<api::Node>& e) {
  const bool initialized = services_synced_ && slices_synced_;
  for (auto& f : families_) {
    bool pending;
    {
      std::lock_guard lock(f->tracker_mu);
      pending = f->tracker->onNodeUpdate(e.current.get());
    }
    requestSync(*f, pending, initialized);
  }
  if (observer_ != nullptr) observer_->onNode(e.current.get());
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

std::pair<tracker::ProxySnapshotPtr, tracker::UpdateResult> ProxyServer::checkout(FamilyProxy& f) {
  std::pair<tracker::ProxySnapshotPtr, tracker::UpdateResult> out;
  {
    std::lock_guard lock(f.tracker_mu);
    out = f.tracker->checkout();
    f.pending_services.clear();
  }
  if (observer_ != nullptr) observer_->onChangesCheckedOut(f.family);
  return out;
}

Result<proxy::SyncReport> ProxyServer::syncOnce(FamilyProxy& f) {
  const SteadyTime start = clock_.now();
  if (f.force_full.exchange(false)) {
    f.proxier->requestFullSync();
    f.next_sync_full = true;
  }
  auto [snapshot, changes] = checkout(f);
  log::info(4, "{} tracker checkout: {:.1f} ms", ipFamilyName(f.family),
            std::chrono::duration<double, std::milli>(clock_.now() - start).count());
  // The proxier decides full vs partial; this mirrors its rule so that a failed attempt can be
  // counted as a partial-restore failure (the error does not say which it was).
  const bool expect_full = f.next_sync_full || changes.node_labels_changed || !f.last_full_sync ||
                           start - *f.last_full_sync > iptables::kFullSyncPeriod;
  auto result = f.proxier->sync(*snapshot, changes);
  const std::chrono::nanoseconds took = clock_.now() - start;
  bool partial = !expect_full;
  if (result.ok()) {
    partial = !result->full_sync;
    if (result->full_sync) f.last_full_sync = start;
    f.next_sync_full = false;
  } else {
    f.next_sync_full = true;
  }
  if (observer_ != nullptr) {
    observer_->onSync(SyncOutcome{.family = f.family,
                                  .result = result,
                                  .partial = partial,
                                  .duration = took,
                                  .snapshot = *snapshot,
                                  .changes = changes});
  }
  return result;
}

void ProxyServer::syncFamily(FamilyProxy& f) {
  if (!(services_synced_ && slices_synced_)) {
    log::info(2, "Not syncing {} rules until Services and EndpointSlices have been received", ipFamilyName(f.family));
    return;
  }
  auto result = syncOnce(f);
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
    // A full sync's payload and the iptables-save it read are tens of megabytes at 10k services.
    if (result->full_sync) returnFreeHeapToKernel();
  }
}

Status ProxyServer::syncAllNow() {
  services_synced_ = true;
  slices_synced_ = true;
  for (auto& f : families_) {
    auto result = syncOnce(*f);
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
    // upstream SyncLoop: healthz "updated" at the start, in case no sync ever succeeds.
    if (observer_ != nullptr) observer_->onSyncLoopStarted(f->family);
    threads_.emplace_back([runner = f->runner.get()](std::stop_token stop) { runner->loop(stop); });
  }
  threads_.emplace_back([this](std::stop_token stop) { canaryLoop(stop); });
}

void ProxyServer::stop() {
  for (auto& t : threads_) t.request_stop();
  threads_.clear();  // joins
}

}  // namespace kproxy::cli
