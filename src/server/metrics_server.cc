#include "src/server/metrics_server.h"

#include "src/server/healthz_server.h"

namespace kproxy::server {

MetricsServer::MetricsServer(const MetricsExposition& registry, std::string proxy_mode,
                             std::function<std::string()> configz)
    : registry_(registry), proxy_mode_(std::move(proxy_mode)), configz_(std::move(configz)) {}

HttpResponse MetricsServer::handle(const HttpRequest& request) const {
  HttpResponse r;
  r.headers = {{"X-Content-Type-Options", "nosniff"}};
  if (request.path == "/metrics") {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = registry_.expose();
    return r;
  }
  if (request.path == "/healthz" || request.path == "/healthz/ping") {
    // component-base healthz with only its default ping check.
    bool verbose = false;
    for (const auto& [k, v] : request.params) verbose |= k == "verbose";
    r.body = verbose && request.path == "/healthz" ? "[+]ping ok\nhealthz check passed\n" : "ok";
    return r;
  }
  if (request.path == "/proxyMode") {
    r.body = proxy_mode_;
    return r;
  }
  if (request.path == "/configz" && configz_) {
    r.content_type = "application/json";
    r.body = configz_();
    return r;
  }
  return notFound();
}

void MetricsServer::start(RetryingHttpServer::Options options) {
  server_ = std::make_unique<RetryingHttpServer>(std::move(options),
                                                 [this](const HttpRequest& req) { return handle(req); });
  server_->start();
}

void MetricsServer::stop() {
  if (server_) server_->stop();
}

}  // namespace kproxy::server
