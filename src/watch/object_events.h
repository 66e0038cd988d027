// Object events: what an informer (the API watcher, or a manifest file re-read on change) tells
// the proxy: an object was added, modified or deleted, and when a kind's initial list is complete.
// The sink (the daemon) feeds its change trackers from them; informers know nothing of proxying.
#pragma once

#include <memory>

#include "src/api/objects.h"

namespace kproxy::watch {

enum class ObjectKind { kService, kEndpointSlice, kNode, kServiceCIDR };

template <typename T>
struct ObjectEvent {
  std::shared_ptr<const T> previous;  // null for an add
  std::shared_ptr<const T> current;   // null for a delete
};

class ObjectEventSink {
 public:
  virtual ~ObjectEventSink() = default;
  virtual void onService(const ObjectEvent<api::Service>& event) = 0;
  virtual void onEndpointSlice(const ObjectEvent<api::EndpointSlice>& event) = 0;
  virtual void onNode(const ObjectEvent<api::Node>& event) = 0;
  // networking.k8s.io/v1 ServiceCIDRs (nftables mode); sinks that do not use them ignore them.
  virtual void onServiceCIDR(const ObjectEvent<api::ServiceCIDR>&) {}
  // The initial list of `kind` has been delivered (upstream: OnServiceSynced etc.).
  virtual void onSynced(ObjectKind kind) = 0;
};

// Emits the events that turn `previous` into `current` (objects matched by namespace/name;
// unchanged objects are reported as modified only when they differ). Nodes other than
// `node_name` are not reported ("" reports all).
void emitDifference(const api::ClusterState& previous, const api::ClusterState& current, ObjectEventSink& sink,
                    const std::string& node_name = "");

}  // namespace kproxy::watch
