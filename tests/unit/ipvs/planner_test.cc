// IPVS planner behaviour that golden files cannot show: the node addresses the live proxier passes
// (kube-ipvs0's own), the no-local-endpoints metrics (upstream TestNoEndpointsMetric), sysctls,
// the ipvs settings, and determinism when two service ports claim one virtual server.
#include "modes/ipvs/planner.h"

#include <gtest/gtest.h>

#include "tests/unit/ipvs/ipvs_builders.h"

#include "tests/unit/tracker/builders.h"

namespace kproxy::ipvs {
namespace {

using testing::ip;

config::ProxierSettings fakeSettings() {
  config::ProxierSettings s;
  s.family = IpFamily::kIPv4;
  s.node_name = "test-node";
  s.node_ip = ip("192.168.0.2");
  s.masquerade_mark = config::formatMasqueradeMark(14);
  s.node_port_addresses.cidrs = {*Cidr::parse("0.0.0.0/0")};
  s.node_port_addresses.match_all = true;
  return s;
}

std::vector<std::string> keys(const IpvsState& state) {
  std::vector<std::string> out;
  for (const auto& vs : state.virtual_servers) out.push_back(vs.key().toString());
  return out;
}

std::vector<std::string> members(const IpvsState& state, std::string_view set) {
  const IpSet* s = state.findIpSet(set);
  return s == nullptr ? std::vector<std::string>{"(no set)"} : s->members;
}

class IpvsPlannerTest : public ::testing::Test {
 protected:
  IpvsPlan plan(const std::vector<IpAddress>* kube_ipvs0 = nullptr) {
    snapshot_ = tracker_.checkout().first;
    return planIpvs({.snapshot = snapshot_.get(), .settings = &settings_, .ipvs = &ipvs_,
                     .kube_ipvs0_addresses = kube_ipvs0});
  }
  void add(const api::Service& svc, std::vector<kproxy::testing::EndpointSpec> eps = {},
           std::vector<kproxy::testing::PortSpec> ports = {kproxy::testing::PortSpec{}}) {
    tracker_.onServiceAdd(svc);
    if (!eps.empty()) {
      tracker_.onEndpointSliceAdd(
          kproxy::testing::makeSlice(svc.meta.namespace_, svc.meta.name, svc.meta.name + "-1", std::move(eps), ports));
    }
  }

