#include "src/watch/api_source.h"

#include <mutex>
#include <thread>
#include <vector>

namespace kproxy::watch {

// The informers run on three threads; the daemon's sink and error reporter see one call at a
// time, as with FileObjectSource.
class ApiObjectSource::SerializedSink final : public ObjectEventSink {
 public:
  SerializedSink(ObjectEventSink& sink, ErrorReporter report_error)
      : sink_(sink), report_error_(std::move(report_error)) {}

  void onService(const ObjectEvent<api::Service>& e) override {
    std::lock_guard lock(mu_);
    sink_.onService(e);
  }
  void onEndpointSlice(const ObjectEvent<api::EndpointSlice>& e) override {
    std::lock_guard lock(mu_);
    sink_.onEndpointSlice(e);
  }
  void onNode(const ObjectEvent<api::Node>& e) override {
    std::lock_guard lock(mu_);
    sink_.onNode(e);
  }
  void onSynced(ObjectKind kind) override {
    std::lock_guard lock(mu_);
    sink_.onSynced(kind);
  }
  void reportError(const std::string& message) {
    std::lock_guard lock(mu_);
    if (report_error_) report_error_(message);
  }

 private:
  std::mutex mu_;
  ObjectEventSink& sink_;
  ErrorReporter report_error_;
};

ApiObjectSource::ApiObjectSource(ApiClientConfig config, std::string node_name, ObjectEventSink& sink,
                                 ErrorReporter report_error, ApiSourceOptions options)
    : ApiObjectSource(std::make_shared<CurlHttpTransport>(std::move(config)), std::move(node_name), sink,
                      std::move(report_error), std::move(options)) {}

ApiObjectSource::ApiObjectSource(std::shared_ptr<HttpTransport> transport, std::string node_name,
                                 ObjectEventSink& sink, ErrorReporter report_error, ApiSourceOptions options)
    : transport_(std::move(transport)),
      sink_(std::make_unique<SerializedSink>(sink, std::move(report_error))),
      services_(*sink_, [this](const std::string& m) { sink_->reportError(m); }),
      slices_(*sink_, [this](const std::string& m) { sink_->reportError(m); }),
      nodes_(*sink_, [this](const std::string& m) { sink_->reportError(m); }) {
  auto report = [this](const std::string& m) { sink_->reportError(m); };
  auto reflectorOptions = [&](std::string resource, std::string path, std::string labels, std::string fields,
                              uint64_t salt) {
    ReflectorOptions o;
    o.resource = std::move(resource);
    o.path = std::move(path);
    o.label_selector = std::move(labels);
    o.field_selector = std::move(fields);
    o.page_size = options.page_size;
    o.min_watch_timeout = options.min_watch_timeout;
    o.idle_timeout = options.idle_timeout;
    o.backoff = options.backoff;
    o.seed = options.seed == 0 ? 0 : options.seed + salt;
    return o;
  };
  service_reflector_ = std::make_unique<Reflector>(
      *transport_, services_,
      reflectorOptions("services", "/api/v1/services", kServiceProxyLabelSelector, options.service_field_selector, 1),
      report);
  slice_reflector_ = std::make_unique<Reflector>(
      *transport_, slices_,
      reflectorOptions("endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", kServiceProxyLabelSelector, "", 2),
      report);
  node_reflector_ = std::make_unique<Reflector>(
      *transport_, nodes_,
      reflectorOptions("nodes", "/api/v1/nodes", "", node_name.empty() ? "" : "metadata.name=" + node_name, 3), report);
}

ApiObjectSource::~ApiObjectSource() = default;

void ApiObjectSource::run(std::stop_token stop) {
  std::vector<std::thread> threads;
  for (Reflector* r : {service_reflector_.get(), slice_reflector_.get(), node_reflector_.get()}) {
    threads.emplace_back([r, stop] { r->run(stop); });
  }
  for (auto& t : threads) t.join();
}

bool ApiObjectSource::synced() const { return services_.synced() && slices_.synced() && nodes_.synced(); }

Reflector::Stats ApiObjectSource::stats(ObjectKind kind) const {
  switch (kind) {
    case ObjectKind::kService:
      return service_reflector_->stats();
    case ObjectKind::kEndpointSlice:
      return slice_reflector_->stats();
    case ObjectKind::kNode:
      return node_reflector_->stats();
    case ObjectKind::kServiceCIDR:
      return {};  // not watched from the API yet (nftables mode's live part)
  }
  return {};
}

}  // namespace kproxy::watch
