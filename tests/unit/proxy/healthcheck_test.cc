// ServiceHealthServer: which listeners it keeps open for the families' services, what each port
// answers (upstream's body, 200/503), and the snapshot helpers HealthCheckNodePorts and
// LocalReadyEndpoints. Listeners are fakes here; tests/netns/servers_test.cc uses real sockets.
#include "src/proxy/healthcheck.h"

#include <gtest/gtest.h>

#include "tests/fakes/fake_clock.h"

namespace kproxy::proxy {
namespace {

using std::chrono::seconds;

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

// Records opens and closes; can be told to fail a bind.
struct FakeListeners {
  std::vector<std::string> log;
  std::set<std::string> fail;  // "host:port" whose bind fails
  std::map<std::string, server::HttpHandler> handlers;

  class Listener final : public HealthCheckListener {
   public:
    Listener(FakeListeners& owner, std::string key) : owner_(owner), key_(std::move(key)) {}
    ~Listener() override {
      owner_.log.push_back("close " + key_);
      owner_.handlers.erase(key_);
    }

   private:
    FakeListeners& owner_;
    std::string key_;
  };

  HealthCheckListenerFactory factory() {
    return [this](const std::string& host, int port,
                  server::HttpHandler h) -> Result<std::unique_ptr<HealthCheckListener>> {
      const std::string key = server::joinHostPort(host, port);
      if (fail.count(key) != 0) return Error("listen tcp " + key + ": bind: address already in use");
      log.push_back("open " + key);
      handlers[key] = std::move(h);
      return std::unique_ptr<HealthCheckListener>(std::make_unique<Listener>(*this, key));
    };
  }
  // A request arriving at `local` on the listener `key`.
  server::HttpResponse get(const std::string& key, const std::string& local, int port) {
    server::HttpRequest req;
    req.method = "GET";
    req.path = "/";
    req.local_addr = local;
    req.local_port = port;
    return handlers.at(key)(req);
  }
};

class HealthCheckTest : public ::testing::Test {
 protected:
  testing::FakeClock clock;
  ProxyHealthState health{clock, seconds(60)};
  FakeListeners fake;
  std::unique_ptr<ServiceHealthServer> server = std::make_unique<ServiceHealthServer>(
      health, ServiceHealthServer::Options{.node_name = "node-a", .wildcard_host = "::", .listeners = fake.factory()});
  const api::NamespacedName web{"ns1", "web"};
  const api::NamespacedName db{"ns2", "db"};
};

TEST(ServiceHealthBodyTest, UpstreamBody) {
  EXPECT_EQ(serviceHealthBody({"ns1", "svc1"}, 1, true),
            "{\n\t\"service\": {\n\t\t\"namespace\": \"ns1\",\n\t\t\"name\": \"svc1\"\n\t},\n\t\"localEndpoints\": 1,\n"
            "\t\"serviceProxyHealthy\": true\n}");
}

TEST_F(HealthCheckTest, OpensAndClosesListenersToMatchTheServices) {
  EXPECT_TRUE(server->syncServices(IpFamily::kIPv4, {{web, 30001}, {db, 30002}}).empty());
  EXPECT_EQ(server->listening(), (std::vector<std::string>{"[::]:30001", "[::]:30002"}));
  // Unchanged services keep their listener; a changed port closes and reopens; a removed one closes.
  fake.log.clear();
  EXPECT_TRUE(server->syncServices(IpFamily::kIPv4, {{web, 30011}}).empty());
  EXPECT_EQ(fake.log, (std::vector<std::string>{"close [::]:30001", "close [::]:30002", "open [::]:30011"}));
  fake.log.clear();
  EXPECT_TRUE(server->syncServices(IpFamily::kIPv4, {{web, 30011}}).empty());
  EXPECT_TRUE(fake.log.empty());
  // The other family's services on the same wildcard port share the listener.
  EXPECT_TRUE(server->syncServices(IpFamily::kIPv6, {{web, 30011}}).empty());
  EXPECT_TRUE(fake.log.empty());
  EXPECT_TRUE(server->syncServices(IpFamily::kIPv4, {}).empty());
  EXPECT_TRUE(fake.log.empty());  // still needed by IPv6
  EXPECT_TRUE(server->syncServices(IpFamily::kIPv6, {}).empty());
  EXPECT_EQ(fake.log, (std::vector<std::string>{"close [::]:30011"}));
}

TEST_F(HealthCheckTest, AnswersFromEndpointsAndProxyHealth) {
  ASSERT_TRUE(server->syncServices(IpFamily::kIPv4, {{web, 30001}}).empty());
  server::HttpResponse r = fake.get("[::]:30001", "::ffff:10.0.0.1", 30001);
  EXPECT_EQ(r.status, 503);  // no endpoints yet
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, serviceHealthBody(web, 0, true));
  server->syncEndpoints(IpFamily::kIPv4, {{web, 2}, {db, 5}});  // db has no health check: dropped
  r = fake.get("[::]:30001", "::ffff:10.0.0.1", 30001);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, serviceHealthBody(web, 2, true));
  // The proxy turns unhealthy: 503 with serviceProxyHealthy false, whatever the endpoints.
  health.updated(IpFamily::kIPv4);
  health.queuedUpdate(IpFamily::kIPv4);
  clock.advance(seconds(61));
  r = fake.get("[::]:30001", "::ffff:10.0.0.1", 30001);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, serviceHealthBody(web, 2, false));
  health.updated(IpFamily::kIPv4);
  // Node ineligibility does not matter here (upstream: IsHealthy ignores the node).
  health.syncNode(false);
  EXPECT_EQ(fake.get("[::]:30001", "::ffff:10.0.0.1", 30001).status, 200);
  // Services missing from a later endpoint sync fall back to 0.
  server->syncEndpoints(IpFamily::kIPv4, {});
  EXPECT_EQ(fake.get("[::]:30001", "::ffff:10.0.0.1", 30001).status, 503);
}

