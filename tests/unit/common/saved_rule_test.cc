// canonicalRule: a rule as kproxy writes it and as iptables-save lists it back (forms taken from
// iptables 1.8.9 on both back ends) are one rule; rules the kernel tells apart are not.
#include "modes/common/saved_rule.h"

#include <gtest/gtest.h>

namespace kproxy::restore {
namespace {

struct SameCase {
  std::string name;
  std::string written;
  std::string saved;
  IpFamily family = IpFamily::kIPv4;
};

TEST(CanonicalRule, WrittenAndSavedFormsAreOneRule) {
  const SameCase cases[] = {
      {"header fields first, addresses with prefix, comment quoted",
       R"(-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O)",
       R"(-A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O)"},
      {"iptables-save escapes a single quote in a comment",
       R"(-A KUBE-NODE-PORT -p sctp -m comment --comment "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'" -m set --match-set KUBE-NODE-PORT-SCTP-HASH dst,dst -j KUBE-MARK-MASQ)",
       R"(-A KUBE-NODE-PORT -p sctp -m comment --comment "Kubernetes nodeport SCTP port for masquerade purpose with type \'hash ip:port\'" -m set --match-set KUBE-NODE-PORT-SCTP-HASH dst,dst -j KUBE-MARK-MASQ)"},
      {"comment without spaces comes back quoted",
       "-A KUBE-SEP-C6EBXVWJJZMIWKLZ -m comment --comment ns4/svc4:p80 -s 10.180.0.5 -j KUBE-MARK-MASQ",
       R"(-A KUBE-SEP-C6EBXVWJJZMIWKLZ -s 10.180.0.5/32 -m comment --comment "ns4/svc4:p80" -j KUBE-MARK-MASQ)"},
      {"negated source and interface",
       R"(-A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP)",
       R"(-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP)"},
      {"interface after the tcp options",
       R"(-A KUBE-SVC-X -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -i cbr0 -j KUBE-MARK-MASQ)",
       R"(-A KUBE-SVC-X -d 172.30.0.41/32 ! -i cbr0 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ)"},
      {"marks lose their leading zeros",
       R"(-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x00004000/0x00004000 -j ACCEPT)",
       R"(-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT)"},
      {"--or-mark comes back as --set-xmark", "-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000",
       "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"},
      {"--xor-mark comes back as --set-xmark", "-A KUBE-POSTROUTING -j MARK --xor-mark 0x00004000",
       "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0"},
      {"probability in the kernel's fixed point",
       R"(-A KUBE-SVC-4 -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-U)",
       R"(-A KUBE-SVC-4 -m comment --comment "ns4/svc4:p80 -> 10.180.0.4:80" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-U)"},
      {"a probability kproxy writes with 10 digits",
       "-A KUBE-SVC-4 -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-U",
       "-A KUBE-SVC-4 -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-U"},
      {"REJECT gains its default",
       R"(-A KUBE-SERVICES -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.46 --dport 80 -j REJECT)",
       R"(-A KUBE-SERVICES -d 172.30.0.46/32 -p tcp -m comment --comment "ns6/svc6:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable)"},
      {"IPv6 REJECT default and /128",
       R"(-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp -p tcp -d fd00:172:30::44 --dport 80 -j REJECT)",
       R"(-A KUBE-SERVICES -d fd00:172:30::44/128 -p tcp -m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp6-port-unreachable)",
       IpFamily::kIPv6},
      {"IPv6 DNAT destination",
       "-A KUBE-SEP-S -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination [fd00:10:180:0::10]:8080",
       R"(-A KUBE-SEP-S -p tcp -m comment --comment "ns1/svc1:p80" -m tcp -j DNAT --to-destination [fd00:10:180::10]:8080)",
       IpFamily::kIPv6},
      {"recent --set gains its defaults and its order",
       "-A KUBE-SEP-I -m comment --comment ns5/svc5:p80 -m recent --name KUBE-SEP-I --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.3:80",
       R"(-A KUBE-SEP-I -p tcp -m comment --comment "ns5/svc5:p80" -m recent --set --name KUBE-SEP-I --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.180.0.3:80)"},
      {"recent --rcheck",
       R"(-A KUBE-SVC-L -m comment --comment "ns1/sticky -> 10.180.0.1:8080" -m recent --name KUBE-SEP-R --rcheck --seconds 60 --reap -j KUBE-SEP-R)",
       R"(-A KUBE-SVC-L -m comment --comment "ns1/sticky -> 10.180.0.1:8080" -m recent --rcheck --seconds 60 --reap --name KUBE-SEP-R --mask 255.255.255.255 --rsource -j KUBE-SEP-R)"},
      {"nf_tables lists the matches in another order",
       R"(-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-G)",
       R"(-A KUBE-NODEPORTS -d 127.0.0.0/8 -p tcp -m tcp --dport 3001 -m nfacct --nfacct-name  localhost_nps_accepted_pkts -m comment --comment "ns2/svc2:p80" -j KUBE-EXT-G)"},
      {"implicit protocol match", "-A KUBE-X -p udp --dport 53 -j ACCEPT", "-A KUBE-X -p udp -m udp --dport 53 -j ACCEPT"},
      {"long option names and old negation",
       "-A KUBE-X --source 10.0.0.0/255.0.0.0 --protocol TCP -m tcp --destination-port 80 -j ACCEPT",
       "-A KUBE-X -s 10.0.0.0/8 -p tcp -m tcp --dport 80 -j ACCEPT"},
      {"ctstate order", "-A KUBE-X -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
       "-A KUBE-X -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"},
      {"ipvs match", "-A KUBE-IPVS-OUT-FILTER -s 1.2.3.4 -m ipvs --vaddr 1.2.3.4 --vproto tcp --vport 80 -j DROP",
       "-A KUBE-IPVS-OUT-FILTER -s 1.2.3.4/32 -m ipvs --vaddr 1.2.3.4/32 --vport 80 --vproto 6 -j DROP"},
      {"set match with two arguments", "-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN",
       "-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto written = canonicalRule(tc.written, tc.family);
    auto saved = canonicalRule(tc.saved, tc.family);
    ASSERT_TRUE(written.ok()) << written.error().message;
    ASSERT_TRUE(saved.ok()) << saved.error().message;
    EXPECT_EQ(written->key, saved->key);
    EXPECT_EQ(written->chain, saved->chain);
  }
}

TEST(CanonicalRule, RulesTheKernelTellsApartDiffer) {
  const std::pair<std::string, std::string> cases[] = {
      {"-A KUBE-X -s 10.0.0.1 -j ACCEPT", "-A KUBE-X -s 10.0.0.2 -j ACCEPT"},
      {"-A KUBE-X -s 10.0.0.1 -j ACCEPT", "-A KUBE-X ! -s 10.0.0.1 -j ACCEPT"},
      {"-A KUBE-X -s 10.0.0.0/8 -j ACCEPT", "-A KUBE-X -s 10.0.0.0/16 -j ACCEPT"},
      {"-A KUBE-X -s 10.0.0.1 -j ACCEPT", "-A KUBE-Y -s 10.0.0.1 -j ACCEPT"},
      {"-A KUBE-X -s 10.0.0.1 -j ACCEPT", "-A KUBE-X -d 10.0.0.1 -j ACCEPT"},
      {"-A KUBE-X -j KUBE-Y", "-A KUBE-X -g KUBE-Y"},
      {"-A KUBE-X -m comment --comment \"a b\" -j ACCEPT", "-A KUBE-X -m comment --comment \"a  b\" -j ACCEPT"},
      {"-A KUBE-X -m mark --mark 0x4000/0x4000 -j ACCEPT", "-A KUBE-X -m mark ! --mark 0x4000/0x4000 -j ACCEPT"},
      {"-A KUBE-X -m mark --mark 0x4000 -j ACCEPT", "-A KUBE-X -m mark --mark 0x4000/0x4000 -j ACCEPT"},
      {"-A KUBE-X -j MARK --or-mark 0x4000", "-A KUBE-X -j MARK --xor-mark 0x4000"},
      {"-A KUBE-X -m statistic --mode random --probability 0.5 -j KUBE-Y",
       "-A KUBE-X -m statistic --mode random --probability 0.25 -j KUBE-Y"},
      {"-A KUBE-X -p tcp -m tcp --dport 80 -j ACCEPT", "-A KUBE-X -p udp -m udp --dport 80 -j ACCEPT"},
      {"-A KUBE-X -j DNAT --to-destination 10.0.0.1:80", "-A KUBE-X -j DNAT --to-destination 10.0.0.1:81"},
      {"-A KUBE-X -j REJECT", "-A KUBE-X -j REJECT --reject-with tcp-reset"},
      {"-A KUBE-X -m recent --name A --set", "-A KUBE-X -m recent --name A --rcheck"},
      {"-A KUBE-X -j MASQUERADE", "-A KUBE-X -j MASQUERADE --random-fully"},
      {"-A KUBE-X -m conntrack --ctstate NEW -j ACCEPT", "-A KUBE-X -m conntrack ! --ctstate NEW -j ACCEPT"},
  };
  for (const auto& [a, b] : cases) {
    SCOPED_TRACE(a + " | " + b);
    auto ra = canonicalRule(a, IpFamily::kIPv4);
    auto rb = canonicalRule(b, IpFamily::kIPv4);
    ASSERT_TRUE(ra.ok()) << ra.error().message;
    ASSERT_TRUE(rb.ok()) << rb.error().message;
    EXPECT_NE(ra->key, rb->key);
  }
}

TEST(CanonicalRule, DisplayIsTheSaveLayout) {
  auto r = canonicalRule("-A KUBE-SEP-G -m comment --comment shop/web:http -s 10.244.0.11 -j KUBE-MARK-MASQ", IpFamily::kIPv4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->display, R"(-A KUBE-SEP-G -s 10.244.0.11/32 -m comment --comment "shop/web:http" -j KUBE-MARK-MASQ)");
  r = canonicalRule("-A KUBE-MARK-MASQ -j MARK --or-mark 0x00004000", IpFamily::kIPv4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->display, "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000");
  r = canonicalRule(R"(-A KUBE-X -m comment --comment "say \"hi\"" -j ACCEPT)", IpFamily::kIPv4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->display, R"(-A KUBE-X -m comment --comment "say \"hi\"" -j ACCEPT)");
}

// Found by fuzzing (tests/fuzz/regressions/restore_text/canonical-key-not-stable): after an
// option whose arity is unknown, a "!" negates what follows, in the rule and in its display form.
TEST(CanonicalRule, ANegationAfterAnUnknownOptionBelongsToWhatFollows) {
  auto r = canonicalRule("-A KUBE-X -m foo --bar ! -s 10.0.0.0/8 -j ACCEPT", IpFamily::kIPv4);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->display, "-A KUBE-X ! -s 10.0.0.0/8 -m foo --bar -j ACCEPT");
  auto again = canonicalRule(r->display, IpFamily::kIPv4);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->key, r->key);
}

TEST(CanonicalRule, UnreadableRulesAreErrors) {
  const std::string cases[] = {
      "-I KUBE-X -j ACCEPT",
      "-A KUBE-X --dport 80 -j ACCEPT",
      "-A KUBE-X -s 10.0.0.300 -j ACCEPT",
      "-A KUBE-X -s 10.0.0.0/33 -j ACCEPT",
      "-A KUBE-X -j ACCEPT -j DROP",
      "-A KUBE-X -m mark --mark lots -j ACCEPT",
      "-A KUBE-X -m statistic --mode random --probability 2 -j ACCEPT",
      "-A KUBE-X -j ACCEPT !",
      "-A KUBE-X stray",
  };
  for (const auto& line : cases) {
    SCOPED_TRACE(line);
    EXPECT_FALSE(canonicalRule(line, IpFamily::kIPv4).ok());
  }
}

}  // namespace
}  // namespace kproxy::restore
