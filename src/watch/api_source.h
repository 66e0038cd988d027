// ApiObjectSource: the Kubernetes API as the daemon's object source (`kproxy run` without
// --objects), the sibling of FileObjectSource. Three informers, as upstream kube-proxy starts
// them (cmd/kube-proxy/app/server.go; spec ipvs-and-runtime.md §3.5, §3.6):
//
//   Services        /api/v1/services                     labelSelector !service.kubernetes.io/service-proxy-name,
//                                                        !service.kubernetes.io/headless;
//                                                        fieldSelector spec.clusterIP!=None
//   EndpointSlices  /apis/discovery.k8s.io/v1/endpointslices  the same label selector
//   Node            /api/v1/nodes                        fieldSelector metadata.name=<node name>
//
// Each runs a Reflector (list, watch, relist on 410 or a broken stream, backoff) on its own
// thread. The sink is called from those threads, one call at a time. onSynced(kind) follows
// each kind's first complete list; synced() is true once all three have. Objects that fail
// validation are reported through `report_error` and skipped; nothing else stops.
//
// Construction from kube-proxy's flags:
//   auto config = buildApiClientConfig(kubeconfig_flag, master_flag);  // kubeconfig.h
//   if (!config.ok()) -> fatal, as upstream
//   ApiObjectSource source(std::move(*config), node_name, sink, report_error);
//   std::jthread t([&](std::stop_token st) { source.run(st); });
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include "src/watch/http_transport.h"
#include "src/watch/informer.h"
#include "src/watch/kubeconfig.h"
#include "src/watch/object_events.h"
#include "src/watch/reflector.h"

namespace kproxy::watch {

inline constexpr char kServiceProxyLabelSelector[] =
    "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";
inline constexpr char kServiceFieldSelector[] = "spec.clusterIP!=None";

struct ApiSourceOptions {
  int64_t page_size = 500;
  std::chrono::seconds min_watch_timeout{std::chrono::minutes(5)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(150)};
  BackoffPolicy backoff;
  // Upstream's field selector on Services (skips headless services at the server); "" to
  // watch them all (API servers older than 1.28 do not know spec.clusterIP as a field label).
  std::string service_field_selector = kServiceFieldSelector;
  uint64_t seed = 0;  // 0: random
};

class ApiObjectSource {
 public:
  using ErrorReporter = std::function<void(const std::string&)>;

  ApiObjectSource(ApiClientConfig config, std::string node_name, ObjectEventSink& sink, ErrorReporter report_error,
                  ApiSourceOptions options = {});
  // Over a given transport (tests).
  ApiObjectSource(std::shared_ptr<HttpTransport> transport, std::string node_name, ObjectEventSink& sink,
                  ErrorReporter report_error, ApiSourceOptions options = {});
  ~ApiObjectSource();

  // Lists and watches until stopped; returns when all three informers have stopped.
  void run(std::stop_token stop);
  bool synced() const;

  const Informer<api::Service>& services() const { return services_; }
  const Informer<api::EndpointSlice>& endpointSlices() const { return slices_; }
  const Informer<api::Node>& nodes() const { return nodes_; }
  Reflector::Stats stats(ObjectKind kind) const;

 private:
  class SerializedSink;

  std::shared_ptr<HttpTransport> transport_;
  std::unique_ptr<SerializedSink> sink_;
  Informer<api::Service> services_;
  Informer<api::EndpointSlice> slices_;
  Informer<api::Node> nodes_;
  std::unique_ptr<Reflector> service_reflector_;
  std::unique_ptr<Reflector> slice_reflector_;
  std::unique_ptr<Reflector> node_reflector_;
};

}  // namespace kproxy::watch
