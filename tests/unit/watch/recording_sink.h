// RecordingSink: an ObjectEventSink that logs every event as one line ("add Service default/web
// rv=5", "update ...", "delete ...", "synced Service") and keeps the view a daemon would have.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "src/watch/object_events.h"

namespace kproxy::watch::testing {

class RecordingSink final : public ObjectEventSink {
 public:
  void onService(const ObjectEvent<api::Service>& e) override { record("Service", e, services_); }
  void onEndpointSlice(const ObjectEvent<api::EndpointSlice>& e) override { record("EndpointSlice", e, slices_); }
  void onNode(const ObjectEvent<api::Node>& e) override { record("Node", e, nodes_); }
  void onSynced(ObjectKind kind) override {
    std::lock_guard lock(mu_);
    const char* name = kind == ObjectKind::kService ? "Service" : kind == ObjectKind::kEndpointSlice ? "EndpointSlice" : "Node";
    lines_.push_back(std::string("synced ") + name);
  }

  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }
  std::vector<std::string> take() {
    std::lock_guard lock(mu_);
    return std::exchange(lines_, {});
  }
  // The sink's view: "namespace/name rv" per object of a kind, sorted.
  std::vector<std::string> view(const std::string& kind) const {
    std::lock_guard lock(mu_);
    const auto& m = kind == "Service" ? services_ : kind == "EndpointSlice" ? slices_ : nodes_;
    std::vector<std::string> out;
    for (const auto& [name, rv] : m) out.push_back(name + " " + rv);
    return out;
  }
  // Problems seen: an add for an object already present, an update or delete of one absent,
  // an event whose `previous` is not what the sink has.
  std::vector<std::string> problems() const {
    std::lock_guard lock(mu_);
    return problems_;
  }

 private:
  template <typename T>
  void record(const char* kind, const ObjectEvent<T>& e, std::map<std::string, std::string>& view) {
    std::lock_guard lock(mu_);
    const auto& any = e.current ? e.current : e.previous;
    const std::string name = any->meta.namespacedName().toString();
    std::string verb = !e.previous ? "add" : !e.current ? "delete" : "update";
    lines_.push_back(verb + " " + kind + " " + name + " rv=" + any->meta.resource_version);
    auto it = view.find(name);
    if (e.previous) {
      if (it == view.end()) {
        problems_.push_back(verb + " of absent " + name);
      } else if (it->second != e.previous->meta.resource_version) {
        problems_.push_back(verb + " " + name + ": previous rv " + e.previous->meta.resource_version +
                            " but the sink has " + it->second);
      }
    } else if (it != view.end()) {
      problems_.push_back("add of present " + name);
    }
    if (e.current) {
      view[name] = e.current->meta.resource_version;
    } else {
      view.erase(name);
    }
  }

  mutable std::mutex mu_;
  std::vector<std::string> lines_;
  std::vector<std::string> problems_;
  std::map<std::string, std::string> services_, slices_, nodes_;
};

}  // namespace kproxy::watch::testing
