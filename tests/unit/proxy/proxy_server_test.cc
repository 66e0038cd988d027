// ProxyServer, the mode-agnostic daemon core, driven with a fake proxier and a fake clock (the
// runners are stepped by hand, no threads): syncs wait for both initial lists, events reach each
// family's tracker and trigger syncs, a failed sync is retried and reported as full or partial
// as the proxier says, conntrack is reconciled after successful syncs of UDP endpoint changes,
// and the maintenance pass forces a full sync when the dataplane is gone and runs housekeeping.
#include "src/proxy/proxy_server.h"

#include <gtest/gtest.h>

#include <deque>

#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_conntrack.h"
#include "tests/unit/tracker/builders.h"

namespace kproxy::proxy {
namespace {

using namespace std::chrono_literals;

// Records every call; answers from scripted values.
class FakeProxier final : public Proxier {
 public:
  explicit FakeProxier(IpFamily family) : family_(family) {}

  std::string_view mode() const override { return "fake"; }
  IpFamily family() const override { return family_; }
  Status setUpNode() override {
    ++setups;
    return setup_error ? Status(*setup_error) : okStatus();
  }
  Result<bool> dataplaneIntact() override {
    ++intact_checks;
    return intact;
  }
  Result<SyncReport> sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes) override {
    const bool full = nextSyncIsFull(changes);
    synced_ports.push_back(snapshot.services.size());
    full_flags.push_back(full);
    if (!sync_errors.empty()) {
      auto e = sync_errors.front();
      sync_errors.pop_front();
      if (e) {
        need_full = true;
        return *e;
      }
    }
    need_full = false;
    return SyncReport{.full_sync = full};
  }
  bool nextSyncIsFull(const tracker::UpdateResult& changes) const override {
    return need_full || changes.node_labels_changed;
  }
  void requestFullSync() override {
    ++full_requests;
    need_full = true;
  }
  std::chrono::nanoseconds housekeepingInterval() const override { return housekeeping_every; }
  Status housekeeping() override {
    ++housekeepings;
    return okStatus();
  }

  IpFamily family_;
  std::optional<Error> setup_error;
  bool intact = true;
  bool need_full = true;
  std::deque<std::optional<Error>> sync_errors;  // one per sync; nullopt = success
  std::chrono::nanoseconds housekeeping_every{0};
  int setups = 0, intact_checks = 0, full_requests = 0, housekeepings = 0;
  std::vector<size_t> synced_ports;  // service ports in each synced snapshot
  std::vector<bool> full_flags;
};

class RecordingObserver final : public ProxyServerObserver {
 public:
  void onSyncQueued(IpFamily) override { ++queued; }
  void onSync(const SyncOutcome& o) override {
    outcomes.push_back({o.result.ok(), o.partial, o.result.ok() ? o.result->conntrack_deleted : 0});
  }
  struct Outcome {
    bool ok;
    bool partial;
    size_t conntrack_deleted;
  };
  int queued = 0;
  std::vector<Outcome> outcomes;
};

class ProxyServerTest : public ::testing::Test {
 protected:
  // One IPv4 family with a fake proxier (and, with `conntrack`, the fake conntrack table).
  void build(bool with_conntrack = false) {
    auto f = std::make_unique<FamilyProxy>();
    f->family = IpFamily::kIPv4;
    f->tracker = std::make_unique<tracker::ProxyStateTracker>(
        tracker::ProxyStateTracker::Options{.family = IpFamily::kIPv4, .node_name = "node-a"});
    auto proxier = std::make_unique<FakeProxier>(IpFamily::kIPv4);
    proxier_ = proxier.get();
    f->proxier = std::move(proxier);
    if (with_conntrack) {
      auto client = std::make_unique<fakes::FakeConntrack>();
      conntrack_ = client.get();
      f->conntrack = std::make_unique<ConntrackReconciler>(*client);
      f->conntrack_client = std::move(client);
    }
    std::vector<std::unique_ptr<FamilyProxy>> families;
    families.push_back(std::move(f));
    server_ = std::make_unique<ProxyServer>(
        std::move(families), ProxyServer::Options{.min_sync_period = 0s, .max_sync_period = 1h, .sync_period = 30s},
        clock_, &observer_);
  }
  // Steps the family's runner at the current time; whether it ran.
  bool step() { return server_->families()[0]->runner->step(clock_.now()); }
  void addService(const api::Service& s) {
    server_->onService({.previous = nullptr, .current = std::make_shared<api::Service>(s)});
  }
  void listed() {
    server_->onSynced(watch::ObjectKind::kService);
    server_->onSynced(watch::ObjectKind::kEndpointSlice);
  }

