// The nftables tracer on tables the planner wrote: hook order (node-sent packets take the output
// path), every endpoint of a numgen map in map order with its share, IPv6 endpoints as
// "[ip]:port", ClientIP affinity through the endpoint chains, the reason for masquerading, and
// interface-based local-traffic detection.
#include "modes/nftables/tracer.h"

#include <gtest/gtest.h>

#include "modes/nftables/planner.h"
#include "tests/unit/tracker/builders.h"

namespace kproxy::nftables {
namespace {

struct Cluster {
  IpFamily family = IpFamily::kIPv4;
  std::vector<api::Service> services;
  std::vector<std::shared_ptr<const api::EndpointSlice>> slices;
  config::LocalTrafficDetector detector{config::LocalTrafficDetector::Kind::kCidr, "10.0.0.0/8"};
};

Ruleset plan(const Cluster& c) {
  const bool v6 = c.family == IpFamily::kIPv6;
  config::ProxierSettings s;
  s.family = c.family;
  s.node_name = "test-node";
  s.node_ip = *IpAddress::parse(v6 ? "2001:db8::1" : "192.168.0.2");
  s.masquerade_mark = config::formatMasqueradeMark(14);
  s.local_detector = c.detector;
  if (v6 && c.detector.kind == config::LocalTrafficDetector::Kind::kCidr) s.local_detector.value = "fd00:10::/64";
  s.node_port_addresses.cidrs = {*Cidr::parse(v6 ? "2001:db8::1/128" : "192.168.0.2/32")};
  s.node_port_addresses.match_all = false;
  for (const char* a : {"127.0.0.1/8", "::1/128", "192.168.0.2/24", "2001:db8::1/64"}) {
    s.facts.local_addresses.push_back(*InterfaceAddress::parse(a));
  }
  tracker::ProxyStateTracker t({.family = c.family, .node_name = "test-node", .node_hints_enabled = false});
  for (const auto& svc : c.services) t.onServiceAdd(svc);
  for (const auto& slice : c.slices) t.onEndpointSliceAdd(slice);
  auto [snapshot, changes] = t.checkout();
  return planNftables(PlanInput{.snapshot = snapshot.get(), .settings = &s, .service_cidrs = {}, .full_sync = true,
                                .changes = &changes, .existing = nullptr, .stale_chains = nullptr, .first_sync = true,
                                .now = {}})
      .ruleset;
}

const std::vector<IpAddress> kLocal = {*IpAddress::parse("127.0.0.1"), *IpAddress::parse("::1"),
                                       *IpAddress::parse("192.168.0.2"), *IpAddress::parse("2001:db8::1")};

tracing::TraceResult traceOf(const Ruleset& r, const std::string& src, const std::string& dst, int port,
                           const std::string& in_interface = "") {
  return tracePacket(r, kLocal, tracing::TracePacket{.source = *IpAddress::parse(src),
                                                   .destination = *IpAddress::parse(dst),
                                                   .destination_port = port,
                                                   .protocol = "tcp",
                                                   .in_interface = in_interface});
}

std::vector<std::string> chainsEntered(const tracing::TraceResult& r) {
  std::vector<std::string> out;
  for (const auto& v : r.visits) {
    if (v.depth == 0) out.push_back(v.chain);
  }
  return out;
}

TEST(NftablesTracer, EveryEndpointOfTheMapInOrderWithItsShare) {
  Cluster c;
  c.services = {testing::makeService("ns1", "svc1", "172.30.0.41")};
  c.slices = {testing::makeSlice("ns1", "svc1", "svc1-1", {{.ip = "10.0.1.3"}, {.ip = "10.0.1.10"}, {.ip = "10.0.1.2"}})};
  const auto r = traceOf(plan(c), "10.0.0.2", "172.30.0.41", 80);
  // The map's order: endpoints sorted as strings, as upstream sorts them.
  EXPECT_EQ(r.outputString(), "10.0.1.10:80, 10.0.1.2:80, 10.0.1.3:80");
  for (const auto& o : r.outputs) {
    EXPECT_TRUE(o.is_endpoint);
    EXPECT_DOUBLE_EQ(o.probability, 1.0 / 3);
  }
  EXPECT_FALSE(r.masquerade);
  EXPECT_EQ(chainsEntered(r),
            (std::vector<std::string>{"filter-prerouting-pre-dnat", "nat-prerouting", "filter-forward", "nat-postrouting"}));
  EXPECT_EQ(r.filter_destination, *IpAddress::parse("10.0.1.10"));
}

TEST(NftablesTracer, PacketsFromTheNodeTakeTheOutputHooks) {
  Cluster c;
  c.services = {testing::makeService("ns1", "svc1", "172.30.0.41")};
  c.slices = {testing::makeSlice("ns1", "svc1", "svc1-1", {{.ip = "10.0.1.1"}})};
  const auto r = traceOf(plan(c), "192.168.0.2", "172.30.0.41", 80);
  EXPECT_EQ(chainsEntered(r),
            (std::vector<std::string>{"filter-output-pre-dnat", "nat-output", "filter-output", "nat-postrouting"}));
  EXPECT_TRUE(r.masquerade);  // not from the pod network
  ASSERT_EQ(r.masquerade_rules.size(), 1u);
  EXPECT_EQ(r.masquerade_rules[0].chain, "services");
  EXPECT_EQ(r.masquerade_rules[0].comment, "masquerade clusterIP traffic from outside cluster");
}

TEST(NftablesTracer, Ipv6EndpointsAreBracketed) {
  Cluster c;
  c.family = IpFamily::kIPv6;
  auto svc = testing::makeService("ns1", "svc1", "fd00:172:30::41");
  svc.ip_families = {"IPv6"};
  c.services = {svc};
  c.slices = {testing::makeSlice("ns1", "svc1", "svc1-1", {{.ip = "fd00:10:180::1"}, {.ip = "fd00:10:180::2:1"}},
                                 {testing::PortSpec{}}, "IPv6")};
  const auto r = traceOf(plan(c), "fd00:10::2", "fd00:172:30::41", 80);
  EXPECT_EQ(r.outputString(), "[fd00:10:180::1]:80, [fd00:10:180::2:1]:80");
}

TEST(NftablesTracer, AffinityGoesThroughEveryEndpointChain) {
  Cluster c;
  auto svc = testing::makeService("ns5", "svc5", "172.30.0.45");
  svc.session_affinity = "ClientIP";
  c.services = {svc};
  c.slices = {testing::makeSlice("ns5", "svc5", "svc5-1", {{.ip = "10.0.5.1"}, {.ip = "10.0.5.2"}})};
  const auto r = traceOf(plan(c), "10.0.0.2", "172.30.0.45", 80);
  EXPECT_EQ(r.outputString(), "10.0.5.1:80, 10.0.5.2:80");
  EXPECT_DOUBLE_EQ(r.outputs[0].probability, 0.5);
}

TEST(NftablesTracer, HairpinIsMasqueradedByTheHairpinSet) {
  Cluster c;
  c.services = {testing::makeService("ns1", "svc1", "172.30.0.41")};
  c.slices = {testing::makeSlice("ns1", "svc1", "svc1-1", {{.ip = "10.180.0.1", .node = "test-node"}})};
  const auto r = traceOf(plan(c), "10.180.0.1", "172.30.0.41", 80);
  EXPECT_EQ(r.outputString(), "10.180.0.1:80");
  EXPECT_TRUE(r.masquerade);
  ASSERT_EQ(r.masquerade_rules.size(), 1u);
  EXPECT_EQ(r.masquerade_rules[0].chain, "masquerading");
  EXPECT_NE(r.masquerade_rules[0].rule.find("@hairpin-connections"), std::string::npos);
  // Another pod is not a hairpin.
  EXPECT_FALSE(traceOf(plan(c), "10.180.0.2", "172.30.0.41", 80).masquerade);
}

TEST(NftablesTracer, InterfaceDetectorNeedsTheInputInterface) {
  Cluster c;
  c.detector = {config::LocalTrafficDetector::Kind::kInterfaceNamePrefix, "veth"};
  c.services = {testing::makeService("ns1", "svc1", "172.30.0.41")};
  c.slices = {testing::makeSlice("ns1", "svc1", "svc1-1", {{.ip = "10.0.1.1"}})};
  const Ruleset r = plan(c);
  // Without the interface, "iifname != veth*" cannot be decided: like upstream's tracer for
  // interface matches, it does not match, so nothing is marked.
  EXPECT_FALSE(traceOf(r, "203.0.113.2", "172.30.0.41", 80).masquerade);
  EXPECT_TRUE(traceOf(r, "203.0.113.2", "172.30.0.41", 80, "eth0").masquerade);
  EXPECT_FALSE(traceOf(r, "10.0.0.2", "172.30.0.41", 80, "veth1234").masquerade);
}

TEST(NftablesTracer, DropEndsThePacket) {
  Cluster c;
  c.services = {testing::makeService("ns1", "svc1", "172.30.0.41")};
  const auto r = traceOf(plan(c), "10.0.0.2", "172.30.0.41", 80);
  EXPECT_EQ(r.outputString(), "REJECT");
  EXPECT_EQ(r.verdict(), "REJECT");
  EXPECT_FALSE(r.masquerade);
  // Postrouting never runs for a packet that was rejected.
  for (const auto& v : r.visits) EXPECT_NE(v.chain, "nat-postrouting");
}

}  // namespace
}  // namespace kproxy::nftables
