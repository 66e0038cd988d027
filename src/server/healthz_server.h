// HealthzServer: kube-proxy's healthz listener (default 0.0.0.0:10256; spec
// ipvs-and-runtime.md §3.7). /healthz and /livez answer any method with upstream's JSON body,
// 200 when healthy and 503 otherwise; /healthz also needs the node to be eligible.
#pragma once

#include <memory>
#include <string>

#include "src/server/http_server.h"

namespace kproxy::server {

// What /healthz and /livez are built from (the proxy's health bookkeeping implements it; the
// server never sees the proxy), times in Go's time.Time.String() format.
struct HealthzCheck {
  bool healthy = true;        // proxy health only
  bool node_eligible = true;
  std::string last_updated;   // of the late family, else the latest update (Go zero time if none)
  std::string current_time;
};
class HealthSource {
 public:
  virtual ~HealthSource() = default;
  virtual HealthzCheck check() const = 0;
};
// Counts the answers (kubeproxy_proxy_{healthz,livez}_total).
class HealthzAnswerCounter {
 public:
  virtual ~HealthzAnswerCounter() = default;
  virtual void healthzAnswered(int code) = 0;
  virtual void livezAnswered(int code) = 0;
};

class HealthzServer {
 public:
  // `counter` may be null.
  HealthzServer(const HealthSource& state, HealthzAnswerCounter* counter);

  // The answer to one request; every other path is Go's "404 page not found".
  HttpResponse handle(const HttpRequest& request) const;

  // Serves `address` ("IP:port"), retrying every 5 s like upstream; see RetryingHttpServer.
  void start(RetryingHttpServer::Options options);
  void stop();
  int port() const { return server_ ? server_->port() : 0; }

 private:
  const HealthSource& state_;
  HealthzAnswerCounter* metrics_;
  std::unique_ptr<RetryingHttpServer> server_;
};

// Go's http.NotFound answer.
HttpResponse notFound();

}  // namespace kproxy::server
