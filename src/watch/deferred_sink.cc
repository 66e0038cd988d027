#include "src/watch/deferred_sink.h"

namespace kproxy::watch {

void DeferredSink::deliver(ObjectEventSink& target, const Held& event) {
  std::visit(
      [&target](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, ObjectEvent<api::Service>>) {
          target.onService(e);
        } else if constexpr (std::is_same_v<T, ObjectEvent<api::EndpointSlice>>) {
          target.onEndpointSlice(e);
        } else if constexpr (std::is_same_v<T, ObjectEvent<api::Node>>) {
          target.onNode(e);
        } else {
          target.onSynced(e);
        }
      },
      event);
}

// The lock is held while forwarding so that attach()'s replay and later events cannot
// interleave; the source calls the sink from one thread at a time anyway.
void DeferredSink::holdOrForward(Held event) {
  std::lock_guard lock(mu_);
  if (target_ != nullptr) {
    deliver(*target_, event);
  } else {
    held_.push_back(std::move(event));
  }
}

void DeferredSink::onService(const ObjectEvent<api::Service>& e) { holdOrForward(e); }
void DeferredSink::onEndpointSlice(const ObjectEvent<api::EndpointSlice>& e) { holdOrForward(e); }
void DeferredSink::onSynced(ObjectKind kind) { holdOrForward(kind); }

void DeferredSink::onNode(const ObjectEvent<api::Node>& e) {
  const auto& object = e.current ? e.current : e.previous;
  const bool ours = object && (node_name_.empty() || object->meta.name == node_name_);
  {
    std::lock_guard lock(mu_);
    if (ours) node_ = e.current;
    if (target_ != nullptr) {
      target_->onNode(e);
    } else if (!ours) {
      held_.push_back(e);
    }
    // Versions of this node's Node seen before attach() are not replayed one by one: the
    // daemon configured itself from the latest, and an older one would look like a change.
  }
  if (ours) node_changed_.notify_all();
}

void DeferredSink::attach(ObjectEventSink& target) {
  std::lock_guard lock(mu_);
  if (node_) target.onNode(ObjectEvent<api::Node>{nullptr, node_});
  for (const auto& event : held_) deliver(target, event);
  held_.clear();
  held_.shrink_to_fit();
  target_ = &target;
}

std::shared_ptr<const api::Node> DeferredSink::node() const {
  std::lock_guard lock(mu_);
  return node_;
}

std::shared_ptr<const api::Node> DeferredSink::waitForNode(const NodeReady& ready, std::chrono::milliseconds timeout,
                                                           std::stop_token stop) {
  std::unique_lock lock(mu_);
  const bool ok = node_changed_.wait_for(lock, stop, timeout, [&] { return node_ && ready(*node_); });
  return ok ? node_ : nullptr;
}

size_t DeferredSink::heldEvents() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

}  // namespace kproxy::watch
