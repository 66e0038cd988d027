// The iptables proxier against the fake iptables: full then partial syncs, jump rules, failure
// recovery (previous rules stay, next sync is full), the partial-sync byte savings, a full sync
// as one restore with nat first, canaries.
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

// However large, a full sync is one iptables-restore holding both tables, nat first
// (applier.h says why); so is a partial one.
TEST_F(IptablesProxierTest, EverySyncIsOneRestoreWithNatFirst) {
  for (int i = 0; i < 120; ++i) addService(i, 5);
  // The fake does not take the "-S" whole-table hint, so it is off here (these plans pass 1000 chains).
  IptablesProxier proxier({.iptables = iptables_, .clock = clock_}, settings(), {.nft_whole_table_cache_min_chains = 0});
  ASSERT_TRUE(sync(proxier).ok());  // the first sync also creates the jump rules, in a restore of their own
  for (int i = 200; i < 300; ++i) addService(i, 2);
  tracker_.onServiceDelete(testing::makeService("ns", "svc3", "172.30.0.4"));
  proxier.requestFullSync();
  const size_t calls = iptables_.restores().size();
  auto report = sync(proxier);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_TRUE(report->full_sync);
  EXPECT_EQ(report->kernel_transactions, 1u);
  ASSERT_EQ(iptables_.restores().size(), calls + 1);
  const std::string& input = iptables_.restores().back();
  EXPECT_EQ(input.rfind("*nat\n", 0), 0u) << input.substr(0, 200);
  EXPECT_NE(input.find("COMMIT\n*filter\n"), std::string::npos);
  EXPECT_NE(input.find("-X KUBE-SVC-" + chainHash("ns/svc3:p80tcp")), std::string::npos);
  EXPECT_EQ(iptables_.dump().find(chainHash("ns/svc3:p80tcp")), std::string::npos);

  // A partial sync that touches both tables (a service loses its endpoints: a REJECT rule in filter).
  tracker_.onEndpointSliceDelete(testing::makeSlice("ns", "svc7", "svc7-1", {}));
  report = sync(proxier);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_FALSE(report->full_sync);
  EXPECT_EQ(report->kernel_transactions, 1u);
  EXPECT_EQ(iptables_.restores().back().rfind("*nat\n", 0), 0u) << iptables_.restores().back();
  EXPECT_NE(iptables_.restores().back().find("COMMIT\n*filter\n"), std::string::npos) << iptables_.restores().back();
}

TEST_F(IptablesProxierTest, CanaryChains) {
  IptablesProxier proxier({.iptables = iptables_, .clock = clock_}, settings());
  EXPECT_FALSE(*proxier.dataplaneIntact());
  ASSERT_TRUE(proxier.setUpNode().ok());
  EXPECT_TRUE(*proxier.dataplaneIntact());
}

// The monitor found the canaries gone (someone flushed the tables): the full sync it forces
// puts them back along with the rules.
TEST_F(IptablesProxierTest, FullSyncRecreatesCanaries) {
  IptablesProxier proxier({.iptables = iptables_, .clock = clock_}, settings());
  auto [snapshot, changes] = tracker_.checkout();
  EXPECT_TRUE(proxier.nextSyncIsFull(changes));
  ASSERT_TRUE(proxier.sync(*snapshot, changes).ok());
  EXPECT_TRUE(*proxier.dataplaneIntact());
  EXPECT_FALSE(proxier.nextSyncIsFull(changes));
  proxier.requestFullSync();
  EXPECT_TRUE(proxier.nextSyncIsFull(changes));
}

}  // namespace
}  // namespace kproxy::iptables

namespace kproxy::iptables {
namespace {

// Records every restore input and accepts it (for what the applier writes, not what it does).
class RecordingRestore final : public netlink::IptablesRestore {
 public:
  explicit RecordingRestore(netlink::IptablesBackend backend) : backend_(backend) {}
  netlink::IptablesBackend backend() const override { return backend_; }
  Status restore(IpFamily, const std::vector<std::string_view>& pieces, const netlink::RestoreOptions&) override {
    std::string input;
    for (auto piece : pieces) input.append(piece);
    inputs.push_back(std::move(input));
    return okStatus();
  }
  Result<std::string> save(IpFamily, std::string_view) override { return std::string(); }
  Result<bool> ruleExists(IpFamily, std::string_view, std::string_view, const std::vector<std::string>&) override {
    return true;
  }
  Status insertRule(IpFamily, std::string_view, std::string_view, const std::vector<std::string>&, bool) override {
    return okStatus();
  }
  Status deleteRule(IpFamily, std::string_view, std::string_view, const std::vector<std::string>&) override {
    return okStatus();
  }
  Status ensureChain(IpFamily, std::string_view, std::string_view) override { return okStatus(); }
  Result<bool> chainExists(IpFamily, std::string_view, std::string_view) override { return true; }
  bool hasRandomFully() const override { return false; }

  std::vector<std::string> inputs;

