// MetricsServer: kube-proxy's metrics listener (default 127.0.0.1:10249; spec
// ipvs-and-runtime.md §3.9): /metrics (Prometheus text), /healthz and /healthz/ping ("ok"),
// /proxyMode (the mode's name) and /configz (the configuration as JSON). Profiling endpoints are
// not offered (kproxy has no pprof).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "src/server/http_server.h"

namespace kproxy::server {

// The Prometheus text exposition of every metric (the proxy's registry implements it).
class MetricsExposition {
 public:
  virtual ~MetricsExposition() = default;
  virtual std::string expose() const = 0;
};

class MetricsServer {
 public:
  // `configz` returns the JSON body of /configz ("" leaves the path out).
  MetricsServer(const MetricsExposition& registry, std::string proxy_mode,
                std::function<std::string()> configz = {});

  HttpResponse handle(const HttpRequest& request) const;

  void start(RetryingHttpServer::Options options);
  void stop();
  int port() const { return server_ ? server_->port() : 0; }

 private:
  const MetricsExposition& registry_;
  std::string proxy_mode_;
  std::function<std::string()> configz_;
  std::unique_ptr<RetryingHttpServer> server_;
};

}  // namespace kproxy::server
