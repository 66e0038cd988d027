// DeferredSink: the API source starts before the daemon's proxiers exist, because kube-proxy
// must first see this node's Node (its IPs and pod CIDRs configure the proxiers; upstream
// NodeManager). The source feeds this sink from the start; it holds every event, in order,
// and keeps the latest version of this node's Node, until attach() hands the held events to the real sink and
// forwards everything after that. Nothing is lost or reordered in the hand-over.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <variant>
#include <vector>

#include "src/watch/object_events.h"

namespace kproxy::watch {

class DeferredSink final : public ObjectEventSink {
 public:
  explicit DeferredSink(std::string node_name) : node_name_(std::move(node_name)) {}

  void onService(const ObjectEvent<api::Service>& e) override;
  void onEndpointSlice(const ObjectEvent<api::EndpointSlice>& e) override;
  void onNode(const ObjectEvent<api::Node>& e) override;
  void onSynced(ObjectKind kind) override;

  // Replays the held events into `target` (this node's Node first, as one add of its latest
  // version) and forwards every later one. `target` outlives
  // this sink's use by the source.
  void attach(ObjectEventSink& target);

  // This node's Node as last seen (null: not seen yet, or deleted).
  std::shared_ptr<const api::Node> node() const;

  // Waits until this node's Node satisfies `ready`, the timeout passes or `stop` is requested;
  // returns the Node then (null when it never became ready).
  using NodeReady = std::function<bool(const api::Node&)>;
  std::shared_ptr<const api::Node> waitForNode(const NodeReady& ready, std::chrono::milliseconds timeout,
                                               std::stop_token stop);

  size_t heldEvents() const;

 private:
  using Held = std::variant<ObjectEvent<api::Service>, ObjectEvent<api::EndpointSlice>, ObjectEvent<api::Node>,
                            ObjectKind>;
  static void deliver(ObjectEventSink& target, const Held& event);
  void holdOrForward(Held event);

  const std::string node_name_;
  mutable std::mutex mu_;
  std::condition_variable_any node_changed_;
  std::shared_ptr<const api::Node> node_;
  std::vector<Held> held_;
  ObjectEventSink* target_ = nullptr;
};

}  // namespace kproxy::watch
