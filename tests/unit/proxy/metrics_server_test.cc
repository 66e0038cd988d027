// MetricsServer's answers (the listener itself is exercised in tests/netns/servers_test.cc):
// /metrics in Prometheus text, /healthz "ok", /proxyMode, /configz, 404 elsewhere; and address
// splitting for the listeners.
#include "src/server/metrics_server.h"

#include <gtest/gtest.h>

#include "src/proxy/metrics.h"
#include "src/server/http_server.h"
#include "tests/unit/proxy/prometheus_text_parser.h"

namespace kproxy::server {
namespace {

HttpResponse get(const MetricsServer& s, const std::string& path,
                 std::vector<std::pair<std::string, std::string>> params = {}) {
  HttpRequest req;
  req.method = "GET";
  req.path = path;
  req.params = std::move(params);
  return s.handle(req);
}

TEST(MetricsServerTest, Paths) {
  proxy::MetricsRegistry registry;
  proxy::ProxyMetrics metrics(registry, {});
  metrics.serviceChange(1);
  MetricsServer server(registry, "iptables", [] { return std::string("{\"kubeproxy.config.k8s.io\":{}}"); });

  HttpResponse r = get(server, "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  auto families = testing::parsePrometheusText(r.body);
  ASSERT_TRUE(families.ok()) << families.error().message;
  EXPECT_EQ(families->at("kubeproxy_sync_proxy_rules_service_changes_total").samples.at(0).value, 1);

  r = get(server, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  EXPECT_EQ(get(server, "/healthz", {{"verbose", ""}}).body, "[+]ping ok\nhealthz check passed\n");
  EXPECT_EQ(get(server, "/healthz/ping").body, "ok");
  r = get(server, "/proxyMode");
  EXPECT_EQ(r.body, "iptables");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  r = get(server, "/configz");
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"kubeproxy.config.k8s.io\":{}}");
  r = get(server, "/debug/pprof/");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "404 page not found\n");
}

TEST(HttpServerTest, SplitAndJoinHostPort) {
  auto hp = splitHostPort("127.0.0.1:10249");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->first, "127.0.0.1");
  EXPECT_EQ(hp->second, 10249);
  hp = splitHostPort("[::1]:10249");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->first, "::1");
  EXPECT_FALSE(splitHostPort("127.0.0.1").ok());
  EXPECT_FALSE(splitHostPort("::1:80").ok());
  EXPECT_FALSE(splitHostPort("1.2.3.4:99999").ok());
  EXPECT_EQ(joinHostPort("::", 10256), "[::]:10256");
  EXPECT_EQ(joinHostPort("0.0.0.0", 10256), "0.0.0.0:10256");
}

}  // namespace
}  // namespace kproxy::server
