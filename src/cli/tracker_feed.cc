#include "src/cli/tracker_feed.h"

namespace kproxy::cli {

void TrackerFeed::changed(size_t i, bool pending) {
  if (pending && on_change_) on_change_(i);
}

void TrackerFeed::onService(const watch::ObjectEvent<api::Service>& e) {
  for (size_t i = 0; i < trackers_.size(); ++i) {
    auto* t = trackers_[i];
    bool pending;
    if (!e.previous) {
      pending = t->onServiceAdd(*e.current);
    } else if (!e.current) {
      pending = t->onServiceDelete(*e.previous);
    } else {
      pending = t->onServiceUpdate(*e.previous, *e.current);
    }
    changed(i, pending);
  }
}

void TrackerFeed::onEndpointSlice(const watch::ObjectEvent<api::EndpointSlice>& e) {
  for (size_t i = 0; i < trackers_.size(); ++i) {
    auto* t = trackers_[i];
    bool pending = e.current ? t->onEndpointSliceUpdate(e.current) : t->onEndpointSliceDelete(e.previous);
    changed(i, pending);
  }
}

void TrackerFeed::onNode(const watch::ObjectEvent<api::Node>& e) {
  for (size_t i = 0; i < trackers_.size(); ++i) changed(i, trackers_[i]->onNodeUpdate(e.current.get()));
}

void TrackerFeed::onServiceCIDR(const watch::ObjectEvent<api::ServiceCIDR>& e) {
  for (size_t i = 0; i < trackers_.size(); ++i) changed(i, trackers_[i]->onServiceCIDRUpdate(e.previous, e.current));
}

void TrackerFeed::onSynced(watch::ObjectKind kind) {
  if (kind == watch::ObjectKind::kService) services_synced_ = true;
  if (kind == watch::ObjectKind::kEndpointSlice) slices_synced_ = true;
}

}  // namespace kproxy::cli
