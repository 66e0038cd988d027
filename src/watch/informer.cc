#include "src/watch/informer.h"

#include <simdjson.h>

#include "src/api/decode.h"
#include "src/util/heap.h"

namespace kproxy::watch {
namespace {

template <typename T>
struct Kind;

template <>
struct Kind<api::Service> {
  static constexpr ObjectKind kKind = ObjectKind::kService;
  static constexpr std::string_view kListHeader = R"({"apiVersion":"v1","kind":"ServiceList","items":[)";
  static constexpr bool kNamespaced = true;
  static auto& objects(api::ClusterState& s) { return s.services; }
  static void emit(ObjectEventSink& sink, const ObjectEvent<api::Service>& e) { sink.onService(e); }
};

template <>
struct Kind<api::EndpointSlice> {
  static constexpr ObjectKind kKind = ObjectKind::kEndpointSlice;
  static constexpr std::string_view kListHeader =
      R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSliceList","items":[)";
  static constexpr bool kNamespaced = true;
  static auto& objects(api::ClusterState& s) { return s.endpoint_slices; }
  static void emit(ObjectEventSink& sink, const ObjectEvent<api::EndpointSlice>& e) { sink.onEndpointSlice(e); }
};

template <>
struct Kind<api::Node> {
  static constexpr ObjectKind kKind = ObjectKind::kNode;
  static constexpr std::string_view kListHeader = R"({"apiVersion":"v1","kind":"NodeList","items":[)";
  static constexpr bool kNamespaced = false;
  static auto& objects(api::ClusterState& s) { return s.nodes; }
  static void emit(ObjectEventSink& sink, const ObjectEvent<api::Node>& e) { sink.onNode(e); }
};

// Forwards what emitDifference reports for kind T (the other kinds are empty).
template <typename T>
class KindSink final : public ObjectEventSink {
 public:
  explicit KindSink(std::function<void(const ObjectEvent<T>&)> emit) : emit_(std::move(emit)) {}
  void onService(const ObjectEvent<api::Service>& e) override { forward(e); }
  void onEndpointSlice(const ObjectEvent<api::EndpointSlice>& e) override { forward(e); }
  void onNode(const ObjectEvent<api::Node>& e) override { forward(e); }
  void onSynced(ObjectKind) override {}

 private:
  template <typename U>
  void forward(const ObjectEvent<U>& e) {
    if constexpr (std::is_same_v<T, U>) emit_(e);
  }
  std::function<void(const ObjectEvent<T>&)> emit_;
};

// The parser that checks a whole answer before it is decoded; per thread (each reflector has
// its own), kept between calls so that small watch events allocate nothing.
simdjson::dom::parser& syntaxCheckParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

// After a list the parsers of this thread are sized to the largest page (several megabytes per
// 500 EndpointSlices, about nine times the page for the syntax check's tape): free them, and
// give the pages back, rather than keep them for watch events of a few kilobytes.
void releaseListBuffers() {
  syntaxCheckParser() = simdjson::dom::parser{};
  api::releaseDecoderBuffers();
  returnFreeHeapToKernel();
}

}  // namespace

template <typename T>
Informer<T>::Informer(ObjectEventSink& sink, ErrorReporter report_error)
    : sink_(sink), report_error_(std::move(report_error)) {}

template <typename T>
std::vector<std::shared_ptr<const T>> Informer<T>::list() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<const T>> out;
  out.reserve(store_.size());
  for (const auto& [name, object] : store_) out.push_back(object);
  return out;
}

template <typename T>
void Informer<T>::emit(const ObjectEvent<T>& event) {
  Kind<T>::emit(sink_, event);
}

