// MetricsServer: kube-proxy's metrics listener (default 127.0.0.1:10249; spec
// ipvs-and-runtime.md §3.9): /metrics (Prometheus text), /healthz and /healthz/ping ("ok"),
// /proxyMode (the mode's name) and /configz (the configuration as JSON). Profiling endpoints are
// not offered (kproxy has no pprof).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "src/proxy/metrics.h"
#include "src/server/http_server.h"

namespace kproxy::server {

class MetricsServer {
 public:
  // `configz` returns the JSON body of /configz ("" leaves the path out).
  MetricsServer(const proxy::MetricsRegistry& registry, std::string proxy_mode,
                std::function<std::string()> configz = {});

  HttpResponse handle(const HttpRequest& request) const;

  void start(RetryingHttpServer::Options options);
  void stop();
  int port() const { return server_ ? server_->port() : 0; }

 private:
  const proxy::MetricsRegistry& registry_;
  std::string proxy_mode_;
  std::function<std::string()> configz_;
  std::unique_ptr<RetryingHttpServer> server_;
};

}  // namespace kproxy::server
