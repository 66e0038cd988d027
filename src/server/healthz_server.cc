#include "src/server/healthz_server.h"

namespace kproxy::server {
namespace {

// Go's %q of a time string: the strings never hold quotes or backslashes.
std::string quoted(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

HttpResponse notFound() {
  HttpResponse r;
  r.status = 404;
  r.content_type = "text/plain; charset=utf-8";
  r.headers = {{"X-Content-Type-Options", "nosniff"}};
  r.body = "404 page not found\n";
  return r;
}

HealthzServer::HealthzServer(const HealthSource& state, HealthzAnswerCounter* metrics)
    : state_(state), metrics_(metrics) {}

HttpResponse HealthzServer::handle(const HttpRequest& request) const {
  const bool healthz = request.path == "/healthz";
  if (!healthz && request.path != "/livez") return notFound();
  const HealthzCheck c = state_.check();
  // upstream: /healthz also needs the node to be eligible; when healthy, lastUpdated is reported
  // as the current time (the old "last loop run" semantics).
  const bool ok = c.healthy && (!healthz || c.node_eligible);
  HttpResponse r;
  r.status = ok ? 200 : 503;
  r.content_type = "application/json";
  r.headers = {{"X-Content-Type-Options", "nosniff"}};
  r.body = "{\"lastUpdated\": " + quoted(ok ? c.current_time : c.last_updated) +
           ",\"currentTime\": " + quoted(c.current_time);
  if (healthz) r.body += std::string(", \"nodeEligible\": ") + (c.node_eligible ? "true" : "false");
  r.body += "}";
  if (metrics_ != nullptr) {
    if (healthz) {
      metrics_->healthzAnswered(r.status);
    } else {
      metrics_->livezAnswered(r.status);
    }
  }
  return r;
}

void HealthzServer::start(RetryingHttpServer::Options options) {
  server_ = std::make_unique<RetryingHttpServer>(std::move(options),
                                                 [this](const HttpRequest& req) { return handle(req); });
  server_->start();
}

void HealthzServer::stop() {
  if (server_) server_->stop();
}

}  // namespace kproxy::server
