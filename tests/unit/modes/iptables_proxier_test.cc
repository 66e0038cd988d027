// The iptables proxier against the fake iptables: full then partial syncs, jump rules, failure
// recovery (previous rules stay, next sync is full), the partial-sync byte savings, chunked full
// syncs on nf_tables reaching the same state as one restore, canaries.
#include "modes/iptables/proxier.h"

#include "modes/iptables/chain_names.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "modes/common/restore_text.h"
#include "tests/fakes/fake_clock.h"
#include "tests/fakes/fake_iptables_restore.h"
#include "tests/unit/tracker/builders.h"

namespace kproxy::iptables {
namespace {

using testing::FakeClock;
using testing::FakeIptablesRestore;

config::ProxierSettings settings() {
  config::ProxierSettings s;
  s.family = IpFamily::kIPv4;
  s.node_name = "node-a";
  s.node_ip = *IpAddress::parse("192.168.0.2");
  s.masquerade_mark = config::formatMasqueradeMark(14);
  s.localhost_node_ports = true;
  s.local_detector = {config::LocalTrafficDetector::Kind::kCidr, "10.0.0.0/8"};
  s.node_port_addresses.cidrs = {*Cidr::parse("0.0.0.0/0")};
  return s;
}

// The kernel state with chains sorted by name (rule order within a chain kept), so states reached
// by different sequences of restores compare equal when they hold the same chains and rules.
std::string canonical(const std::string& dump) {
  auto parsed = restore::parseRestoreText(dump);
  if (!parsed.ok()) return "unparsable: " + parsed.error().message;
  std::string out;
  for (auto& table : parsed->tables) {
    std::sort(table.chains.begin(), table.chains.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    out += "*" + table.name + "\n";
    for (const auto& chain : table.chains) {
      out += ":" + chain.name + "\n";
      for (const auto& rule : chain.rules) out += rule + "\n";
    }
  }
  return out;
}

// The first difference only: kernel dumps are thousands of lines.
::testing::AssertionResult sameState(const std::string& a, const std::string& b) {
  std::string ca = canonical(a), cb = canonical(b);
  if (ca == cb) return ::testing::AssertionSuccess();
  size_t i = 0;
  while (i < ca.size() && i < cb.size() && ca[i] == cb[i]) ++i;
  size_t start = ca.rfind('\n', i) == std::string::npos ? 0 : ca.rfind('\n', i) + 1;
  return ::testing::AssertionFailure() << "states differ at:\n  " << ca.substr(start, ca.find('\n', i) - start)
                                       << "\nvs\n  " << cb.substr(start, cb.find('\n', i) - start);
}

class IptablesProxierTest : public ::testing::Test {
 protected:
  void addService(int i, int endpoints) {
    auto svc = testing::makeService("ns", "svc" + std::to_string(i), "172.30." + std::to_string(i / 250) + "." +
                                                                       std::to_string(i % 250 + 1));
    tracker_.onServiceAdd(svc);
    std::vector<testing::EndpointSpec> eps;
    for (int e = 0; e < endpoints; ++e)
      eps.push_back({.ip = "10." + std::to_string(i / 250) + "." + std::to_string(i % 250) + "." + std::to_string(e + 1)});
    tracker_.onEndpointSliceAdd(testing::makeSlice("ns", "svc" + std::to_string(i), "svc" + std::to_string(i) + "-1", eps));
  }
  Result<proxy::SyncReport> sync(IptablesProxier& proxier) {
    auto [snapshot, changes] = tracker_.checkout();
    return proxier.sync(*snapshot, changes);
  }

  FakeClock clock_;
  FakeIptablesRestore iptables_;
  tracker::ProxyStateTracker tracker_{{.family = IpFamily::kIPv4, .node_name = "node-a"}};
};

TEST_F(IptablesProxierTest, FirstSyncIsFullAndInstallsJumpRules) {
  IptablesProxier proxier({.iptables = iptables_, .clock = clock_}, settings());
  addService(1, 2);
  auto report = sync(proxier);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(report->full_sync);
  // Prepended in table order, so the last row ends up first (spec §2.2).
  EXPECT_EQ(iptables_.rules("filter", "INPUT"),
            (std::vector<std::string>{"-j KUBE-FIREWALL",
                                      "-m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL",
                                      "-m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS",
                                      "-m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"}));
  EXPECT_EQ(iptables_.rules("nat", "PREROUTING"),
            std::vector<std::string>{"-m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"});
  EXPECT_EQ(iptables_.rules("nat", "KUBE-SVC-" + chainHash("ns/svc1:p80tcp")).size(), 3u);
  // A second full sync does not duplicate the jumps.
  proxier.requestFullSync();
  ASSERT_TRUE(sync(proxier).ok());
  EXPECT_EQ(iptables_.rules("nat", "PREROUTING").size(), 1u);
}

TEST_F(IptablesProxierTest, PartialSyncWritesLittleAndConverges) {
  IptablesProxier proxier({.iptables = iptables_, .clock = clock_}, settings());
  for (int i = 0; i < 50; ++i) addService(i, 3);
  auto full = sync(proxier);
  ASSERT_TRUE(full.ok());
  const std::string after_full = iptables_.dump();

  // One endpoint of one service changes.
  tracker_.onEndpointSliceUpdate(testing::makeSlice("ns", "svc7", "svc7-1", {{.ip = "10.0.7.1"}, {.ip = "10.0.7.9"}}));
  clock_.advance(std::chrono::seconds(1));
  auto partial = sync(proxier);
  ASSERT_TRUE(partial.ok()) << partial.error().message;
  EXPECT_FALSE(partial->full_sync);
  // Unchanged top-level chains are left out: far fewer bytes than the full sync.
  EXPECT_LT(partial->bytes_written * 20, full->bytes_written);
  EXPECT_EQ(iptables_.restores().back().find(":KUBE-FORWARD"), std::string::npos);

  // The kernel state equals what a fresh full sync of the same state would program.
  FakeIptablesRestore fresh;
  IptablesProxier fresh_proxier({.iptables = fresh, .clock = clock_}, settings());
  auto [snapshot, changes] = tracker_.checkout();
  tracker::UpdateResult all;
  ASSERT_TRUE(fresh_proxier.sync(*snapshot, all).ok());
  EXPECT_TRUE(sameState(iptables_.dump(), fresh.dump()));
  EXPECT_FALSE(sameState(iptables_.dump(), after_full));
}

TEST_F(IptablesProxierTest, FailedRestoreKeepsPreviousRulesAndRetriesFull) {
  IptablesProxier proxier({.iptables = iptables_, .clock = clock_}, settings());
  addService(1, 2);
  ASSERT_TRUE(sync(proxier).ok());
  const std::string good = iptables_.dump();

  addService(2, 2);
  iptables_.failAtLine(3);
  auto failed = sync(proxier);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("injected failure"), std::string::npos);
  EXPECT_NE(failed.error().message.find("> 3: "), std::string::npos) << "the lines around the failure are shown";
  EXPECT_EQ(iptables_.dump(), good);  // nothing of the failed table was applied

  auto retry = sync(proxier);  // nothing new pending: the retry must still be full
  ASSERT_TRUE(retry.ok()) << retry.error().message;
  EXPECT_TRUE(retry->full_sync);
  EXPECT_FALSE(iptables_.rules("nat", "KUBE-SVC-" + chainHash("ns/svc2:p80tcp")).empty());
}

TEST_F(IptablesProxierTest, StaleChainsOfAnEarlierProcessAreDeletedOnTheFirstFullSync) {
  // A previous kube-proxy left a service chain behind.
  ASSERT_TRUE(iptables_.restore(IpFamily::kIPv4, {"*nat\n:KUBE-SVC-LEFTOVERLEFTOVER - [0:0]\n-A KUBE-SVC-LEFTOVERLEFTOVER -j ACCEPT\nCOMMIT\n"}).ok());
  IptablesProxier proxier({.iptables = iptables_, .clock = clock_}, settings());
  addService(1, 1);
  ASSERT_TRUE(sync(proxier).ok());
  EXPECT_EQ(iptables_.dump().find("KUBE-SVC-LEFTOVERLEFTOVER"), std::string::npos);
}

TEST_F(IptablesProxierTest, ChunkedFullSyncReachesTheSameState) {
  for (int i = 0; i < 120; ++i) addService(i, 5);
  auto [snapshot, changes] = tracker_.checkout();
  FakeIptablesRestore single, chunked;
  IptablesProxier one({.iptables = single, .clock = clock_}, settings());
  IptablesProxier many({.iptables = chunked, .clock = clock_}, settings(),
                       {.chunk_full_syncs = true, .chunk_chains = 50, .min_chains_to_chunk = 100});
  ASSERT_TRUE(one.sync(*snapshot, changes).ok());
  auto report = many.sync(*snapshot, changes);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_GT(report->restores, 10u);
  EXPECT_TRUE(sameState(chunked.dump(), single.dump()));

  // Later many services come and one goes, in one full sync: new chains go in chunks, then the
  // rest, and the deleted service's chains in a final restore of their own.
  for (int i = 200; i < 300; ++i) addService(i, 2);
  tracker_.onServiceDelete(testing::makeService("ns", "svc3", "172.30.0.4"));
  auto [s2, c2] = tracker_.checkout();
  many.requestFullSync();
  one.requestFullSync();
  ASSERT_TRUE(many.sync(*s2, c2).ok());
  ASSERT_TRUE(one.sync(*s2, c2).ok());
  EXPECT_EQ(chunked.dump().find(chainHash("ns/svc3:p80tcp")), std::string::npos);
  EXPECT_EQ(chunked.restores().back().find("-A "), std::string::npos) << "the last restore only deletes";
  EXPECT_NE(chunked.restores().back().find("-X KUBE-SVC-" + chainHash("ns/svc3:p80tcp")), std::string::npos);
  EXPECT_TRUE(sameState(chunked.dump(), single.dump()));
}

TEST_F(IptablesProxierTest, CanaryChains) {
  IptablesProxier proxier({.iptables = iptables_, .clock = clock_}, settings());
  EXPECT_FALSE(*proxier.canariesPresent());
  ASSERT_TRUE(proxier.ensureCanaries().ok());
  EXPECT_TRUE(*proxier.canariesPresent());
}

}  // namespace
}  // namespace kproxy::iptables
