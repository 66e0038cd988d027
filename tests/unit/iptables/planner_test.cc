// Planner behaviour that golden files cannot show: partial-sync bookkeeping, the large-cluster
// stale-chain throttle with an injected clock (upstream TestSyncProxyRulesLargeClusterMode's
// time-dependent steps), and the rule-count metrics.
#include "modes/iptables/planner.h"

#include <gtest/gtest.h>

#include "modes/common/restore_text.h"

#include "tests/unit/tracker/builders.h"

namespace kproxy::iptables {
namespace {

using std::chrono::seconds;

config::ProxierSettings fakeProxierSettings() {
  config::ProxierSettings s;
  s.family = IpFamily::kIPv4;
  s.node_name = "test-node";
  s.node_ip = *IpAddress::parse("192.168.0.2");
  s.masquerade_mark = config::formatMasqueradeMark(14);
  s.localhost_node_ports = true;
  s.local_detector = {config::LocalTrafficDetector::Kind::kCidr, "10.0.0.0/8"};
  s.node_port_addresses.cidrs = {*Cidr::parse("0.0.0.0/0")};
  s.facts.nfacct_counters = {config::kNfacctInvalidDropped, config::kNfacctLocalhostNodePorts};
  s.sync_period = seconds(30);
  return s;
}

size_t countLines(const std::string& text, std::string_view prefix, std::string_view contains) {
  size_t n = 0, pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    if (line.substr(0, prefix.size()) == prefix && line.find(contains) != std::string_view::npos) ++n;
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return n;
}

class PlannerTest : public ::testing::Test {
 protected:
  IptablesPlan sync(bool full, SteadyTime now = {}, std::optional<SteadyTime> last_cleanup = std::nullopt) {
    auto [snapshot, changes] = tracker_.checkout();
    PlanInput input{.snapshot = snapshot.get(),
                    .settings = &settings_,
                    .full_sync = full,
                    .changes = &changes,
                    .existing_nat_chains = &kernel_,
                    .now = now,
                    .last_stale_cleanup = last_cleanup};
    IptablesPlan plan = planIptables(input);
    kernel_ = natChainsAfter(kernel_, plan);
    return plan;
  }
  void addService(const std::string& name, const std::string& ip, int port, std::vector<std::string> endpoint_ips) {
    // Upstream's tests put svcN in namespace nsN.
    const std::string ns = "ns" + name.substr(3);
    auto svc = testing::makeService(ns, name, ip, {{.name = "p" + std::to_string(port), .port = port}});
    tracker_.onServiceAdd(svc);
    std::vector<testing::EndpointSpec> eps;
    for (auto& e : endpoint_ips) eps.push_back({.ip = e});
    tracker_.onEndpointSliceAdd(
        testing::makeSlice(ns, name, name + "-1", eps, {{.name = "p" + std::to_string(port), .port = port}}));
    services_[name] = svc;
  }

