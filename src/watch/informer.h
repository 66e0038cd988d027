// Informer<T>: the local store of one kind (Service, EndpointSlice, Node), kept by a Reflector,
// and the events it emits to an ObjectEventSink: ObjectEvent{previous, current} for each watch
// event, the difference against the store after each (re)list (so that an object deleted while
// the watch was down is reported deleted, and an unchanged one is not reported at all), and
// onSynced(kind) after the first complete list. It knows nothing of proxying.
//
// Objects are decoded by src/api (the same simdjson walker and validation as manifests). An
// object that fails to decode or validate is reported through the error reporter, naming it
// ("Service default/web: spec.ports[0].port: ..."), and treated as absent: it is left out of the
// store, and if an earlier version of it was in the store, a delete is emitted. Everything else
// goes on.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "src/api/objects.h"
#include "src/watch/object_events.h"
#include "src/watch/reflector.h"

namespace kproxy::watch {

template <typename T>
class Informer final : public ListWatchStore {
 public:
  using ErrorReporter = std::function<void(const std::string&)>;
  Informer(ObjectEventSink& sink, ErrorReporter report_error);

  // True once the first complete list was delivered.
  bool synced() const { return synced_.load(); }
  // The store's objects, sorted by namespace/name.
  std::vector<std::shared_ptr<const T>> list() const;

  // ListWatchStore
  void beginList() override;
  Status addListPage(std::string body) override;
  void endList() override;
  void abortList() override;
  Status applyEvent(WatchEventType type, const api::NamespacedName& name, std::string_view object) override;

 private:
  // The objects of `bytes` (a list of this kind, or one object); problems are reported.
  Result<std::vector<std::shared_ptr<const T>>> decode(std::string bytes);
  void emit(const ObjectEvent<T>& event);

  ObjectEventSink& sink_;
  ErrorReporter report_error_;
  mutable std::mutex mu_;
  std::map<api::NamespacedName, std::shared_ptr<const T>> store_;
  std::vector<std::shared_ptr<const T>> pending_;
  std::atomic<bool> synced_{false};
};

extern template class Informer<api::Service>;
extern template class Informer<api::EndpointSlice>;
extern template class Informer<api::Node>;

}  // namespace kproxy::watch