 private:
  netlink::IptablesBackend backend_;
};

IptablesPlan planOf(const std::string& nat_chains, bool full_sync) {
  IptablesPlan plan;
  plan.full_sync = full_sync;
  plan.filter_chains = ":KUBE-SERVICES - [0:0]\n";
  plan.nat_chains = ":KUBE-SERVICES - [0:0]\n" + nat_chains;
  plan.nat_rules = "-A KUBE-SERVICES -j RETURN\n";
  return plan;
}

TEST(IptablesApplierWholeTableHint, LargeNftRestoresStartTheirNatBlockWithList) {
  const std::string many = ":KUBE-SVC-AAAA - [0:0]\n:KUBE-SEP-BBBB - [0:0]\n:KUBE-SEP-CCCC - [0:0]\n";
  RecordingRestore nft(netlink::IptablesBackend::kNft);
  IptablesApplier applier(nft, IpFamily::kIPv4, {.nft_whole_table_cache_min_chains = 3});
  ASSERT_TRUE(applier.apply(planOf(many, true), {}).ok());
  ASSERT_EQ(nft.inputs.size(), 1u) << "a full sync with the hint is one transaction";
  EXPECT_EQ(nft.inputs[0].rfind("*nat\n-S\n:KUBE-SERVICES", 0), 0u) << nft.inputs[0];
  EXPECT_EQ(nft.inputs[0].find("*filter\n-S"), std::string::npos) << "the filter block names few chains";

  // Below the threshold: no hint.
  IptablesApplier few(nft, IpFamily::kIPv4, {.nft_whole_table_cache_min_chains = 10});
  ASSERT_TRUE(few.apply(planOf(many, true), {}).ok());
  EXPECT_EQ(nft.inputs.back().find("-S\n"), std::string::npos) << nft.inputs.back();

  // A partial sync naming few chains of a table that holds many: listing the table would cost more.
  ChainNameSet existing;
  for (int i = 0; i < 100; ++i) existing.insert("KUBE-SEP-" + std::to_string(1000 + i));
  ASSERT_TRUE(applier.apply(planOf(many, false), existing).ok());
  EXPECT_EQ(nft.inputs.back().find("-S\n"), std::string::npos) << nft.inputs.back();

  // Never on legacy, where "-S" has no such effect.
  RecordingRestore legacy(netlink::IptablesBackend::kLegacy);
  IptablesApplier on_legacy(legacy, IpFamily::kIPv4, {.nft_whole_table_cache_min_chains = 3});
  ASSERT_TRUE(on_legacy.apply(planOf(many, true), {}).ok());
  EXPECT_EQ(legacy.inputs.back().find("-S\n"), std::string::npos) << legacy.inputs.back();
}

TEST_F(IptablesProxierTest, PartialPlanFromRecordedServiceChainsEqualsAFullRendering) {
  for (int i = 0; i < 40; ++i) addService(i, 3);
  const config::ProxierSettings s = settings();
  auto [first, first_changes] = tracker_.checkout();
  ServicePortChainsMap recorded;
  PlanInput full_input{.snapshot = first.get(), .settings = &s, .full_sync = true, .changes = &first_changes};
  full_input.record_service_chains = &recorded;
  const IptablesPlan full = planIptables(full_input);
  ASSERT_EQ(recorded.size(), 40u);

  // One endpoint of one service changes; another service goes away.
  tracker_.onEndpointSliceUpdate(testing::makeSlice("ns", "svc7", "svc7-1", {{.ip = "10.0.7.1"}, {.ip = "10.0.7.9"}}));
  tracker_.onServiceDelete(testing::makeService("ns", "svc9", "172.30.0.10"));
  auto [second, changes] = tracker_.checkout();
  const ChainNameSet existing = natChainsAfter({}, full);
  PlanInput partial_input{.snapshot = second.get(), .settings = &s, .full_sync = false, .changes = &changes,
                          .existing_nat_chains = &existing};
  ServicePortChainsMap rendered_record, reused_record;
  partial_input.record_service_chains = &rendered_record;
  const IptablesPlan rendered = planIptables(partial_input);
  partial_input.previous_service_chains = &recorded;
  partial_input.record_service_chains = &reused_record;
  const IptablesPlan reused = planIptables(partial_input);

  EXPECT_EQ(reused.payload(), rendered.payload());
  EXPECT_EQ(reused.nat_rules_skipped_count, rendered.nat_rules_skipped_count);
  EXPECT_GT(reused.nat_rules_skipped_count, 0u);
  EXPECT_EQ(reused.active_nat_chains, rendered.active_nat_chains);
  EXPECT_EQ(reused.written_nat_chains, rendered.written_nat_chains);
  EXPECT_EQ(reused.deleted_nat_chains, rendered.deleted_nat_chains);
  EXPECT_FALSE(reused.deleted_nat_chains.empty()) << "svc9's chains are stale";
  ASSERT_EQ(reused_record.size(), rendered_record.size());
  for (const auto& [name, chains] : rendered_record) {
    ASSERT_EQ(reused_record.count(name), 1u);
    EXPECT_EQ(reused_record.at(name)->chains, chains->chains);
    EXPECT_EQ(reused_record.at(name)->rule_lines, chains->rule_lines);
  }
}

}  // namespace
}  // namespace kproxy::iptables
