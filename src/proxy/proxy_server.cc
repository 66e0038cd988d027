#include "src/proxy/proxy_server.h"

#include <condition_variable>

#include "src/util/heap.h"
#include "src/util/log.h"

namespace kproxy::proxy {

ProxyServer::ProxyServer(std::vector<std::unique_ptr<FamilyProxy>> families, Options options, const Clock& clock,
                         ProxyServerObserver* observer)
    : families_(std::move(families)), options_(options), clock_(clock), observer_(observer) {
  for (auto& f : families_) {
    FamilyProxy* family = f.get();
    f->runner = std::make_unique<SyncRunner>(SyncRunner::Options{.min_interval = options_.min_sync_period,
                                                                 .max_interval = options_.max_sync_period,
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

void ProxyServer::onServiceCIDR(const watch::ObjectEvent<api::ServiceCIDR>& e) {
  const bool initialized = services_synced_ && slices_synced_;
  for (auto& f : families_) {
    bool pending;
    {
      std::lock_guard lock(f->tracker_mu);
      pending = f->tracker->onServiceCIDRUpdate(e.previous, e.current);
    }
    requestSync(*f, pending, initialized);
  }
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

Result<SyncReport> ProxyServer::syncOnce(FamilyProxy& f) {
  const SteadyTime start = clock_.now();
  std::lock_guard proxier_lock(f.proxier_mu);
  if (f.force_full.exchange(false)) f.proxier->requestFullSync();
  auto [snapshot, changes] = checkout(f);
  log::info(4, "{} tracker checkout: {:.1f} ms", ipFamilyName(f.family),
            std::chrono::duration<double, std::milli>(clock_.now() - start).count());
  const bool expect_full = f.proxier->nextSyncIsFull(changes);
  auto result = f.proxier->sync(*snapshot, changes);
  const std::chrono::nanoseconds took = clock_.now() - start;
  // upstream: each mode's syncProxyRules ends with the conntrack reconciler when a UDP service
  // port's endpoints changed; here it runs once for every mode. Unlike upstream, a change seen by
  // a failed attempt is not forgotten: the retry reconciles.
  const bool reconcile = changes.endpoints.conntrack_cleanup_required || f.conntrack_owed;
  if (!result.ok()) f.conntrack_owed = reconcile;
  if (result.ok() && reconcile && f.conntrack != nullptr) {
    f.conntrack_owed = false;
    auto ct = f.conntrack->reconcile(*snapshot);
    result->conntrack_reconciled = true;
    result->conntrack_deleted = ct.deleted;
    result->conntrack_duration = std::chrono::duration_cast<std::chrono::nanoseconds>(ct.duration);
    if (ct.error) result->conntrack_error = ct.error->message;
  }
  if (observer_ != nullptr) {
    observer_->onSync(SyncOutcome{.family = f.family,
                                  .result = result,
                                  .partial = result.ok() ? !result->full_sync : !expect_full,
                                  .duration = took,
                                  .snapshot = *snapshot,
                                  .changes = changes});
  }
  return result;
}

void ProxyServer::syncFamily(FamilyProxy& f) {
  if (!(services_synced_ && slices_synced_)) {
    log::info(2, "Not syncing {} {} rules until Services and EndpointSlices have been received",
              ipFamilyName(f.family), f.proxier->mode());
    return;
  }
  auto result = syncOnce(f);
  ++f.syncs;
  if (!result.ok()) {
    ++f.failures;
    log::error("{} {} sync failed, retrying in {}s: {}", ipFamilyName(f.family), f.proxier->mode(),
               std::chrono::duration_cast<std::chrono::seconds>(options_.sync_period).count(), result.error().message);
    f.runner->retryAfter(options_.sync_period);
  } else {
    log::info(2, "{} {} {} sync: {} bytes in {} transaction(s), {} ms", ipFamilyName(f.family), f.proxier->mode(),
              result->full_sync ? "full" : "partial", result->bytes_written, result->kernel_transactions,
              std::chrono::duration_cast<std::chrono::milliseconds>(result->duration).count());
    if (!result->conntrack_error.empty()) log::error("conntrack reconciliation: {}", result->conntrack_error);
    // A full sync's payload and what it read from the kernel are tens of megabytes at 10k services.
    if (result->full_sync) returnFreeHeapToKernel();
  }
}

Status ProxyServer::setUpNode() {
  for (auto& f : families_) {
    std::lock_guard lock(f->proxier_mu);
    if (auto s = f->proxier->setUpNode(); !s.ok()) return s.error().wrap(std::string(ipFamilyName(f->family)));
  }
  return okStatus();
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

SteadyTime ProxyServer::maintain(SteadyTime now) {
  SteadyTime next = now + options_.sync_period;
  for (auto& f : families_) {
    // upstream's iptables monitor: every syncPeriod, look for the canaries.
    if (!f->next_canary_check) f->next_canary_check = now + options_.sync_period;
    if (now >= *f->next_canary_check) {
      f->next_canary_check = now + options_.sync_period;
      Result<bool> intact = [&] {
        std::lock_guard lock(f->proxier_mu);
        return f->proxier->dataplaneIntact();
      }();
      if (!intact.ok()) {
        log::info(2, "{} dataplane check: {}", ipFamilyName(f->family), intact.error().message);
      } else if (!*intact) {
        // Someone flushed our tables (a firewall reload): the full sync puts everything back.
        log::warn("{} {} rules are gone (tables flushed?); forcing a full sync", ipFamilyName(f->family),
                  f->proxier->mode());
        f->force_full = true;
        f->runner->run();
      }
    }
    next = std::min(next, *f->next_canary_check);

    const std::chrono::nanoseconds every = f->proxier->housekeepingInterval();
    if (every.count() <= 0) continue;
    if (!f->next_housekeeping) f->next_housekeeping = now + every;
    if (now >= *f->next_housekeeping) {
      f->next_housekeeping = now + every;
      std::lock_guard lock(f->proxier_mu);
      if (auto s = f->proxier->housekeeping(); !s.ok()) {
        log::error("{} {} housekeeping: {}", ipFamilyName(f->family), f->proxier->mode(), s.error().message);
      }
    }
    next = std::min(next, *f->next_housekeeping);
  }
  return next;
}

void ProxyServer::maintenanceLoop(std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  while (!stop.stop_requested()) {
    const SteadyTime next = maintain(clock_.now());
    std::unique_lock lock(mu);
    const auto wait = std::max<std::chrono::nanoseconds>(next - clock_.now(), std::chrono::milliseconds(10));
    cv.wait_for(lock, stop, wait, [] { return false; });
  }
}

void ProxyServer::start() {
  for (auto& f : families_) {
    // upstream SyncLoop: healthz "updated" at the start, in case no sync ever succeeds.
    if (observer_ != nullptr) observer_->onSyncLoopStarted(f->family);
    threads_.emplace_back([runner = f->runner.get()](std::stop_token stop) { runner->loop(stop); });
  }
  threads_.emplace_back([this](std::stop_token stop) { maintenanceLoop(stop); });
}

void ProxyServer::stop() {
  for (auto& t : threads_) t.request_stop();
  threads_.clear();  // joins
}

}  // namespace kproxy::proxy
