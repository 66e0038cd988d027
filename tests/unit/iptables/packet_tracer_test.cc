// The packet tracer's matching semantics (spec iptables-mode.md §10.3 plus the documented
// extensions: -i with a known interface, RETURN, -g, multiport) and its path probabilities, as
// tables of small rule sets. The upstream flows themselves are golden cases
// (testdata/golden/trace).
#include "modes/iptables/packet_tracer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kproxy::iptables {
namespace {

IpAddress ip(std::string_view text) { return *IpAddress::parse(text); }

// A state with the given rules: `nat` and `filter` are "-A ..." lines (chains declared
// automatically, in order of first appearance).
restore::RestoreText state(const std::vector<std::string>& nat, const std::vector<std::string>& filter = {}) {
  auto table = [](const std::string& name, const std::vector<std::string>& rules) {
    std::string chains, body;
    std::vector<std::string> declared;
    for (const auto& r : rules) {
      std::string chain = r.substr(3, r.find(' ', 3) - 3);
      if (std::find(declared.begin(), declared.end(), chain) == declared.end()) {
        declared.push_back(chain);
        chains += ":" + chain + " - [0:0]\n";
      }
      body += r + "\n";
    }
    return "*" + name + "\n" + chains + body + "COMMIT\n";
  };
  auto parsed = restore::parseRestoreText(table("filter", filter) + table("nat", nat));
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return parsed.ok() ? *parsed : restore::RestoreText{};
}

TracePacket packet(std::string_view src, std::string_view dst, int dport, std::string protocol = "tcp",
                   std::string iface = "") {
  return TracePacket{.source = ip(src),
                     .destination = ip(dst),
                     .destination_port = dport,
                     .protocol = std::move(protocol),
                     .in_interface = std::move(iface)};
}

const std::vector<IpAddress> kLocal = {ip("192.168.0.2"), ip("2001:db8::1")};

TraceResult traceOf(const restore::RestoreText& s, const TracePacket& p) {
  auto tracer = PacketTracer::create(s, kLocal);
  EXPECT_TRUE(tracer.ok()) << tracer.error().message;
  return tracer.ok() ? tracer->trace(p) : TraceResult{};
}

// A match condition on the KUBE-SERVICES jump: does a packet reach the DNAT behind it?
struct MatchCase {
  std::string name;
  std::string condition;  // inserted between "-A KUBE-SERVICES" and "-j KUBE-SEP-A"
  TracePacket packet;
  bool matches;
};

TEST(PacketTracerTest, MatchConditions) {
  const TracePacket base = packet("10.0.0.2", "172.30.0.41", 80);
  const std::vector<MatchCase> cases = {
      {"no condition", "", base, true},
      {"source CIDR", "-s 10.0.0.0/8", base, true},
      {"source CIDR miss", "-s 10.1.0.0/16", base, false},
      {"negated source CIDR", "! -s 10.0.0.0/8", base, false},
      {"negated source CIDR miss", "! -s 192.168.0.0/16", base, true},
      {"old-style negation", "-s ! 10.0.0.0/8", base, false},
      {"destination address", "-d 172.30.0.41", base, true},
      {"destination /32 as iptables-save prints it", "-d 172.30.0.41/32", base, true},
      {"destination miss", "-d 172.30.0.42", base, false},
      {"destination list", "-d 172.30.0.40,172.30.0.41", base, true},
      {"long option names", "--source 10.0.0.2 --destination 172.30.0.41", base, true},
      {"IPv4 CIDR never contains an IPv6 address", "-s 10.0.0.0/8", packet("fd00::2", "fd00::41", 80), false},
      {"IPv6 CIDR", "-d fd00::/64", packet("fd00::2", "fd00::41", 80), true},
      {"protocol", "-m tcp -p tcp", base, true},
      {"protocol miss", "-m udp -p udp", base, false},
      {"protocol by number", "-p 17", packet("10.0.0.2", "172.30.0.41", 80, "udp"), true},
      {"protocol all", "-p all", packet("10.0.0.2", "172.30.0.41", 80, "sctp"), true},
      {"negated protocol", "! -p tcp", base, false},
      {"destination port", "-p tcp --dport 80", base, true},
      {"destination port miss", "-p tcp --dport 443", base, false},
      {"destination port range", "-p tcp --dport 1:1024", base, true},
      {"negated destination port", "-p tcp ! --dport 80", base, false},
      {"multiport", "-p tcp -m multiport --dports 443,80,8000:8080", base, true},
      {"multiport miss", "-p tcp -m multiport --dports 443,8000:8080", base, false},
      {"source LOCAL", "-m addrtype --src-type LOCAL", packet("192.168.0.2", "172.30.0.41", 80), true},
      {"source not LOCAL", "-m addrtype --src-type LOCAL", base, false},
      {"127.0.0.1 is always LOCAL", "-m addrtype --src-type LOCAL", packet("127.0.0.1", "172.30.0.41", 80), true},
      {"other loopback addresses are not", "-m addrtype --src-type LOCAL", packet("127.0.0.2", "172.30.0.41", 80),
       false},
      {"::1 is always LOCAL", "-m addrtype --dst-type LOCAL", packet("::1", "::1", 80), true},
      {"destination LOCAL", "-m addrtype --dst-type LOCAL", packet("10.0.0.2", "192.168.0.2", 80), true},
      {"IPv6 destination LOCAL", "-m addrtype --dst-type LOCAL", packet("fd00::2", "2001:db8::1", 80), true},
      {"negated destination LOCAL", "-m addrtype ! --dst-type LOCAL", base, true},
      {"other address types never match", "-m addrtype --dst-type UNICAST", base, false},
      {"-i without a known interface", "-i cbr0", base, false},
      {"! -i without a known interface", "! -i cbr0", base, false},
      {"-i with the interface", "-i cbr0", packet("10.0.0.2", "172.30.0.41", 80, "tcp", "cbr0"), true},
      {"-i other interface", "-i cbr0", packet("10.0.0.2", "172.30.0.41", 80, "tcp", "eth0"), false},
      {"! -i other interface", "! -i cbr0", packet("10.0.0.2", "172.30.0.41", 80, "tcp", "eth0"), true},
      {"-i prefix", "-i veth+", packet("10.0.0.2", "172.30.0.41", 80, "tcp", "veth1234"), true},
      {"! -i prefix", "! -i veth+", packet("10.0.0.2", "172.30.0.41", 80, "tcp", "veth1234"), false},
      {"-o never matches", "-o eth0", base, false},
      {"affinity check never matches", "-m recent --name KUBE-SEP-A --rcheck --seconds 10800 --reap", base, false},
      {"recent --set matches", "-m recent --name KUBE-SEP-A --set", base, true},
      {"mark check never matches", "-m mark --mark 0x4000/0x4000", base, false},
      {"negated mark check never matches", "-m mark ! --mark 0x4000/0x4000", base, false},
      {"conntrack state never matches", "-m conntrack --ctstate NEW", base, false},
      {"negated conntrack state never matches", "-m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT", base, false},
      {"probability is ignored for matching", "-m statistic --mode random --probability 0.0000100000", base, true},
      {"comments and nfacct are ignored", "-m comment --comment \"a b\" -m nfacct --nfacct-name x", base, true},
      {"unquoted multi-word comment", "-m comment --comment kubernetes service portals -d 172.30.0.41", base, true},
      {"unknown matches are ignored", "-m tcp --tcp-flags SYN,RST,ACK SYN --sport 1234", base, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto s = state({"-A KUBE-SERVICES " + c.condition + " -j KUBE-SEP-A",
                    "-A KUBE-SEP-A -j DNAT --to-destination 10.180.0.1:80"});
    auto r = traceOf(s, c.packet);
    EXPECT_EQ(r.outputString(), c.matches ? "10.180.0.1:80" : "");
  }
}

TEST(PacketTracerTest, RulesWithoutTargetAreSkipped) {
  auto r = traceOf(state({"-A KUBE-SERVICES -m comment --comment \"other traffic will be dropped\"",
                          "-A KUBE-SERVICES -j DNAT --to-destination 10.180.0.1:80"}),
                   packet("10.0.0.2", "172.30.0.41", 80));
  EXPECT_EQ(r.outputString(), "10.180.0.1:80");
  ASSERT_EQ(r.visits.size(), 2u);
  EXPECT_EQ(r.visits[1].matches.size(), 1u);
}

TEST(PacketTracerTest, NfTablesOrderAndSaveFormatting) {
  // iptables-nft prints matches in its own order, addresses with /32, comments quoted.
  auto parsed = restore::parseRestoreText(
      "# Generated by iptables-nft-save v1.8.9\n"
      "*nat\n"
      ":PREROUTING ACCEPT [12:720]\n"
      ":KUBE-SERVICES - [0:0]\n"
      ":KUBE-SVC-A - [0:0]\n"
      ":KUBE-SEP-A - [0:0]\n"
      "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
      "-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp --dport 80 "
      "-j KUBE-SVC-A\n"
      "-A KUBE-SVC-A ! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp "
      "--dport 80 -j KUBE-MARK-MASQ\n"
      "-A KUBE-SVC-A -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -j KUBE-SEP-A\n"
      "-A KUBE-SEP-A -p tcp -m comment --comment ns1/svc1:p80 -m tcp -j DNAT --to-destination 10.180.0.1:80\n"
      "COMMIT\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  auto r = traceOf(*parsed, packet("192.168.0.2", "172.30.0.41", 80));
  EXPECT_EQ(r.outputString(), "10.180.0.1:80");
  EXPECT_TRUE(r.masquerade);
  EXPECT_FALSE(r.implied_prerouting_jump);
  ASSERT_EQ(r.masquerade_rules.size(), 1u);
  EXPECT_EQ(r.masquerade_rules[0].chain, "KUBE-SVC-A");
  EXPECT_EQ(r.masquerade_rules[0].comment, "ns1/svc1:p80 cluster IP");
  EXPECT_EQ(r.chainNames(), (std::vector<std::string>{"nat/PREROUTING", "nat/KUBE-SERVICES", "nat/KUBE-SVC-A",
                                                      "nat/KUBE-SEP-A"}));
}

TEST(PacketTracerTest, ImpliedPreroutingJumpGoesFirst) {
  // No PREROUTING -> KUBE-SERVICES jump: kube-proxy's is implied, in front of what is there.
  auto s = state({"-A PREROUTING -j DNAT --to-destination 10.99.0.1:80",
                  "-A KUBE-SERVICES -d 172.30.0.41 -j DNAT --to-destination 10.180.0.1:80"});
  auto r = traceOf(s, packet("10.0.0.2", "172.30.0.41", 80));
  EXPECT_TRUE(r.implied_prerouting_jump);
  EXPECT_EQ(r.outputString(), "10.180.0.1:80");
  ASSERT_FALSE(r.visits.empty());
  ASSERT_FALSE(r.visits[0].matches.empty());
  EXPECT_TRUE(r.visits[0].matches[0].implied);
  EXPECT_EQ(r.visits[0].matches[0].comment, "kubernetes service portals");
  // Not a service address: the other PREROUTING rule decides.
  EXPECT_EQ(traceOf(s, packet("10.0.0.2", "172.30.0.99", 80)).outputString(), "10.99.0.1:80");
}

TEST(PacketTracerTest, ExistingPreroutingJumpIsNotDuplicated) {
  auto s = state({"-A PREROUTING -m comment --comment kubernetes service portals -j KUBE-SERVICES",
                  "-A KUBE-SERVICES -j KUBE-MARK-MASQ"});
  auto r = traceOf(s, packet("10.0.0.2", "172.30.0.41", 80));
  EXPECT_FALSE(r.implied_prerouting_jump);
  EXPECT_EQ(r.masquerade_rules.size(), 1u);
  ASSERT_EQ(r.visits.size(), 2u);
  EXPECT_EQ(r.visits[0].matches[0].comment, "kubernetes service portals");
}

TEST(PacketTracerTest, TerminationAndContinuation) {
  const auto p = packet("10.0.0.2", "172.30.0.41", 80);
  // A non-probabilistic jump whose chain ended the packet ends the jumping chain too.
  EXPECT_EQ(traceOf(state({"-A KUBE-SERVICES -j X", "-A KUBE-SERVICES -j DNAT --to-destination 10.0.0.9:1",
                           "-A X -j DNAT --to-destination 10.0.0.1:1"}),
                    p)
                .outputString(),
            "10.0.0.1:1");
  // A chain that did not end the packet returns to the next rule.
  EXPECT_EQ(traceOf(state({"-A KUBE-SERVICES -j X", "-A KUBE-SERVICES -j DNAT --to-destination 10.0.0.9:1",
                           "-A X -d 1.1.1.1 -j DNAT --to-destination 10.0.0.1:1"}),
                    p)
                .outputString(),
            "10.0.0.9:1");
  // RETURN ends the chain without a verdict.
  EXPECT_EQ(traceOf(state({"-A KUBE-SERVICES -j X", "-A KUBE-SERVICES -j DNAT --to-destination 10.0.0.9:1",
                           "-A X -j RETURN", "-A X -j DNAT --to-destination 10.0.0.1:1"}),
                    p)
                .outputString(),
            "10.0.0.9:1");
  // -g: the chain gone to decides for the jumping chain, whatever happens there.
  EXPECT_EQ(traceOf(state({"-A KUBE-SERVICES -g X", "-A KUBE-SERVICES -j DNAT --to-destination 10.0.0.9:1",
                           "-A X -d 1.1.1.1 -j DNAT --to-destination 10.0.0.1:1"}),
                    p)
                .outputString(),
            "");
  // Targets that are no chain (MARK, LOG) do nothing; KUBE-MARK-MASQ marks and continues.
  auto r = traceOf(state({"-A KUBE-SERVICES -j MARK --set-xmark 0x4000/0x4000", "-A KUBE-SERVICES -j LOG",
                          "-A KUBE-SERVICES -j KUBE-MARK-MASQ", "-A KUBE-SERVICES -j ACCEPT",
                          "-A KUBE-SERVICES -j DROP"}),
                   p);
  EXPECT_EQ(r.outputString(), "ACCEPT");
  EXPECT_TRUE(r.masquerade);
  EXPECT_EQ(r.verdict(), "ACCEPT");
  // A jump to a chain that does not exist does nothing either.
  EXPECT_EQ(traceOf(state({"-A KUBE-SERVICES -j KUBE-SVC-GONE", "-A KUBE-SERVICES -j REJECT"}), p).outputString(),
            "REJECT");
}

TEST(PacketTracerTest, FilterChainsRunAfterNatWithTheDnatDestination) {
  auto s = state({"-A KUBE-SERVICES -d 172.30.0.41 -j DNAT --to-destination 10.180.0.1:8080"},
                 {"-A KUBE-SERVICES -d 10.180.0.1 -j DROP", "-A KUBE-NODEPORTS -p tcp --dport 80 -j ACCEPT",
                  "-A KUBE-FORWARD -j REJECT"});
  auto r = traceOf(s, packet("10.0.0.2", "172.30.0.41", 80));
  // The filter chains see the new address but the old port, as upstream's tracer does; chains
  // other than the four are never run.
  EXPECT_EQ(r.outputString(), "10.180.0.1:8080, DROP, ACCEPT");
  EXPECT_EQ(r.verdict(), "DROP");
  EXPECT_EQ(r.filter_destination, ip("10.180.0.1"));
  EXPECT_EQ(r.chainNames(), (std::vector<std::string>{"nat/PREROUTING", "nat/KUBE-SERVICES", "filter/KUBE-SERVICES",
                                                      "filter/KUBE-NODEPORTS"}));

  auto s6 = state({"-A KUBE-SERVICES -d fd00:172:30::41 -j DNAT --to-destination [fd00:10:180::1]:80"},
                  {"-A KUBE-SERVICES -d fd00:10:180::1 -j REJECT"});
  EXPECT_EQ(traceOf(s6, packet("fd00:10::2", "fd00:172:30::41", 80)).outputString(), "[fd00:10:180::1]:80, REJECT");
}

TEST(PacketTracerTest, StatisticBranchesAndTheirProbabilities) {
  auto s = state({
      "-A KUBE-SERVICES -d 172.30.0.41 -j KUBE-SVC-A",
      "-A KUBE-SVC-A -m recent --name KUBE-SEP-1 --rcheck --seconds 10800 --reap -j KUBE-SEP-1",
      "-A KUBE-SVC-A -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-1",
      "-A KUBE-SVC-A -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-2",
      "-A KUBE-SVC-A -j KUBE-SEP-3",
      "-A KUBE-SEP-1 -j DNAT --to-destination 10.0.0.1:80",
      "-A KUBE-SEP-2 -j DNAT --to-destination 10.0.0.2:80",
      "-A KUBE-SEP-3 -j DNAT --to-destination 10.0.0.3:80",
  });
  auto r = traceOf(s, packet("10.0.0.9", "172.30.0.41", 80));
  ASSERT_EQ(r.outputString(), "10.0.0.1:80, 10.0.0.2:80, 10.0.0.3:80");
  for (const auto& o : r.outputs) {
    EXPECT_TRUE(o.is_endpoint);
    EXPECT_NEAR(o.probability, 1.0 / 3, 1e-9) << o.value;
  }
  EXPECT_EQ(r.verdict(), "");
}

TEST(PacketTracerTest, ProbabilitiesMultiplyAlongThePath) {
  // EXT -> SVC with two branches of an outer 0.25 branch: 0.25 * 0.5 each, then 0.75 for the rest.
  auto s = state({
      "-A KUBE-SERVICES -m statistic --mode random --probability 0.25 -j KUBE-SVC-A",
      "-A KUBE-SERVICES -j KUBE-SEP-3",
      "-A KUBE-SVC-A -m statistic --mode random --probability 0.5 -j KUBE-SEP-1",
      "-A KUBE-SVC-A -j KUBE-SEP-2",
      "-A KUBE-SEP-1 -j DNAT --to-destination 10.0.0.1:80",
      "-A KUBE-SEP-2 -j DNAT --to-destination 10.0.0.2:80",
      "-A KUBE-SEP-3 -j DNAT --to-destination 10.0.0.3:80",
  });
  auto r = traceOf(s, packet("10.0.0.9", "172.30.0.41", 80));
  ASSERT_EQ(r.outputs.size(), 3u);
  EXPECT_NEAR(r.outputs[0].probability, 0.125, 1e-12);
  EXPECT_NEAR(r.outputs[1].probability, 0.125, 1e-12);
  EXPECT_NEAR(r.outputs[2].probability, 0.75, 1e-12);
  // A probabilistic branch whose chain does not end the packet takes nothing away.
  auto s2 = state({
      "-A KUBE-SERVICES -m statistic --mode random --probability 0.5 -j X",
      "-A KUBE-SERVICES -j DNAT --to-destination 10.0.0.3:80",
      "-A X -j KUBE-MARK-MASQ",
  });
  auto r2 = traceOf(s2, packet("10.0.0.9", "172.30.0.41", 80));
  ASSERT_EQ(r2.outputs.size(), 1u);
  EXPECT_NEAR(r2.outputs[0].probability, 1.0, 1e-12);
  EXPECT_TRUE(r2.masquerade);
  // statistic --mode nth --every N counts as probability 1/N.
  auto s3 = state({
      "-A KUBE-SERVICES -m statistic --mode nth --every 4 --packet 0 -j KUBE-SEP-1",
      "-A KUBE-SERVICES -j KUBE-SEP-2",
      "-A KUBE-SEP-1 -j DNAT --to-destination 10.0.0.1:80",
      "-A KUBE-SEP-2 -j DNAT --to-destination 10.0.0.2:80",
  });
  auto r3 = traceOf(s3, packet("10.0.0.9", "172.30.0.41", 80));
  ASSERT_EQ(r3.outputs.size(), 2u);
  EXPECT_NEAR(r3.outputs[0].probability, 0.25, 1e-12);
  EXPECT_NEAR(r3.outputs[1].probability, 0.75, 1e-12);
}

TEST(PacketTracerTest, LoopsAreRefused) {
  auto tracer = PacketTracer::create(state({"-A KUBE-SERVICES -j X", "-A X -j X"}), kLocal);
  ASSERT_FALSE(tracer.ok());
  EXPECT_EQ(tracer.error().message, "nat: the rules jump in a loop (X -> X); iptables refuses such rules");
}

TEST(PacketTracerTest, BadRulesAreRejectedWithTheirPlace) {
  struct Case {
    std::string rule;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"-A KUBE-SERVICES -d 172.30.0.999 -j ACCEPT", "bad address \"172.30.0.999\""},
      {"-A KUBE-SERVICES -s 10.0.0.0/33 -j ACCEPT", "bad address \"10.0.0.0/33\""},
      {"-A KUBE-SERVICES -p tcp --dport 70000 -j ACCEPT", "bad port \"70000\""},
      {"-A KUBE-SERVICES -m statistic --mode random --probability 1.5 -j ACCEPT", "bad probability \"1.5\""},
      {"-A KUBE-SERVICES -j", "option -j needs a value"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.rule);
    auto tracer = PacketTracer::create(state({c.rule}), kLocal);
    ASSERT_FALSE(tracer.ok());
    EXPECT_EQ(tracer.error().message, "nat KUBE-SERVICES rule 1 (\"" + c.rule + "\"): " + c.message);
  }
}

TEST(PacketTracerTest, RestoreNoFlushKeepsUnmentionedChains) {
  auto kernel = *restore::parseRestoreText(
      "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n:KUBE-SVC-B - [0:0]\n"
      "-A KUBE-SERVICES -j KUBE-SVC-A\n-A KUBE-SVC-A -j ACCEPT\n-A KUBE-SVC-B -j DROP\nCOMMIT\n");
  auto payload = *restore::parseRestoreText(
      "*filter\n:KUBE-SERVICES - [0:0]\nCOMMIT\n"
      "*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-C - [0:0]\n:KUBE-SVC-B - [0:0]\n"
      "-A KUBE-SERVICES -j KUBE-SVC-C\n-A KUBE-SVC-C -j REJECT\n-X KUBE-SVC-B\nCOMMIT\n");
  restoreNoFlush(kernel, payload);
  ASSERT_NE(kernel.find("filter"), nullptr);
  const restore::Table* nat = kernel.find("nat");
  ASSERT_NE(nat, nullptr);
  ASSERT_NE(nat->find("KUBE-SERVICES"), nullptr);
  EXPECT_EQ(nat->find("KUBE-SERVICES")->rules, std::vector<std::string>{"-A KUBE-SERVICES -j KUBE-SVC-C"});
  ASSERT_NE(nat->find("KUBE-SVC-A"), nullptr);  // not in the payload: kept
  EXPECT_EQ(nat->find("KUBE-SVC-A")->rules.size(), 1u);
  EXPECT_EQ(nat->find("KUBE-SVC-B"), nullptr);  // deleted
  ASSERT_NE(nat->find("KUBE-SVC-C"), nullptr);  // created
}

TEST(PacketTracerTest, HostOfEndpoint) {
  EXPECT_EQ(*hostOfEndpoint("10.0.0.1:80"), ip("10.0.0.1"));
  EXPECT_EQ(*hostOfEndpoint("10.0.0.1"), ip("10.0.0.1"));
  EXPECT_EQ(*hostOfEndpoint("[fd00::1]:80"), ip("fd00::1"));
  EXPECT_EQ(*hostOfEndpoint("fd00::1"), ip("fd00::1"));
  EXPECT_EQ(*hostOfEndpoint("10.0.0.1-10.0.0.5:80"), ip("10.0.0.1"));
  EXPECT_FALSE(hostOfEndpoint("[fd00::1:80").ok());
  EXPECT_FALSE(hostOfEndpoint("nonsense").ok());
}

// iptables refuses rules that jump in a loop; a hand-made --rules text with one is refused
// instead of traced for ever (found by tests/fuzz/iptables_trace).
TEST(PacketTracerTest, JumpLoopsAreRefused) {
  auto loop = state({"-A KUBE-SERVICES -j KUBE-SVC-A", "-A KUBE-SVC-A -m comment --comment x -j KUBE-SEP-A",
                     "-A KUBE-SEP-A -g KUBE-SVC-A"});
  auto tracer = PacketTracer::create(loop, kLocal);
  ASSERT_FALSE(tracer.ok());
  EXPECT_EQ(tracer.error().message,
            "nat: the rules jump in a loop (KUBE-SEP-A -> KUBE-SVC-A -> KUBE-SEP-A); iptables refuses such rules");
  auto self = state({}, {"-A KUBE-SERVICES -j KUBE-SERVICES"});
  tracer = PacketTracer::create(self, kLocal);
  ASSERT_FALSE(tracer.ok());
  EXPECT_EQ(tracer.error().message,
            "filter: the rules jump in a loop (KUBE-SERVICES -> KUBE-SERVICES); iptables refuses such rules");
  // Two jumps to the same chain are no loop.
  auto twice = state({"-A KUBE-SERVICES -j KUBE-SEP-A", "-A KUBE-SERVICES -j KUBE-SEP-A",
                      "-A KUBE-SEP-A -p tcp -j DNAT --to-destination 10.1.0.1:80"});
  EXPECT_EQ(traceOf(twice, packet("10.0.0.1", "10.96.0.1", 80)).outputString(), "10.1.0.1:80");
}

// Without a loop, chains that each jump twice to the next double the paths at every level: the
// trace stops at its budget and says so rather than running for 2^40 chain entries.
TEST(PacketTracerTest, TraceStopsAtItsBudget) {
  std::vector<std::string> rules = {"-A KUBE-SERVICES -j C0"};
  for (int i = 0; i < 40; ++i) {
    const std::string jump = "-A C" + std::to_string(i) + " -j C" + std::to_string(i + 1);
    rules.push_back(jump);
    rules.push_back(jump);
  }
  auto result = traceOf(state(rules), packet("10.0.0.1", "10.96.0.1", 80));
  EXPECT_TRUE(result.limit_reached);
  EXPECT_LE(result.visits.size(), tracing::kMaxChainEntries);
  // A few levels are traced in full.
  rules.resize(1 + 2 * 5);
  result = traceOf(state(rules), packet("10.0.0.1", "10.96.0.1", 80));
  EXPECT_FALSE(result.limit_reached);
  // PREROUTING, KUBE-SERVICES, then C0 once, C1 twice ... C4 16 times (C5 has no rules: no chain).
  EXPECT_EQ(result.visits.size(), 1u + 1u + 1u + 2u + 4u + 8u + 16u);
}

}  // namespace
}  // namespace kproxy::iptables
