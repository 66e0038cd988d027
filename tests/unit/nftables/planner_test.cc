// nftables planner behaviour that the golden cases do not show on their own: stale endpoint
// chains and affinity sets of a ClientIP service, promotion of a partial sync to a full one when
// the fixed part of the table must change, nodePortAddresses that match every address, objects
// kproxy does not own, and IPv6. Each sync's transactions must also turn the previous table into
// the planned one (applyTransaction).
#include "modes/nftables/planner.h"

#include <gtest/gtest.h>

#include "modes/nftables/chain_names.h"
#include "tests/unit/tracker/builders.h"

namespace kproxy::nftables {
namespace {

using std::chrono::seconds;

config::ProxierSettings fakeSettings(IpFamily family = IpFamily::kIPv4) {
  const bool v6 = family == IpFamily::kIPv6;
  config::ProxierSettings s;
  s.family = family;
  s.node_name = "test-node";
  s.node_ip = *IpAddress::parse(v6 ? "2001:db8::1" : "192.168.0.2");
  s.masquerade_mark = config::formatMasqueradeMark(14);
  s.local_detector = {config::LocalTrafficDetector::Kind::kCidr, v6 ? "fd00:10::/64" : "10.0.0.0/8"};
  s.node_port_addresses.cidrs = {*Cidr::parse(v6 ? "2001:db8::1/128" : "192.168.0.2/32")};
  s.node_port_addresses.match_all = false;
  for (const char* a : {"127.0.0.1/8", "::1/128", "192.168.0.2/24", "2001:db8::1/64"}) {
    s.facts.local_addresses.push_back(*InterfaceAddress::parse(a));
  }
  return s;
}

bool hasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

class NftablesPlannerTest : public ::testing::Test {
 protected:
  explicit NftablesPlannerTest(IpFamily family = IpFamily::kIPv4)
      : settings_(fakeSettings(family)),
        tracker_({.family = family, .node_name = "test-node", .node_hints_enabled = false}) {}

  // One sync, two seconds after the previous one (so stale chains are deleted by the next).
  const NftablesPlan& sync(bool full = false) {
    auto [snapshot, changes] = tracker_.checkout();
    now_ += seconds(2);
    PlanInput input{.snapshot = snapshot.get(),
                    .settings = &settings_,
                    .service_cidrs = cidrs_,
                    .full_sync = full,
                    .changes = &changes,
                    .existing = plan_ ? &plan_->ruleset : nullptr,
                    .stale_chains = plan_ ? &plan_->stale_chains : nullptr,
                    .first_sync = !plan_.has_value(),
                    .now = now_};
    NftablesPlan next = planNftables(input);
    // The transactions must reach the planned table from the previous one.
    Ruleset before = plan_ ? plan_->ruleset : Ruleset{.family = settings_.family};
    auto deleted = applyTransaction(before, next.stale_chain_deletion);
    EXPECT_TRUE(deleted.ok()) << deleted.error().message;
    if (deleted.ok()) {
      auto after = applyTransaction(*deleted, next.transaction);
      EXPECT_TRUE(after.ok()) << after.error().message << "\n" << next.transaction.text();
      if (after.ok()) {
        EXPECT_EQ(after->dump(), next.ruleset.dump());
      }
    }
    plan_ = std::move(next);
    return *plan_;
  }

  void setService(const api::Service& svc) {
    if (auto it = services_.find(svc.meta.name); it != services_.end()) {
      tracker_.onServiceUpdate(it->second, svc);
    } else {
      tracker_.onServiceAdd(svc);
    }
    services_[svc.meta.name] = svc;
  }
  void setSlice(std::shared_ptr<const api::EndpointSlice> slice) { tracker_.onEndpointSliceUpdate(std::move(slice)); }