template <typename T>
Result<std::vector<std::shared_ptr<const T>>> Informer<T>::decode(std::string bytes) {
  // The whole text is checked first: the decoder reads only the fields it knows, and a broken
  // answer must be refused as a whole (the reflector lists again), never read as "no objects".
  {
    simdjson::dom::parser& parser = syntaxCheckParser();
    bytes.reserve(bytes.size() + simdjson::SIMDJSON_PADDING);
    simdjson::padded_string_view json(bytes.data(), bytes.size(), bytes.capacity());
    if (auto e = parser.parse(json).error(); e != simdjson::SUCCESS) {
      return Error(std::string("JSON syntax error: ") + simdjson::error_message(e));
    }
  }
  api::DecodeResult decoded = api::decodeManifests({api::ManifestFile{"", std::move(bytes)}});
  for (const Error& e : decoded.errors) report_error_(e.message);
  if (decoded.syntax_error) return Error("cannot parse the answer");
  auto& objects = Kind<T>::objects(decoded.state);
  return std::vector<std::shared_ptr<const T>>(objects.begin(), objects.end());
}

template <typename T>
void Informer<T>::beginList() {
  std::lock_guard lock(mu_);
  pending_.clear();
}

template <typename T>
Status Informer<T>::addListPage(std::string body) {
  auto objects = decode(std::move(body));
  if (!objects.ok()) return objects.error();
  std::lock_guard lock(mu_);
  pending_.insert(pending_.end(), objects->begin(), objects->end());
  return okStatus();
}

template <typename T>
void Informer<T>::abortList() {
  {
    std::lock_guard lock(mu_);
    pending_.clear();
  }
  releaseListBuffers();
}

template <typename T>
void Informer<T>::endList() {
  {
    std::lock_guard lock(mu_);
    api::ClusterState before, after;
    auto& before_objects = Kind<T>::objects(before);
    for (const auto& [name, object] : store_) before_objects.push_back(object);
    std::map<api::NamespacedName, std::shared_ptr<const T>> next;
    for (auto& object : pending_) next[object->meta.namespacedName()] = std::move(object);
    pending_.clear();
    auto& after_objects = Kind<T>::objects(after);
    for (const auto& [name, object] : next) after_objects.push_back(object);
    // Only what changed: a relist after a broken watch repeats nothing the sink already has.
    KindSink<T> forward([this](const ObjectEvent<T>& e) { emit(e); });
    emitDifference(before, after, forward);
    store_ = std::move(next);
  }
  releaseListBuffers();
  if (!synced_.exchange(true)) sink_.onSynced(Kind<T>::kKind);
}

template <typename T>
Status Informer<T>::applyEvent(WatchEventType type, const api::NamespacedName& event_name, std::string_view object) {
  api::NamespacedName name = event_name;
  if constexpr (Kind<T>::kNamespaced) {
    if (name.namespace_.empty()) name.namespace_ = "default";  // as the decoder defaults it
  } else {
    name.namespace_.clear();
  }
  std::shared_ptr<const T> current;
  if (type != WatchEventType::kDeleted) {
    // One object wrapped in a typed list, so that the decoder fills in a missing kind and
    // apiVersion as it does for list items.
    std::string bytes;
    bytes.reserve(Kind<T>::kListHeader.size() + object.size() + 2 + api::kManifestPadding);
    bytes.append(Kind<T>::kListHeader).append(object).append("]}");
    auto decoded = decode(std::move(bytes));
    if (!decoded.ok()) return decoded.error();
    for (auto& o : *decoded) {
      if (o->meta.namespacedName() == name) current = o;
    }
  }
  std::lock_guard lock(mu_);
  auto it = store_.find(name);
  std::shared_ptr<const T> previous = it == store_.end() ? nullptr : it->second;
  if (current) {
    store_[name] = current;
    emit(ObjectEvent<T>{previous, current});
  } else if (previous) {
    // Deleted, left the selection, or no longer valid: absent from now on.
    store_.erase(it);
    emit(ObjectEvent<T>{previous, nullptr});
  }
  return okStatus();
}

template class Informer<api::Service>;
template class Informer<api::EndpointSlice>;
template class Informer<api::Node>;

}  // namespace kproxy::watch