  config::ProxierSettings settings_ = fakeProxierSettings();
  tracker::ProxyStateTracker tracker_{{.family = IpFamily::kIPv4, .node_name = "test-node"}};
  ChainNameSet kernel_;
  std::map<std::string, api::Service> services_;
};

TEST_F(PlannerTest, PartialSyncWritesOnlyChangedServicesButKeepsOthersActive) {
  addService("svc1", "172.30.0.41", 80, {"10.0.1.1"});
  addService("svc2", "172.30.0.42", 8080, {"10.0.2.1"});
  auto first = sync(true);
  EXPECT_TRUE(first.full_sync);
  EXPECT_EQ(first.written_nat_chains.size(), 4u);  // 2 SVC + 2 SEP
  EXPECT_TRUE(first.deleted_nat_chains.empty());

  addService("svc3", "172.30.0.43", 80, {"10.0.3.1"});
  auto second = sync(false);
  EXPECT_EQ(second.written_nat_chains.size(), 2u);  // only svc3's
  EXPECT_EQ(second.active_nat_chains.size(), 6u);
  EXPECT_TRUE(second.deleted_nat_chains.empty());
  // Every service's KUBE-SERVICES rule is still rewritten.
  EXPECT_EQ(countLines(second.payload(), "-A KUBE-SERVICES", "cluster IP"), 3u);
  EXPECT_EQ(countLines(second.payload(), "-A KUBE-SVC-", ""), 2u);  // masquerade + endpoint rule of svc3
  // Metrics as upstream counts them (TestSyncProxyRulesRepeated: last 12, total 20).
  EXPECT_EQ(first.natRulesLast(), 15u);
  EXPECT_EQ(second.natRulesLast(), 12u);
  EXPECT_EQ(second.natRulesTotal(), 20u);

  tracker_.onServiceDelete(services_["svc2"]);
  auto third = sync(false);
  EXPECT_EQ(third.deleted_nat_chains, (std::vector<std::string>{"KUBE-SEP-UHEGFW77JX3KXTOV", "KUBE-SVC-2VJB64SDSIJUP5T6"}));
  EXPECT_EQ(third.natRulesLast(), 7u);
  EXPECT_EQ(third.natRulesTotal(), 15u);
  EXPECT_EQ(kernel_.count("KUBE-SVC-2VJB64SDSIJUP5T6"), 0u);
}

TEST_F(PlannerTest, UnknownKernelChainsMeansNoDeletion) {
  addService("svc1", "172.30.0.41", 80, {"10.0.1.1"});
  auto [snapshot, changes] = tracker_.checkout();
  ChainNameSet stale = {"KUBE-SVC-STALESTALESTALE1"};
  PlanInput input{.snapshot = snapshot.get(), .settings = &settings_, .full_sync = true, .changes = &changes,
                  .existing_nat_chains = nullptr};
  auto plan = planIptables(input);
  EXPECT_FALSE(plan.stale_chains_checked);
  EXPECT_TRUE(plan.deleted_nat_chains.empty());
  input.existing_nat_chains = &stale;
  plan = planIptables(input);
  EXPECT_TRUE(plan.stale_chains_checked);
  EXPECT_EQ(plan.deleted_nat_chains, std::vector<std::string>{"KUBE-SVC-STALESTALESTALE1"});
  EXPECT_NE(plan.payload().find(":KUBE-SVC-STALESTALESTALE1 - [0:0]\n"), std::string::npos);
  EXPECT_NE(plan.payload().find("-X KUBE-SVC-STALESTALESTALE1\n"), std::string::npos);
}

// upstream TestSyncProxyRulesLargeClusterMode, the steps that depend on lastIPTablesCleanup.
TEST_F(PlannerTest, LargeClusterModeThrottlesStaleChainDeletion) {
  settings_.masquerade_all = true;
  std::vector<std::string> eps1, eps2;
  for (int i = 0; i < 499; ++i) {
    eps1.push_back("10.0." + std::to_string(i % 256) + "." + std::to_string(i / 256));
    eps2.push_back("10.1." + std::to_string(i % 256) + "." + std::to_string(i / 256));
  }
  addService("svc1", "172.30.0.41", 80, eps1);
  addService("svc2", "172.30.0.42", 8080, eps2);
  addService("svc3", "172.30.0.43", 8081, {"203.0.113.4", "203.0.113.8", "203.0.113.12"});
  SteadyTime t0 = SteadyTime() + std::chrono::hours(1);
  auto first = sync(true, t0);
  EXPECT_TRUE(first.large_cluster_mode);
  EXPECT_TRUE(first.stale_chains_checked);

  addService("svc4", "172.30.0.44", 8082, {"10.4.0.1"});
  auto with_svc4 = sync(false, t0 + seconds(1), t0);
  EXPECT_NE(with_svc4.payload().find("-A KUBE-SEP-SU5STNODRYEWJAUF -m tcp -p tcp -j DNAT --to-destination 10.4.0.1:8082"),
            std::string::npos);
  EXPECT_FALSE(with_svc4.stale_chains_checked);  // last cleanup only 1 s ago

  // Deleted, but the last cleanup is recent: no "-X" yet.
  tracker_.onServiceDelete(services_["svc4"]);
  auto deleted = sync(false, t0 + seconds(2), t0 + seconds(2));
  EXPECT_EQ(deleted.payload().find("10.4.0.1"), std::string::npos);
  EXPECT_EQ(deleted.payload().find("-X "), std::string::npos);
  EXPECT_FALSE(deleted.stale_chains_checked);

  // Exactly syncPeriod later is still throttled (upstream: strictly greater than syncPeriod).
  auto same = sync(false, t0 + seconds(32), t0 + seconds(2));
  EXPECT_EQ(same.payload().find("-X "), std::string::npos);

  // More than syncPeriod since the last cleanup: the stale chains go.
  auto later = sync(false, t0 + seconds(33), t0 + seconds(2));
  EXPECT_TRUE(later.stale_chains_checked);
  EXPECT_NE(later.payload().find("-X KUBE-SVC-EBDQOQU5SJFXRIL3\n"), std::string::npos);
  EXPECT_NE(later.payload().find("-X KUBE-SEP-SU5STNODRYEWJAUF\n"), std::string::npos);

  // A forced full sync counts every endpoint, without comments.
  auto full = sync(true, t0 + seconds(34), t0 + seconds(33));
  EXPECT_EQ(countLines(full.payload(), "-A KUBE-SEP-", "-j DNAT"), 1001u);
  EXPECT_EQ(countLines(full.payload(), "-A KUBE-SEP-", "--comment"), 0u);
}

TEST_F(PlannerTest, NoLocalEndpointCounters) {
  auto svc = testing::makeService("ns1", "svc1", "172.30.1.1", {{.name = "", .port = 80, .node_port = 30123}});
  svc.type = "NodePort";
  svc.external_traffic_policy = "Local";
  svc.internal_traffic_policy = "Local";
  tracker_.onServiceAdd(svc);
  tracker_.onEndpointSliceAdd(testing::makeSlice("ns1", "svc1", "svc1-1", {{.ip = "10.0.1.2", .node = "node1"}},
                                                 {{.name = "", .port = 80}}));
  auto plan = sync(true);
  EXPECT_EQ(plan.no_local_endpoints_internal, 1);
  EXPECT_EQ(plan.no_local_endpoints_external, 1);
  EXPECT_NE(plan.payload().find("\"ns1/svc1 has no local endpoints\""), std::string::npos);
}


// The writer's own guard (issue 15 item 2): a namespace, name or port name that bypassed
// validation (newline plus a rule, quotes, backslashes, NUL, 1000 bytes) changes no line
// structure: the plan has as many lines, each with as many words (split as iptables-restore
// splits them), as for a plain name, no byte a line could end on, and comments within 255 bytes.
TEST_F(PlannerTest, HostileNamesStayInsideOneCommentWord) {
  auto planFor = [&](const std::string& ns, const std::string& name, const std::string& port_name) {
    tracker::ProxyStateTracker tracker({.family = IpFamily::kIPv4, .node_name = "test-node"});
    auto svc = testing::makeService(ns, name, "172.30.0.41", {{.name = port_name, .port = 80, .node_port = 30080}});
    svc.type = "NodePort";
    svc.session_affinity = "ClientIP";
    tracker.onServiceAdd(svc);
    tracker.onEndpointSliceAdd(
        testing::makeSlice(ns, name, "s-1", {{.ip = "10.0.1.1"}, {.ip = "10.0.1.2"}}, {{.name = port_name, .port = 80}}));
    auto [snapshot, changes] = tracker.checkout();
    ChainNameSet none;
    PlanInput input{.snapshot = snapshot.get(), .settings = &settings_, .full_sync = true, .changes = &changes,
                    .existing_nat_chains = &none};
    IptablesPlan plan = planIptables(input);
    return plan.filter_chains + plan.filter_rules + plan.nat_chains + plan.nat_rules;
  };
  auto lines = [](const std::string& text) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      out.push_back(text.substr(pos, nl - pos));
      pos = nl == std::string::npos ? text.size() : nl + 1;
    }
    return out;
  };
  const std::vector<std::string> plain = lines(planFor("ns1", "svc1", "p80"));
  ASSERT_GT(plain.size(), 10u);
  const std::vector<std::string> hostile = {
      "x\n-A KUBE-SERVICES -j ACCEPT", "x\r-A KUBE-SERVICES -j ACCEPT", "x\" -j ACCEPT -m comment --comment \"y",
      "x\\", "x\\\" -j ACCEPT", std::string("x\0y", 3), "x -j ACCEPT", std::string(1000, 'a'), "x\ty%25",
  };
  for (const std::string& h : hostile) {
    for (int field = 0; field < 3; ++field) {
      SCOPED_TRACE(::testing::PrintToString(h) + " in field " + std::to_string(field));
      const std::string text = planFor(field == 0 ? h : "ns1", field == 1 ? h : "svc1", field == 2 ? h : "p80");
      const std::vector<std::string> got = lines(text);
      ASSERT_EQ(got.size(), plain.size()) << text;
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(restore::splitRuleWords(got[i]).size(), restore::splitRuleWords(plain[i]).size())
            << got[i] << "\nplain: " << plain[i];
        for (char c : got[i]) {
          const auto u = static_cast<unsigned char>(c);
          ASSERT_FALSE(u < 0x20 || u == 0x7f) << got[i];
        }
        bool has_comment = false;
        std::string comment = restore::ruleComment(got[i], &has_comment);
        if (has_comment) {
          EXPECT_LE(comment.size(), 255u) << got[i];
        }
      }
      EXPECT_EQ(text.find("\n-A KUBE-SERVICES -j ACCEPT"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace kproxy::iptables
