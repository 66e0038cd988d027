// The IPVS tracer's ip-set matching (set_match.h) and its walk (tracer.h) on hand-written rules.
#include "modes/ipvs/tracer.h"

#include <gtest/gtest.h>

#include "modes/common/restore_text.h"
#include "modes/ipvs/set_match.h"

namespace kproxy::ipvs {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

IpSet set(std::string name, IpSetType type, std::vector<std::string> members) {
  IpSet s;
  s.name = std::move(name);
  s.type = type;
  s.members = std::move(members);
  return s;
}

SetPacket packet(const char* src, const char* dst, int port, const char* proto = "tcp") {
  return SetPacket{.source = ip(src), .destination = ip(dst), .destination_port = port, .protocol = proto};
}

std::vector<bool> flags(const char* text) { return *parseSetFlags(text); }

TEST(IpvsSetMatch, ParsesFlags) {
  EXPECT_EQ(flags("dst,dst"), (std::vector<bool>{false, false}));
  EXPECT_EQ(flags("src,dst"), (std::vector<bool>{true, false}));
  EXPECT_EQ(flags("dst,dst,src"), (std::vector<bool>{false, false, true}));
  EXPECT_FALSE(parseSetFlags("dst,foo").ok());
  EXPECT_FALSE(parseSetFlags("").ok());
}

TEST(IpvsSetMatch, HashIpPortMatchesAddressPortAndProtocol) {
  auto m = *SetMatcher::compile(set("KUBE-CLUSTER-IP", IpSetType::kHashIpPort, {"10.96.0.10,tcp:80", "10.96.0.10,udp:53"}));
  EXPECT_TRUE(m.matches(flags("dst,dst"), packet("10.0.0.1", "10.96.0.10", 80)));
  EXPECT_FALSE(m.matches(flags("dst,dst"), packet("10.0.0.1", "10.96.0.10", 80, "udp")));
  EXPECT_TRUE(m.matches(flags("dst,dst"), packet("10.0.0.1", "10.96.0.10", 53, "udp")));
  EXPECT_FALSE(m.matches(flags("dst,dst"), packet("10.0.0.1", "10.96.0.10", 81)));
  EXPECT_FALSE(m.matches(flags("dst,dst"), packet("10.0.0.1", "10.96.0.11", 80)));
  // src,dst: the address is the packet's source, the port its destination port.
  EXPECT_FALSE(m.matches(flags("src,dst"), packet("10.0.0.1", "10.96.0.10", 80)));
  EXPECT_TRUE(m.matches(flags("src,dst"), packet("10.96.0.10", "10.1.2.3", 80)));
  // Only the first dimension when one flag is given.
  EXPECT_TRUE(m.matches(flags("dst"), packet("10.0.0.1", "10.96.0.10", 9999)));
  // The source port is unknown: a port read from src never matches.
  EXPECT_FALSE(m.matches(flags("dst,src"), packet("10.0.0.1", "10.96.0.10", 80)));
}

TEST(IpvsSetMatch, MemberWithoutProtocolIsTcp) {
  auto m = *SetMatcher::compile(set("S", IpSetType::kHashIpPort, {"10.96.0.10,80"}));
  EXPECT_TRUE(m.matches(flags("dst,dst"), packet("10.0.0.1", "10.96.0.10", 80)));
  EXPECT_FALSE(m.matches(flags("dst,dst"), packet("10.0.0.1", "10.96.0.10", 80, "udp")));
}

TEST(IpvsSetMatch, HashIpPortIpIsTheHairpinSet) {
  auto m = *SetMatcher::compile(set("KUBE-LOOP-BACK", IpSetType::kHashIpPortIp, {"10.180.0.1,tcp:80,10.180.0.1"}));
  EXPECT_TRUE(m.matches(flags("dst,dst,src"), packet("10.180.0.1", "10.180.0.1", 80)));
  EXPECT_FALSE(m.matches(flags("dst,dst,src"), packet("10.180.0.2", "10.180.0.1", 80)));
}

TEST(IpvsSetMatch, HashIpPortNetMatchesSourceInCidr) {
  auto m = *SetMatcher::compile(
      set("KUBE-LOAD-BALANCER-SOURCE-CIDR", IpSetType::kHashIpPortNet, {"1.2.3.4,tcp:80,10.0.0.0/8", "1.2.3.4,tcp:80,192.168.1.7"}));
  EXPECT_TRUE(m.matches(flags("dst,dst,src"), packet("10.250.0.1", "1.2.3.4", 80)));
  EXPECT_TRUE(m.matches(flags("dst,dst,src"), packet("192.168.1.7", "1.2.3.4", 80)));
  EXPECT_FALSE(m.matches(flags("dst,dst,src"), packet("192.168.1.8", "1.2.3.4", 80)));
  EXPECT_FALSE(m.matches(flags("dst,dst,src"), packet("10.250.0.1", "1.2.3.5", 80)));
}

TEST(IpvsSetMatch, BitmapPortAndHashIp) {
  auto ports = *SetMatcher::compile(set("KUBE-NODE-PORT-TCP", IpSetType::kBitmapPort, {"3001", "30000"}));
  EXPECT_TRUE(ports.matches(flags("dst"), packet("1.1.1.1", "2.2.2.2", 3001)));
  EXPECT_TRUE(ports.matches(flags("dst"), packet("1.1.1.1", "2.2.2.2", 3001, "udp")));  // ports only
  EXPECT_FALSE(ports.matches(flags("dst"), packet("1.1.1.1", "2.2.2.2", 3002)));
  auto ips = *SetMatcher::compile(set("KUBE-IPVS-IPS", IpSetType::kHashIp, {"10.96.0.10"}));
  EXPECT_TRUE(ips.matches(flags("dst"), packet("1.1.1.1", "10.96.0.10", 1)));
  EXPECT_FALSE(ips.matches(flags("src"), packet("1.1.1.1", "10.96.0.10", 1)));
}

TEST(IpvsSetMatch, IPv6Members) {
  auto m = *SetMatcher::compile(set("KUBE-6-CLUSTER-IP", IpSetType::kHashIpPort, {"fd00::10,tcp:80", "[fd00::11],udp:53"}));
  EXPECT_TRUE(m.matches(flags("dst,dst"), packet("fd00::1", "fd00::10", 80)));
  EXPECT_TRUE(m.matches(flags("dst,dst"), packet("fd00::1", "fd00::11", 53, "udp")));
  EXPECT_FALSE(m.matches(flags("dst,dst"), packet("10.0.0.1", "10.0.0.2", 80)));
}

TEST(IpvsSetMatch, BadMembersAreErrors) {
  EXPECT_FALSE(SetMatcher::compile(set("S", IpSetType::kHashIpPort, {"10.96.0.10"})).ok());
  EXPECT_FALSE(SetMatcher::compile(set("S", IpSetType::kHashIpPort, {"10.96.0.x,tcp:80"})).ok());
  EXPECT_FALSE(SetMatcher::compile(set("S", IpSetType::kBitmapPort, {"70000"})).ok());
}

// A small IPVS-mode state: one ClusterIP service with a persistent virtual server.
struct Fixture {
  IpvsState state;
  restore::RestoreText rules;
  Fixture() {
    state.family = IpFamily::kIPv4;
    VirtualServer vs;
    vs.address = ip("10.96.0.10");
    vs.port = 80;
    vs.scheduler = "wrr";
    vs.flags = kFlagPersistent;
    vs.timeout = 600;
    vs.real_servers = {RealServer{.address = ip("10.1.0.1"), .port = 8080, .weight = 3},
                       RealServer{.address = ip("10.1.0.2"), .port = 8080, .weight = 1},
                       RealServer{.address = ip("10.1.0.3"), .port = 8080, .weight = 0}};
    state.virtual_servers.push_back(vs);
    state.ipsets.push_back(set("KUBE-CLUSTER-IP", IpSetType::kHashIpPort, {"10.96.0.10,tcp:80"}));
    state.ipsets.push_back(set("KUBE-IPVS-IPS", IpSetType::kHashIp, {"10.96.0.10"}));
    state.kube_ipvs0_addresses = {ip("10.96.0.10")};
    rules = *restore::parseRestoreText(
        "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-POSTROUTING - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
        "-A KUBE-SERVICES ! -s 10.0.0.0/16 -m set --match-set KUBE-CLUSTER-IP dst,dst -j KUBE-MARK-MASQ\n"
        "-A KUBE-SERVICES -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT\n"
        "-A KUBE-POSTROUTING -m mark ! --mark 0x00004000/0x00004000 -j RETURN\n"
        "-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000\n"
        "-A KUBE-POSTROUTING -j MASQUERADE\n"
        "-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000\n"
        "COMMIT\n*filter\n:KUBE-IPVS-FILTER - [0:0]\n"
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN\n"
        "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT\n"
        "COMMIT\n");
  }
  tracing::TraceResult trace(const char* src, const char* dst, int port) const {
    auto tracer = IpvsTracer::create(rules, state, {ip("192.168.0.2")});
    EXPECT_TRUE(tracer.ok()) << tracer.error().message;
    return tracer->trace(tracing::TracePacket{.source = ip(src), .destination = ip(dst), .destination_port = port});
  }
};

TEST(IpvsTracer, RealServersByWeightWithSchedulerAndPersistence) {
  Fixture f;
  auto r = f.trace("10.0.0.5", "10.96.0.10", 80);
  EXPECT_EQ(r.outputString(), "10.1.0.1:8080, 10.1.0.2:8080");  // weight 0 is never chosen
  ASSERT_EQ(r.outputs.size(), 2u);
  EXPECT_DOUBLE_EQ(r.outputs[0].probability, 0.75);
  EXPECT_DOUBLE_EQ(r.outputs[1].probability, 0.25);
  EXPECT_FALSE(r.masquerade);
  const tracing::TraceMatch* ipvs_match = nullptr;
  for (const auto& v : r.visits) {
    for (const auto& m : v.matches) {
      if (m.table == "ipvs") ipvs_match = &m;
    }
  }
  ASSERT_NE(ipvs_match, nullptr);
  EXPECT_EQ(ipvs_match->rule, "-A -t 10.96.0.10:80 -s wrr -p 600");
  EXPECT_NE(ipvs_match->comment.find("scheduler wrr"), std::string::npos) << ipvs_match->comment;
  EXPECT_NE(ipvs_match->comment.find("persistence 600s"), std::string::npos) << ipvs_match->comment;
  // The implied jumps from the built-in chains, in the order the applier leaves them.
  auto chains = r.chainNames();
  EXPECT_EQ(chains.front(), "nat/PREROUTING");
  EXPECT_NE(std::find(chains.begin(), chains.end(), "ipvs/10.96.0.10:80/TCP"), chains.end());
}

TEST(IpvsTracer, MasqueradeMarkReachesPostrouting) {
  Fixture f;
  auto r = f.trace("203.0.113.1", "10.96.0.10", 80);
  EXPECT_EQ(r.outputString(), "10.1.0.1:8080, 10.1.0.2:8080");
  EXPECT_TRUE(r.masquerade);
  ASSERT_EQ(r.masquerade_rules.size(), 2u);
  EXPECT_EQ(r.masquerade_rules[0].target, "KUBE-MARK-MASQ");
  EXPECT_EQ(r.masquerade_rules[1].target, "MASQUERADE");
}

TEST(IpvsTracer, IpvsAddressOnOtherPortIsRejectedByTheFilter) {
  Fixture f;
  auto r = f.trace("10.0.0.5", "10.96.0.10", 81);
  EXPECT_EQ(r.outputString(), "REJECT");
  EXPECT_EQ(r.verdict(), "REJECT");
}

TEST(IpvsTracer, VirtualServerWithoutRealServersRejects) {
  Fixture f;
  f.state.virtual_servers[0].real_servers.clear();
  auto r = f.trace("10.0.0.5", "10.96.0.10", 80);
  EXPECT_EQ(r.outputString(), "REJECT");
  EXPECT_FALSE(r.masquerade);
}

TEST(IpvsTracer, UnknownSetNeverMatchesAndBadRulesAreErrors) {
  Fixture f;
  f.state.ipsets.clear();  // no sets: KUBE-IPVS-FILTER's REJECT cannot match either
  auto r = f.trace("10.0.0.5", "10.96.0.10", 81);
  EXPECT_EQ(r.outputString(), "");
  auto bad = restore::parseRestoreText("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -m set --match-set X dst,bogus -j ACCEPT\nCOMMIT\n");
  ASSERT_TRUE(bad.ok());
  auto tracer = IpvsTracer::create(*bad, f.state, {});
  ASSERT_FALSE(tracer.ok());
  EXPECT_NE(tracer.error().message.find("KUBE-SERVICES rule 1"), std::string::npos) << tracer.error().message;
}

}  // namespace
}  // namespace kproxy::ipvs