  config::ProxierSettings settings_ = fakeSettings();
  IpvsSettings ipvs_;
  tracker::ProxyStateTracker tracker_{{.family = IpFamily::kIPv4, .node_name = "test-node"}};
  tracker::ProxySnapshotPtr snapshot_;
};

TEST_F(IpvsPlannerTest, KubeIpvs0AddressesAreNotNodeAddresses) {
  // A live node lists the ClusterIPs bound on kube-ipvs0 among its addresses; upstream's
  // GetAllLocalAddressesExcept(kube-ipvs0) keeps them out of the NodePort addresses.
  settings_.facts.local_addresses = {*InterfaceAddress::parse("192.168.0.2/24"),
                                     *InterfaceAddress::parse("172.30.0.10/32"),
                                     *InterfaceAddress::parse("127.0.0.1/8")};
  add(kproxy::testing::makeService("ns1", "np", "172.30.0.10", {{.port = 80, .node_port = 30080}}));
  const std::vector<IpAddress> bound = {ip("172.30.0.10")};
  EXPECT_EQ(keys(plan(&bound).state), (std::vector<std::string>{"172.30.0.10:80/TCP", "192.168.0.2:30080/TCP"}));
  // Without the hint, the address counts as the node's (render assumes facts without kube-ipvs0).
  EXPECT_EQ(keys(plan().state), (std::vector<std::string>{"172.30.0.10:80/TCP", "172.30.0.10:30080/TCP",
                                                          "192.168.0.2:30080/TCP"}));
}

TEST_F(IpvsPlannerTest, NodePortAddressCidrsIncludeKubeIpvs0Addresses) {
  // spec §1.3 step 7 (inferred): with CIDRs, upstream lists every interface, kube-ipvs0 included.
  settings_.node_port_addresses.match_all = false;
  settings_.node_port_addresses.cidrs = {*Cidr::parse("172.30.0.0/16"), *Cidr::parse("127.0.0.0/8")};
  settings_.facts.local_addresses = {*InterfaceAddress::parse("192.168.0.2/24"),
                                     *InterfaceAddress::parse("127.0.0.1/8")};
  add(kproxy::testing::makeService("ns1", "np", "172.30.0.10", {{.port = 80, .node_port = 30080}}));
  const std::vector<IpAddress> bound = {ip("172.30.0.10")};
  EXPECT_EQ(keys(plan(&bound).state), (std::vector<std::string>{"172.30.0.10:80/TCP", "172.30.0.10:30080/TCP"}));
}

TEST_F(IpvsPlannerTest, Ipv6LinkLocalAndLoopbackAreNeverNodeAddresses) {
  settings_.family = IpFamily::kIPv6;
  settings_.node_port_addresses.cidrs = {*Cidr::parse("::/0")};
  settings_.facts.local_addresses = {*InterfaceAddress::parse("::1/128"), *InterfaceAddress::parse("fe80::1/64"),
                                     *InterfaceAddress::parse("2001:db8::2/64"),
                                     *InterfaceAddress::parse("192.168.0.2/24")};
  tracker::ProxyStateTracker tracker6{{.family = IpFamily::kIPv6, .node_name = "test-node"}};
  tracker6.onServiceAdd(kproxy::testing::makeService("ns1", "np", "fd00::10", {{.port = 80, .node_port = 30080}}));
  auto snapshot = tracker6.checkout().first;
  auto p = planIpvs({.snapshot = snapshot.get(), .settings = &settings_, .ipvs = &ipvs_});
  EXPECT_EQ(keys(p.state), (std::vector<std::string>{"[2001:db8::2]:30080/TCP", "[fd00::10]:80/TCP"}));
  EXPECT_EQ(p.state.ipsets.front().name.rfind("KUBE-6-", 0), 0u);
  EXPECT_NE(p.iptables_payload.find("-A KUBE-SERVICES -s ::1/128 -j RETURN\n"), std::string::npos);
}

// upstream TestNoEndpointsMetric (node IP 10.0.0.1, NodePort 30000 when eTP is set).
TEST_F(IpvsPlannerTest, NoLocalEndpointsMetric) {
  struct Case {
    std::string name;
    std::string itp;
    std::string etp;
    std::vector<std::string> nodes;
    int internal;
    int external;
  };
  const std::vector<Case> cases = {
      {"internalTrafficPolicy is set and there are local endpoints", "Local", "", {"test-node", "node1", "node2"}, 0, 0},
      {"externalTrafficPolicy is set and there are local endpoints", "", "Local", {"test-node", "node1", "node2"}, 0, 0},
      {"both policies are set and there are local endpoints", "Local", "Local", {"test-node", "node1", "node2"}, 0, 0},
      {"internalTrafficPolicy is set and there are no local endpoints", "Local", "", {"node0", "node1", "node2"}, 1, 0},
      {"externalTrafficPolicy is set and there are no local endpoints", "", "Local", {"node0", "node1", "node2"}, 0, 1},
      {"Both policies are set and there are no local endpoints", "Local", "Local", {"node0", "node1", "node2"}, 1, 1},
      {"Both policies are set and there are no endpoints at all", "Local", "Local", {}, 0, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    settings_.facts.local_addresses = {*InterfaceAddress::parse("10.0.0.1/32")};
    tracker::ProxyStateTracker tracker{{.family = IpFamily::kIPv4, .node_name = "test-node"}};
    auto svc = kproxy::testing::makeService("ns1", "svc1", "172.20.1.1", {{.port = 80, .node_port = 30000}});
    svc.internal_traffic_policy = c.itp;
    if (!c.etp.empty()) {
      svc.type = "NodePort";
      svc.external_traffic_policy = c.etp;
    }
    tracker.onServiceAdd(svc);
    std::vector<kproxy::testing::EndpointSpec> eps;
    for (size_t i = 0; i < c.nodes.size(); ++i) {
      eps.push_back({.ip = "10.0.1." + std::to_string(i + 1), .ready = true, .node = c.nodes[i]});
    }
    tracker.onEndpointSliceAdd(kproxy::testing::makeSlice("ns1", "svc1", "svc1-1", eps));
    auto snapshot = tracker.checkout().first;
    auto p = planIpvs({.snapshot = snapshot.get(), .settings = &settings_, .ipvs = &ipvs_});
    EXPECT_EQ(p.no_local_endpoints_internal, c.internal);
    EXPECT_EQ(p.no_local_endpoints_external, c.external);
  }
}

TEST_F(IpvsPlannerTest, SysctlsAndStrictArp) {
  auto p = plan();
  ASSERT_EQ(p.sysctls.size(), 4u);
  EXPECT_EQ(p.sysctls[0].name, "net/ipv4/vs/conntrack");
  ipvs_.strict_arp = true;
  auto strict = plan();
  ASSERT_EQ(strict.sysctls.size(), 6u);
  EXPECT_EQ(strict.sysctls[4].name, "net/ipv4/conf/all/arp_ignore");
  EXPECT_EQ(strict.sysctls[4].value, 1);
  EXPECT_EQ(strict.sysctls[5].name, "net/ipv4/conf/all/arp_announce");
  EXPECT_EQ(strict.sysctls[5].value, 2);
  EXPECT_EQ(strict.state, p.state);  // strictARP changes nothing else
  EXPECT_EQ(strict.iptables_payload, p.iptables_payload);
}

TEST_F(IpvsPlannerTest, SchedulerAndMhFlagOnEveryVirtualServer) {
  ipvs_.scheduler = "mh";
  settings_.facts.local_addresses = {*InterfaceAddress::parse("192.168.0.2/24")};
  auto svc = kproxy::testing::makeService("ns1", "svc1", "172.30.0.1", {{.port = 80, .node_port = 30080}});
  svc.external_ips = {"203.0.113.1"};
  add(svc);
  auto p = plan();
  ASSERT_EQ(p.state.virtual_servers.size(), 3u);
  for (const auto& vs : p.state.virtual_servers) {
    EXPECT_EQ(vs.scheduler, "mh");
    EXPECT_EQ(vs.flags, kFlagMhPort);
  }
}

TEST_F(IpvsPlannerTest, TwoPortsClaimingOneVirtualServerLastWins) {
  // Two services with the same external IP and port: upstream syncs the virtual server once per
  // claim, so the last service port (here in ServicePortName order) keeps its real servers.
  auto a = kproxy::testing::makeService("ns1", "a", "172.30.0.1");
  a.external_ips = {"203.0.113.1"};
  auto b = kproxy::testing::makeService("ns1", "b", "172.30.0.2");
  b.external_ips = {"203.0.113.1"};
  add(a, {{.ip = "10.0.1.1"}});
  add(b, {{.ip = "10.0.2.1"}});
  auto p = plan();
  const VirtualServer* vs = p.state.findVirtualServer({ip("203.0.113.1"), api::Protocol::kTCP, 80});
  ASSERT_NE(vs, nullptr);
  ASSERT_EQ(vs->real_servers.size(), 1u);
  EXPECT_EQ(vs->real_servers[0].toString(), "10.0.2.1:80");
  EXPECT_EQ(members(p.state, "KUBE-EXTERNAL-IP"), (std::vector<std::string>{"203.0.113.1,tcp:80"}));
}

TEST_F(IpvsPlannerTest, DeterministicAndExcludeCidrsCarried) {
  ipvs_.exclude_cidrs = {*Cidr::parse("10.96.0.0/12")};
  add(kproxy::testing::makeService("ns1", "svc1", "172.30.0.1"), {{.ip = "10.0.1.1", .node = "test-node"}});
  auto first = plan();
  auto second = plan();
  EXPECT_EQ(first.state, second.state);
  EXPECT_EQ(first.iptables_payload, second.iptables_payload);
  EXPECT_EQ(first.state.exclude_cidrs, ipvs_.exclude_cidrs);
  EXPECT_EQ(first.real_server_count, 1u);
  EXPECT_EQ(members(first.state, "KUBE-LOOP-BACK"), (std::vector<std::string>{"10.0.1.1,tcp:80,10.0.1.1"}));
  EXPECT_EQ(members(first.state, "KUBE-IPVS-IPS"), (std::vector<std::string>{"172.30.0.1"}));
  EXPECT_EQ(first.state.kube_ipvs0_addresses, (std::vector<IpAddress>{ip("172.30.0.1")}));
}

TEST_F(IpvsPlannerTest, SourceRangesAsTheKernelListsThemAndTheNodeIp) {
  auto lb = kproxy::testing::makeService("ns1", "lb", "172.30.0.1");
  lb.type = "LoadBalancer";
  lb.load_balancer_source_ranges = {"10.0.0.1/32", "203.0.113.0/24"};
  lb.load_balancer_ingress = {{.ip = "1.2.3.4"}};
  add(lb);
  auto blocked = plan();
  // A host range is listed by the kernel without its length; so is it planned.
  EXPECT_EQ(members(blocked.state, "KUBE-LOAD-BALANCER-SOURCE-CIDR"),
            (std::vector<std::string>{"1.2.3.4,tcp:80,10.0.0.1", "1.2.3.4,tcp:80,203.0.113.0/24"}));
  EXPECT_EQ(members(blocked.state, "KUBE-LOAD-BALANCER-SOURCE-IP"), std::vector<std::string>{});
  EXPECT_NE(blocked.iptables_payload.find(
                "-A KUBE-IPVS-OUT-FILTER -s 1.2.3.4 -m ipvs --vaddr 1.2.3.4 --vproto tcp --vport 80 -j DROP\n"),
            std::string::npos);

  settings_.node_ip = ip("203.0.113.9");  // inside a range: the node may reach the VIP
  auto allowed = plan();
  EXPECT_EQ(members(allowed.state, "KUBE-LOAD-BALANCER-SOURCE-IP"), (std::vector<std::string>{"1.2.3.4,tcp:80,1.2.3.4"}));
  EXPECT_EQ(allowed.iptables_payload.find("KUBE-IPVS-OUT-FILTER -s"), std::string::npos);
}

TEST(IpvsSettingsFrom, DefaultsFamiliesAndErrors) {
  config::KubeProxyConfiguration cfg;
  auto defaults = ipvsSettingsFrom(cfg, IpFamily::kIPv4);
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->scheduler, "rr");
  EXPECT_FALSE(defaults->strict_arp);

  cfg.ipvs.scheduler = "wlc";
  cfg.ipvs.strict_arp = true;
  cfg.ipvs.exclude_cidrs = {"10.0.0.0/16", "fd00::/64", "11.0.0.0/16"};
  auto v4 = ipvsSettingsFrom(cfg, IpFamily::kIPv4);
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->scheduler, "wlc");
  EXPECT_TRUE(v4->strict_arp);
  EXPECT_EQ(v4->exclude_cidrs, (std::vector<Cidr>{*Cidr::parse("10.0.0.0/16"), *Cidr::parse("11.0.0.0/16")}));
  auto v6 = ipvsSettingsFrom(cfg, IpFamily::kIPv6);
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->exclude_cidrs, (std::vector<Cidr>{*Cidr::parse("fd00::/64")}));

  cfg.ipvs.exclude_cidrs = {"10.0.0.0/16", "10.0.0.0/33"};
  auto bad = ipvsSettingsFrom(cfg, IpFamily::kIPv4);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "ipvs.excludeCIDRs[1]: \"10.0.0.0/33\" is not a valid CIDR");
}

TEST(ChainTables, MatchUpstream) {
  ASSERT_EQ(ipvsChains().size(), 11u);
  EXPECT_EQ(ipvsChains().front().chain, "KUBE-SERVICES");
  EXPECT_EQ(ipvsChains().back().chain, "KUBE-IPVS-OUT-FILTER");
  ASSERT_EQ(ipvsChainJumps().size(), 9u);
  EXPECT_EQ(ipvsChainJumps().back().from, "OUTPUT");
  EXPECT_EQ(ipvsChainJumps().back().comment, "kubernetes ipvs access filter");
}

}  // namespace
}  // namespace kproxy::ipvs