TEST_F(HealthCheckTest, DualStackWildcardAnswersPerFamily) {
  ASSERT_TRUE(server->syncServices(IpFamily::kIPv4, {{web, 30001}}).empty());
  ASSERT_TRUE(server->syncServices(IpFamily::kIPv6, {{web, 30001}, {db, 30002}}).empty());
  server->syncEndpoints(IpFamily::kIPv4, {{web, 1}});
  server->syncEndpoints(IpFamily::kIPv6, {{web, 3}});
  EXPECT_EQ(fake.get("[::]:30001", "::ffff:192.168.1.10", 30001).body, serviceHealthBody(web, 1, true));
  EXPECT_EQ(fake.get("[::]:30001", "192.168.1.10", 30001).body, serviceHealthBody(web, 1, true));
  EXPECT_EQ(fake.get("[::]:30001", "fd00::10", 30001).body, serviceHealthBody(web, 3, true));
  // An IPv6-only service reached over IPv4 on the shared socket still answers.
  EXPECT_EQ(fake.get("[::]:30002", "::ffff:192.168.1.10", 30002).body, serviceHealthBody(db, 0, true));
}

TEST_F(HealthCheckTest, NodePortAddressesSelectListenIps) {
  server->setListenSpec(IpFamily::kIPv4, {.all = false, .ips = {ip("10.0.0.5"), ip("192.168.1.5")}});
  server->setListenSpec(IpFamily::kIPv6, {.all = false, .ips = {ip("fd00::5")}});
  ASSERT_TRUE(server->syncServices(IpFamily::kIPv4, {{web, 30001}}).empty());
  ASSERT_TRUE(server->syncServices(IpFamily::kIPv6, {{web, 30001}}).empty());
  EXPECT_EQ(server->listening(),
            (std::vector<std::string>{"10.0.0.5:30001", "192.168.1.5:30001", "[fd00::5]:30001"}));
  server->syncEndpoints(IpFamily::kIPv4, {{web, 1}});
  EXPECT_EQ(fake.get("10.0.0.5:30001", "10.0.0.5", 30001).status, 200);
  EXPECT_EQ(fake.get("[fd00::5]:30001", "fd00::5", 30001).status, 503);
  // A wildcard family takes the port: specific listeners on it would fail to bind.
  server->setListenSpec(IpFamily::kIPv6, {.all = true});
  ASSERT_TRUE(server->syncServices(IpFamily::kIPv6, {{web, 30001}}).empty());
  EXPECT_EQ(server->listening(), (std::vector<std::string>{"[::]:30001"}));
}