  config::ProxierSettings settings_;
  tracker::ProxyStateTracker tracker_;
  std::vector<Cidr> cidrs_ = {*Cidr::parse("172.30.0.0/16")};
  std::map<std::string, api::Service> services_;
  std::optional<NftablesPlan> plan_;
  SteadyTime now_{};
};

api::Service affinityService() {
  auto svc = testing::makeService("ns5", "svc5", "172.30.0.45");
  svc.session_affinity = "ClientIP";
  svc.session_affinity_timeout = 300;
  return svc;
}

TEST_F(NftablesPlannerTest, AffinityEndpointChainsAndSetsFollowTheEndpoints) {
  setService(affinityService());
  setSlice(testing::makeSlice("ns5", "svc5", "svc5-1", {{.ip = "10.0.5.1", .node = "test-node"}, {.ip = "10.0.5.2", .node = "n2"}}));
  const std::string ep1 = servicePortEndpointChainNameBase("ns5", "svc5", "tcp", "p80", "10.0.5.1:80");
  const std::string ep2 = servicePortEndpointChainNameBase("ns5", "svc5", "tcp", "p80", "10.0.5.2:80");
  const NftablesPlan& first = sync(true);
  const std::string dump = first.ruleset.dump();
  EXPECT_TRUE(hasLine(dump, "add set ip kube-proxy " + affinitySetName(ep1) +
                                " { type ipv4_addr ; flags dynamic,timeout ; timeout 300s ; }"))
      << dump;
  EXPECT_TRUE(hasLine(dump, "add rule ip kube-proxy service-HVFWP5L3-ns5/svc5/tcp/p80 numgen random mod 2 vmap { 0 : goto " +
                                endpointChainName(ep1) + " , 1 : goto " + endpointChainName(ep2) + " }"))
      << dump;
  // Only the local endpoint can hairpin.
  EXPECT_TRUE(hasLine(dump, "add element ip kube-proxy hairpin-connections { 10.0.5.1 . 10.0.5.1 . tcp . 80 }"));
  EXPECT_EQ(dump.find("10.0.5.2 . 10.0.5.2"), std::string::npos);

  // 10.0.5.2 goes: its endpoint chain is flushed now and deleted by the next sync; its affinity
  // set, which nothing refers to any more, goes at once.
  setSlice(testing::makeSlice("ns5", "svc5", "svc5-1", {{.ip = "10.0.5.1", .node = "test-node"}}));
  const NftablesPlan& second = sync();
  EXPECT_FALSE(second.full_sync);
  const std::string tx = second.transaction.text();
  EXPECT_TRUE(hasLine(tx, "flush chain ip kube-proxy " + endpointChainName(ep2))) << tx;
  EXPECT_TRUE(hasLine(tx, "delete set ip kube-proxy " + affinitySetName(ep2))) << tx;
  EXPECT_EQ(second.stale_chains.count(endpointChainName(ep2)), 1u);
  EXPECT_NE(second.ruleset.findChain(endpointChainName(ep2)), nullptr);
  EXPECT_EQ(second.ruleset.findSet(affinitySetName(ep2)), nullptr);

  const NftablesPlan& third = sync();
  EXPECT_EQ(third.stale_chain_deletion.text(), "delete chain ip kube-proxy " + endpointChainName(ep2) + "\n");
  EXPECT_TRUE(third.transaction.empty()) << third.transaction.text();
  EXPECT_EQ(third.ruleset.findChain(endpointChainName(ep2)), nullptr);
  EXPECT_TRUE(third.stale_chains.empty());
}

TEST_F(NftablesPlannerTest, AStaleChainWaitsMoreThanASecond) {
  setService(testing::makeService("ns1", "svc1", "172.30.0.41"));
  setSlice(testing::makeSlice("ns1", "svc1", "svc1-1", {{.ip = "10.0.1.1"}}));
  sync(true);
  setSlice(testing::makeSlice("ns1", "svc1", "svc1-1", {}));
  sync();
  ASSERT_EQ(plan_->stale_chains.size(), 1u);
  // A sync within the second keeps it (and does not flush it again).
  auto [snapshot, changes] = tracker_.checkout();
  PlanInput soon{.snapshot = snapshot.get(),
                 .settings = &settings_,
                 .service_cidrs = cidrs_,
                 .full_sync = false,
                 .changes = &changes,
                 .existing = &plan_->ruleset,
                 .stale_chains = &plan_->stale_chains,
                 .first_sync = false,
                 .now = now_ + std::chrono::milliseconds(500)};
  const NftablesPlan kept = planNftables(soon);
  EXPECT_TRUE(kept.stale_chain_deletion.empty());
  EXPECT_TRUE(kept.transaction.empty()) << kept.transaction.text();
  EXPECT_EQ(kept.stale_chains, plan_->stale_chains);
}

TEST_F(NftablesPlannerTest, PartialSyncBecomesFullWhenTheFixedPartChanges) {
  setService(testing::makeService("ns1", "svc1", "172.30.0.41"));
  sync(true);
  EXPECT_FALSE(sync().full_sync);
  // A second ServiceCIDR: the cluster-ips-check rule changes, which only a full sync writes.
  cidrs_.push_back(*Cidr::parse("172.50.0.0/16"));
  const NftablesPlan& plan = sync();
  EXPECT_TRUE(plan.full_sync);
  EXPECT_TRUE(hasLine(plan.transaction.text(),
                      "add rule ip kube-proxy cluster-ips-check ip daddr { 172.30.0.0/16,172.50.0.0/16 } drop comment "
                      "\"Drop traffic to unallocated ClusterIPs\""))
      << plan.transaction.text();
  EXPECT_FALSE(sync().full_sync);
}

TEST_F(NftablesPlannerTest, NodePortAddressesMatchingEverything) {
  setService(testing::makeService("ns1", "svc1", "172.30.0.41", {{.name = "p80", .port = 80, .node_port = 30080}}));
  sync(true);
  ASSERT_NE(plan_->ruleset.findSet(kNodePortIPsSet), nullptr);
  settings_.node_port_addresses.cidrs = {*Cidr::parse("0.0.0.0/0")};
  settings_.node_port_addresses.match_all = true;
  const NftablesPlan& plan = sync();
  EXPECT_TRUE(plan.full_sync);
  EXPECT_EQ(plan.ruleset.findSet(kNodePortIPsSet), nullptr);
  const std::string dump = plan.ruleset.dump();
  EXPECT_TRUE(hasLine(dump,
                      "add rule ip kube-proxy services fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th "
                      "dport vmap @service-nodeports"))
      << dump;
  EXPECT_TRUE(hasLine(dump,
                      "add rule ip kube-proxy nodeport-endpoints-check ip daddr != 127.0.0.0/8 meta l4proto . th dport "
                      "vmap @no-endpoint-nodeports"))
      << dump;
  EXPECT_TRUE(hasLine(plan.transaction.text(), "delete set ip kube-proxy nodeport-ips"));
}

TEST_F(NftablesPlannerTest, ObjectsKproxyDoesNotOwnAreLeftAlone) {
  setService(testing::makeService("ns1", "svc1", "172.30.0.41"));
  sync(true);
  Ruleset with_extra = plan_->ruleset;
  with_extra.chains.push_back(Chain{.name = "someone-elses", .base = std::nullopt, .comment = {},
                                    .rules = {Rule{{Verdict{Verdict::Kind::kAccept, {}}}, "theirs"}}});
  with_extra.sets.push_back(Set{.name = "their-set", .is_map = false, .type = "ipv4_addr", .flags = {},
                                .timeout_seconds = {}, .comment = {}, .elements = {}});
  with_extra.normalize();
  plan_->ruleset = with_extra;
  setService(testing::makeService("ns1", "svc1", "172.30.0.42"));
  for (bool full : {false, true}) {
    const NftablesPlan& plan = sync(full);
    const Chain* theirs = plan.ruleset.findChain("someone-elses");
    ASSERT_NE(theirs, nullptr);
    EXPECT_EQ(theirs->rules.size(), 1u);
    EXPECT_NE(plan.ruleset.findSet("their-set"), nullptr);
    EXPECT_EQ(plan.transaction.text().find("someone-elses"), std::string::npos);
  }
}

TEST_F(NftablesPlannerTest, ValueChangeOfAnElementIsDeleteThenAdd) {
  auto svc = testing::makeService("ns1", "svc1", "172.30.0.41");
  setService(svc);
  setSlice(testing::makeSlice("ns1", "svc1", "svc1-1", {{.ip = "10.0.1.1", .node = "test-node"}}));
  sync(true);
  svc.internal_traffic_policy = "Local";
  setService(svc);
  const std::string tx = sync().transaction.text();
  const size_t del = tx.find("delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }");
  const size_t add =
      tx.find("add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto local-ULMVA6XW-ns1/svc1/tcp/p80 }");
  ASSERT_NE(del, std::string::npos) << tx;
  ASSERT_NE(add, std::string::npos) << tx;
  EXPECT_LT(del, add);
}

class NftablesPlannerV6Test : public NftablesPlannerTest {
 protected:
  NftablesPlannerV6Test() : NftablesPlannerTest(IpFamily::kIPv6) { cidrs_ = {*Cidr::parse("fd00:10:96::/112")}; }
};

TEST_F(NftablesPlannerV6Test, WritesTheIp6Family) {
  auto svc = testing::makeService("ns1", "svc1", "fd00:172:30::41");
  svc.ip_families = {"IPv6"};
  svc.session_affinity = "ClientIP";
  setService(svc);
  setSlice(testing::makeSlice("ns1", "svc1", "svc1-1", {{.ip = "fd00:10:180::1", .node = "test-node"}}, {testing::PortSpec{}},
                              "IPv6"));
  auto other = testing::makeService("ns2", "svc2", "fd00:172:30::42");
  other.ip_families = {"IPv6"};
  setService(other);
  setSlice(testing::makeSlice("ns2", "svc2", "svc2-1", {{.ip = "fd00:10:180::2"}, {.ip = "fd00:10:180::3"}},
                              {testing::PortSpec{}}, "IPv6"));
  const std::string dump = sync(true).ruleset.dump();
  const std::string ep = servicePortEndpointChainNameBase("ns1", "svc1", "tcp", "p80", "[fd00:10:180::1]:80");
  for (const std::string& line : std::vector<std::string>{
           "add table ip6 kube-proxy { comment \"rules for kube-proxy\" ; }",
           "add set ip6 kube-proxy cluster-ips { type ipv6_addr ; comment \"Active ClusterIPs\" ; }",
           "add rule ip6 kube-proxy " + endpointChainName(ep) + " update @" + affinitySetName(ep) + " { ip6 saddr }",
           "add rule ip6 kube-proxy " + endpointChainName(ep) + " meta l4proto tcp dnat to [fd00:10:180::1]:80",
           "add rule ip6 kube-proxy service-" + servicePortChainNameBase("ns2", "svc2", "tcp", "p80") +
               " meta l4proto tcp dnat ip6 addr . port to numgen random mod 2 map { 0 : fd00:10:180::2 . 80 , 1 : "
               "fd00:10:180::3 . 80 }",
           "add rule ip6 kube-proxy services ip6 daddr @cluster-ips ip6 saddr != fd00:10::/64 mark set mark or 0x00004000 "
           "comment \"masquerade clusterIP traffic from outside cluster\"",
           "add rule ip6 kube-proxy cluster-ips-check ip6 daddr { fd00:10:96::/112 } drop comment \"Drop traffic to "
           "unallocated ClusterIPs\"",
           "add element ip6 kube-proxy hairpin-connections { fd00:10:180::1 . fd00:10:180::1 . tcp . 80 }",
           "add element ip6 kube-proxy nodeport-ips { 2001:db8::1 }",
       }) {
    EXPECT_TRUE(hasLine(dump, line)) << line << "\n" << dump;
  }
  EXPECT_EQ(dump.find(" ip "), std::string::npos) << dump;
}

}  // namespace
}  // namespace kproxy::nftables

