// HealthzServer: kube-proxy's healthz listener (default 0.0.0.0:10256; spec
// ipvs-and-runtime.md §3.7). /healthz and /livez answer any method with upstream's JSON body,
// 200 when healthy and 503 otherwise; /healthz also needs the node to be eligible.
#pragma once

#include <memory>
#include <string>

#include "src/proxy/health_state.h"
#include "src/proxy/metrics.h"
#include "src/server/http_server.h"

namespace kproxy::server {

class HealthzServer {
 public:
  // `metrics` (may be null) counts the answers in kubeproxy_proxy_{healthz,livez}_total.
  HealthzServer(const proxy::ProxyHealthState& state, proxy::ProxyMetrics* metrics);

  // The answer to one request; every other path is Go's "404 page not found".
  HttpResponse handle(const HttpRequest& request) const;

  // Serves `address` ("IP:port"), retrying every 5 s like upstream; see RetryingHttpServer.
  void start(RetryingHttpServer::Options options);
  void stop();
  int port() const { return server_ ? server_->port() : 0; }

 private:
  const proxy::ProxyHealthState& state_;
  proxy::ProxyMetrics* metrics_;
  std::unique_ptr<RetryingHttpServer> server_;
};

// Go's http.NotFound answer.
HttpResponse notFound();

}  // namespace kproxy::server