TEST_F(HealthCheckTest, ListenFailuresAreReportedAndRetried) {
  fake.fail.insert("[::]:30001");
  auto errors = server->syncServices(IpFamily::kIPv4, {{web, 30001}, {db, 30002}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "node node-a failed to start healthcheck \"ns1/web\" on port 30001: listen tcp [::]:30001: bind: address "
            "already in use");
  EXPECT_EQ(server->listening(), (std::vector<std::string>{"[::]:30002"}));
  fake.fail.clear();
  EXPECT_TRUE(server->syncServices(IpFamily::kIPv4, {{web, 30001}, {db, 30002}}).empty());
  EXPECT_EQ(server->listening(), (std::vector<std::string>{"[::]:30001", "[::]:30002"}));
}

// Snapshot helpers.
tracker::EndpointInfoPtr endpoint(const std::string& addr, int port, bool local, bool ready) {
  auto e = std::make_shared<tracker::EndpointInfo>();
  e->ip = ip(addr.c_str());
  e->port = port;
  e->endpoint = addr + ":" + std::to_string(port);
  e->is_local = local;
  e->ready = ready;
  e->serving = ready;
  return e;
}

TEST(HealthCheckSnapshotTest, PortsAndLocalReadyEndpoints) {
  tracker::ProxySnapshot snap;
  auto info = [](const api::NamespacedName& svc, const std::string& port, int hc) {
    auto i = std::make_shared<tracker::ServicePortInfo>();
    i->name = tracker::ServicePortName{svc, port, api::Protocol::kTCP};
    i->health_check_node_port = hc;
    return i;
  };
  const api::NamespacedName lb{"ns", "lb"}, plain{"ns", "plain"};
  snap.services[{lb, "http", api::Protocol::kTCP}] = info(lb, "http", 32000);
  snap.services[{lb, "https", api::Protocol::kTCP}] = info(lb, "https", 32000);
  snap.services[{plain, "", api::Protocol::kTCP}] = info(plain, "", 0);
  snap.endpoints[{lb, "http", api::Protocol::kTCP}] = std::make_shared<tracker::EndpointList>(tracker::EndpointList{
      endpoint("10.1.0.1", 80, true, true), endpoint("10.1.0.2", 80, true, false), endpoint("10.2.0.1", 80, false, true)});
  snap.endpoints[{lb, "https", api::Protocol::kTCP}] = std::make_shared<tracker::EndpointList>(
      tracker::EndpointList{endpoint("10.1.0.1", 443, true, true)});
  snap.endpoints[{plain, "", api::Protocol::kTCP}] = std::make_shared<tracker::EndpointList>(
      tracker::EndpointList{endpoint("10.1.0.9", 80, true, true)});
  EXPECT_EQ(healthCheckNodePorts(snap), (std::map<api::NamespacedName, uint16_t>{{lb, 32000}}));
  // Distinct local ready IP:port endpoints over the service's ports.
  EXPECT_EQ(localReadyEndpoints(snap), (std::map<api::NamespacedName, int>{{lb, 2}, {plain, 1}}));
}

}  // namespace
}  // namespace kproxy::proxy