namespace kproxy::nftables {
namespace {

// upstream TestNoEndpointsMetric: services whose traffic policy is Local but that have no local
// endpoint, per internal / external traffic (the plan's counters for
// kubeproxy_sync_proxy_rules_no_local_endpoints_total).
TEST(NftablesPlannerMetrics, NoLocalEndpointsAsUpstream) {
  struct Case {
    std::string name;
    std::string itp, etp;
    std::vector<std::pair<std::string, std::string>> endpoints;  // ip, node
    int internal = 0, external = 0;
  };
  const std::vector<std::pair<std::string, std::string>> with_local = {
      {"10.0.1.1", "test-node"}, {"10.0.1.2", "node1"}, {"10.0.1.3", "node2"}};
  const std::vector<std::pair<std::string, std::string>> remote_only = {
      {"10.0.1.1", "node0"}, {"10.0.1.2", "node1"}, {"10.0.1.3", "node2"}};
  const Case cases[] = {
      {"internalTrafficPolicy is set and there are local endpoints", "Local", "", with_local, 0, 0},
      {"externalTrafficPolicy is set and there are local endpoints", "", "Local", with_local, 0, 0},
      {"both policies are set and there are local endpoints", "Local", "Local", with_local, 0, 0},
      {"internalTrafficPolicy is set and there are no local endpoints", "Local", "", remote_only, 1, 0},
      {"externalTrafficPolicy is set and there are no local endpoints", "", "Local", remote_only, 0, 1},
      {"both policies are set and there are no local endpoints", "Local", "Local", remote_only, 1, 1},
      {"both policies are set and there are no endpoints at all", "Local", "Local", {}, 0, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto svc = testing::makeService("ns1", "svc1", "172.30.1.1", {{.name = "", .port = 80, .node_port = 123}});
    svc.internal_traffic_policy = c.itp;
    if (!c.etp.empty()) {
      svc.type = "NodePort";
      svc.external_traffic_policy = c.etp;
    }
    std::vector<testing::EndpointSpec> eps;
    for (const auto& [ip, node] : c.endpoints) eps.push_back({.ip = ip, .ready = true, .node = node});
    tracker::ProxyStateTracker t({.family = IpFamily::kIPv4, .node_name = "test-node", .node_hints_enabled = false});
    t.onServiceAdd(svc);
    t.onEndpointSliceAdd(testing::makeSlice("ns1", "svc1", "svc1-1", eps, {{.name = "", .port = 80}}));
    auto [snapshot, changes] = t.checkout();
    const config::ProxierSettings settings = fakeSettings();
    const NftablesPlan plan = planNftables(PlanInput{.snapshot = snapshot.get(), .settings = &settings,
                                                     .service_cidrs = {}, .full_sync = true, .changes = &changes,
                                                     .existing = nullptr, .stale_chains = nullptr,
                                                     .first_sync = true, .now = {}});
    EXPECT_EQ(plan.no_local_endpoints_internal, c.internal);
    EXPECT_EQ(plan.no_local_endpoints_external, c.external);
  }
}

}  // namespace
}  // namespace kproxy::nftables
