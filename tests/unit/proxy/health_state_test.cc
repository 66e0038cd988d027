// ProxyHealthState and the /healthz and /livez answers built from it: upstream's transitions
// (pkg/proxy/healthcheck healthcheck_test.go TestHealthzServer / TestLivezServer, re-derived).
#include "src/proxy/health_state.h"

#include <gtest/gtest.h>

#include "src/proxy/metrics.h"
#include "src/server/healthz_server.h"
#include "tests/fakes/fake_clock.h"

namespace kproxy::proxy {
namespace {

using std::chrono::seconds;

TEST(NodeEligibility, DeletionOrTheAutoscalersTaintMakeANodeIneligible) {
  api::Node node;
  EXPECT_TRUE(nodeEligibleForTraffic(node));
  node.taints.push_back({.key = "node.kubernetes.io/unschedulable", .effect = "NoSchedule"});
  EXPECT_TRUE(nodeEligibleForTraffic(node)) << "only the autoscaler's taint counts";
  node.taints.push_back({.key = "ToBeDeletedByClusterAutoscaler", .value = "1700000000", .effect = "NoSchedule"});
  EXPECT_FALSE(nodeEligibleForTraffic(node));
  node.taints.clear();
  node.meta.deletion_timestamp = "2026-11-30T10:00:00Z";
  EXPECT_FALSE(nodeEligibleForTraffic(node));
}

TEST(GoTimeTest, FormatsLikeTimeString) {
  const WallTime t = WallTime(seconds(1694594961)) + std::chrono::nanoseconds(542153427);
  EXPECT_EQ(formatGoTime(t), "2023-09-13 08:49:21.542153427 +0000 UTC");
  EXPECT_EQ(formatGoTime(t, std::chrono::nanoseconds(1208114568624)),
            "2023-09-13 08:49:21.542153427 +0000 UTC m=+1208.114568624");
  EXPECT_EQ(formatGoTime(WallTime(seconds(1694594961)) + std::chrono::milliseconds(500)),
            "2023-09-13 08:49:21.5 +0000 UTC");
  EXPECT_EQ(formatGoTime(WallTime(seconds(1694594961))), "2023-09-13 08:49:21 +0000 UTC");
  EXPECT_EQ(formatGoTime(WallTime(seconds(0)), std::chrono::nanoseconds(5)), "1970-01-01 00:00:00 +0000 UTC m=+0.000000005");
}

class HealthStateTest : public ::testing::Test {
 protected:
  testing::FakeClock clock;
  ProxyHealthState state{clock, seconds(60)};  // 2 x syncPeriod 30s
};

// What an HTTP client would see.
struct Answer {
  int status;
  std::string body;
};

Answer ask(const server::HealthzServer& s, const std::string& path) {
  server::HttpRequest req;
  req.method = "GET";
  req.path = path;
  server::HttpResponse r = s.handle(req);
  return {r.status, r.body};
}

TEST_F(HealthStateTest, TransitionsPerFamily) {
  // Starting up: nothing updated, nothing queued: healthy.
  EXPECT_TRUE(state.isHealthy());
  // A change queued before the loop ever updated does not count (upstream iterates over families
  // that updated).
  state.queuedUpdate(IpFamily::kIPv4);
  clock.advance(seconds(120));
  EXPECT_TRUE(state.isHealthy());
  // The loop starts: updated; then a change is queued and not synced for the whole timeout.
  state.updated(IpFamily::kIPv4);
  state.queuedUpdate(IpFamily::kIPv4);
  clock.advance(seconds(59));
  EXPECT_TRUE(state.isHealthy());
  // Another queued change does not move the oldest one.
  state.queuedUpdate(IpFamily::kIPv4);
  clock.advance(seconds(1));
  EXPECT_FALSE(state.isHealthy());
  // A successful sync heals it.
  state.updated(IpFamily::kIPv4);
  EXPECT_TRUE(state.isHealthy());
  // Dual-stack: one late family is enough to be unhealthy.
  state.updated(IpFamily::kIPv6);
  state.queuedUpdate(IpFamily::kIPv6);
  clock.advance(seconds(61));
  EXPECT_FALSE(state.isHealthy());
  state.updated(IpFamily::kIPv4);
  EXPECT_FALSE(state.isHealthy());
  state.updated(IpFamily::kIPv6);
  EXPECT_TRUE(state.isHealthy());
}

TEST_F(HealthStateTest, HealthzAndLivezAnswers) {
  MetricsRegistry registry;
  ProxyMetrics metrics(registry, {});
  server::HealthzServer healthz(state, &metrics);
  const ProxyHealthState::Check now0 = state.check();

  // Healthy: lastUpdated is the current time (upstream's compatibility semantics).
  Answer a = ask(healthz, "/healthz");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "{\"lastUpdated\": \"" + now0.current_time + "\",\"currentTime\": \"" + now0.current_time +
                        "\", \"nodeEligible\": true}");
  a = ask(healthz, "/livez");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "{\"lastUpdated\": \"" + now0.current_time + "\",\"currentTime\": \"" + now0.current_time + "\"}");