  testing::FakeClock clock_;
  RecordingObserver observer_;
  FakeProxier* proxier_ = nullptr;
  fakes::FakeConntrack* conntrack_ = nullptr;
  std::unique_ptr<ProxyServer> server_;
};

TEST_F(ProxyServerTest, NoSyncUntilServicesAndEndpointSlicesAreListed) {
  build();
  addService(testing::makeService("ns", "a", "172.30.0.1"));
  EXPECT_EQ(observer_.queued, 0) << "events before the initial lists queue nothing";
  server_->onSynced(watch::ObjectKind::kService);
  EXPECT_FALSE(step());
  EXPECT_TRUE(proxier_->synced_ports.empty());
  server_->onSynced(watch::ObjectKind::kEndpointSlice);
  EXPECT_TRUE(step());
  ASSERT_EQ(proxier_->synced_ports, std::vector<size_t>{1});
  EXPECT_EQ(proxier_->full_flags, std::vector<bool>{true});
  ASSERT_EQ(observer_.outcomes.size(), 1u);
  EXPECT_FALSE(observer_.outcomes[0].partial);
}

TEST_F(ProxyServerTest, EventsAfterTheListsSyncPartially) {
  build();
  listed();
  ASSERT_TRUE(step());
  EXPECT_FALSE(step()) << "nothing pending";
  addService(testing::makeService("ns", "a", "172.30.0.1"));
  EXPECT_EQ(observer_.queued, 1);
  ASSERT_TRUE(step());
  EXPECT_EQ(proxier_->synced_ports, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(proxier_->full_flags, (std::vector<bool>{true, false}));
  EXPECT_TRUE(observer_.outcomes.back().partial);
}

TEST_F(ProxyServerTest, FailedSyncIsRetriedAndReportedAsTheProxierSaid) {
  build();
  listed();
  ASSERT_TRUE(step());
  proxier_->sync_errors = {Error("restore failed"), std::nullopt};
  addService(testing::makeService("ns", "a", "172.30.0.1"));
  ASSERT_TRUE(step());
  ASSERT_EQ(observer_.outcomes.size(), 2u);
  EXPECT_FALSE(observer_.outcomes[1].ok);
  EXPECT_TRUE(observer_.outcomes[1].partial) << "the proxier expected a partial sync before the attempt";
  EXPECT_EQ(server_->families()[0]->failures, 1);
  // The retry comes after sync_period, and is full (the proxier's own rule after a failure).
  clock_.advance(29s);
  EXPECT_FALSE(step());
  clock_.advance(2s);
  ASSERT_TRUE(step());
  EXPECT_TRUE(observer_.outcomes.back().ok);
  EXPECT_FALSE(observer_.outcomes.back().partial);
}

TEST_F(ProxyServerTest, ConntrackIsReconciledAfterUdpEndpointChanges) {
  build(/*with_conntrack=*/true);
  const testing::PortSpec dns{.name = "dns", .protocol = api::Protocol::kUDP, .port = 53};
  addService(testing::makeService("ns", "dns", "172.30.0.10", {dns}));
  server_->onEndpointSlice(
      {.previous = nullptr,
       .current = testing::makeSlice("ns", "dns", "dns-1", {{.ip = "10.1.0.1"}, {.ip = "10.1.0.2"}}, {dns})});
  listed();
  ASSERT_TRUE(step());
  // Flows to both endpoints; then 10.1.0.2 goes away: its flow is stale.
  ASSERT_TRUE(conntrack_->insert(fakes::udpFlow("10.0.0.9", 4000, "172.30.0.10", 53, "10.1.0.1", 53)).ok());
  ASSERT_TRUE(conntrack_->insert(fakes::udpFlow("10.0.0.9", 4001, "172.30.0.10", 53, "10.1.0.2", 53)).ok());
  server_->onEndpointSlice(
      {.previous = testing::makeSlice("ns", "dns", "dns-1", {{.ip = "10.1.0.1"}, {.ip = "10.1.0.2"}}, {dns}),
       .current = testing::makeSlice("ns", "dns", "dns-1", {{.ip = "10.1.0.1"}}, {dns})});
  proxier_->sync_errors = {Error("apply failed"), std::nullopt};
  ASSERT_TRUE(step());
  EXPECT_EQ(conntrack_->flows().size(), 2u) << "a failed sync leaves conntrack alone";
  clock_.advance(31s);
  ASSERT_TRUE(step());
  // The failed attempt consumed the change; the retry still reconciles it.
  EXPECT_EQ(observer_.outcomes.back().conntrack_deleted, 1u);
  EXPECT_EQ(fakes::flowLines(conntrack_->flows()),
            fakes::flowLines({fakes::udpFlow("10.0.0.9", 4000, "172.30.0.10", 53, "10.1.0.1", 53)}));
  // A sync without UDP endpoint changes leaves conntrack alone.
  addService(testing::makeService("ns", "web", "172.30.0.20"));
  const size_t dumps = conntrack_->dumpCalls();
  ASSERT_TRUE(step());
  EXPECT_EQ(conntrack_->dumpCalls(), dumps);
}

TEST_F(ProxyServerTest, MaintenanceForcesAFullSyncWhenTheDataplaneIsGone) {
  build();
  listed();
  ASSERT_TRUE(step());
  ASSERT_TRUE(step() == false);
  server_->maintain(clock_.now());
  EXPECT_EQ(proxier_->intact_checks, 0) << "the first check is one sync period after start";
  clock_.advance(30s);
  server_->maintain(clock_.now());
  EXPECT_EQ(proxier_->intact_checks, 1);
  EXPECT_FALSE(step()) << "intact: no sync";
  proxier_->intact = false;
  clock_.advance(30s);
  server_->maintain(clock_.now());
  ASSERT_TRUE(step());
  EXPECT_EQ(proxier_->full_requests, 1);
  EXPECT_TRUE(proxier_->full_flags.back());
}

TEST_F(ProxyServerTest, HousekeepingRunsAtTheProxiersInterval) {
  build();
  proxier_->housekeeping_every = 60s;
  SteadyTime next = server_->maintain(clock_.now());
  EXPECT_EQ(next, clock_.now() + 30s) << "the dataplane check comes first";
  for (int i = 0; i < 4; ++i) {
    clock_.advance(30s);
    server_->maintain(clock_.now());
  }
  EXPECT_EQ(proxier_->housekeepings, 2);
}

TEST_F(ProxyServerTest, SetUpNodeAndSyncAllNowReportTheFamily) {
  build();
  proxier_->setup_error = Error("can't use the IPVS proxier: no IPVS");
  auto s = server_->setUpNode();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().message, "IPv4: can't use the IPVS proxier: no IPVS");
  proxier_->sync_errors = {Error("boom")};
  auto synced = server_->syncAllNow();
  ASSERT_FALSE(synced.ok());
  EXPECT_EQ(synced.error().message, "IPv4 sync: boom");
}

}  // namespace
}  // namespace kproxy::proxy
