// Feeds object events into a change tracker per IP family (what upstream's meta proxier does with
// the informer callbacks), and says when a sync is needed.
#pragma once

#include <functional>
#include <vector>

#include "src/tracker/snapshot.h"
#include "src/watch/object_events.h"

namespace kproxy::cli {

class TrackerFeed final : public watch::ObjectEventSink {
 public:
  // `on_change(i)` is called when tracker i has something pending after an event.
  TrackerFeed(std::vector<tracker::ProxyStateTracker*> trackers, std::function<void(size_t)> on_change = {})
      : trackers_(std::move(trackers)), on_change_(std::move(on_change)) {}

  void onService(const watch::ObjectEvent<api::Service>& e) override;
  void onEndpointSlice(const watch::ObjectEvent<api::EndpointSlice>& e) override;
  void onNode(const watch::ObjectEvent<api::Node>& e) override;
  void onServiceCIDR(const watch::ObjectEvent<api::ServiceCIDR>& e) override;
  void onSynced(watch::ObjectKind kind) override;

  bool servicesSynced() const { return services_synced_; }
  bool endpointSlicesSynced() const { return slices_synced_; }

 private:
  void changed(size_t i, bool pending);

  std::vector<tracker::ProxyStateTracker*> trackers_;
  std::function<void(size_t)> on_change_;
  bool services_synced_ = false;
  bool slices_synced_ = false;
};

}  // namespace kproxy::cli