  // Late: 503, and lastUpdated names the late family's last update.
  state.updated(IpFamily::kIPv4);
  const std::string updated_at = state.check().current_time;
  state.queuedUpdate(IpFamily::kIPv4);
  clock.advance(seconds(90));
  const std::string late_now = state.check().current_time;
  a = ask(healthz, "/healthz");
  EXPECT_EQ(a.status, 503);
  EXPECT_EQ(a.body, "{\"lastUpdated\": \"" + updated_at + "\",\"currentTime\": \"" + late_now +
                        "\", \"nodeEligible\": true}");
  EXPECT_EQ(ask(healthz, "/livez").status, 503);

  // Node being deleted: /healthz fails, /livez (and the proxy's own health) does not.
  state.updated(IpFamily::kIPv4);
  clock.advance(seconds(1));
  state.syncNode(false);
  a = ask(healthz, "/healthz");
  EXPECT_EQ(a.status, 503);
  EXPECT_NE(a.body.find("\"nodeEligible\": false}"), std::string::npos) << a.body;
  // Not healthy overall, so lastUpdated is the family's last update, not the current time.
  EXPECT_EQ(a.body.find("\"lastUpdated\": \"" + state.check().current_time + "\",\"currentTime\""),
            std::string::npos);
  EXPECT_EQ(ask(healthz, "/livez").status, 200);
  EXPECT_TRUE(state.isHealthy());
  state.syncNode(true);
  EXPECT_EQ(ask(healthz, "/healthz").status, 200);

  // Other paths: Go's 404.
  a = ask(healthz, "/healthz/");
  EXPECT_EQ(a.status, 404);
  EXPECT_EQ(a.body, "404 page not found\n");

  EXPECT_EQ(metrics.proxy_healthz_total.value({"200"}), 2);
  EXPECT_EQ(metrics.proxy_healthz_total.value({"503"}), 2);
  EXPECT_EQ(metrics.proxy_livez_total.value({"200"}), 2);
  EXPECT_EQ(metrics.proxy_livez_total.value({"503"}), 1);
}

TEST_F(HealthStateTest, AnswersCarryJsonHeaders) {
  server::HealthzServer healthz(state, nullptr);
  server::HttpRequest req;
  req.method = "POST";  // any method
  req.path = "/livez";
  server::HttpResponse r = healthz.handle(req);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"X-Content-Type-Options", "nosniff"}));
}

TEST_F(HealthStateTest, MonotonicReadingCountsFromConstruction) {
  clock.advance(std::chrono::milliseconds(1500));
  EXPECT_NE(state.check().current_time.find(" m=+1.500000000"), std::string::npos) << state.check().current_time;
}

}  // namespace
}  // namespace kproxy::proxy
