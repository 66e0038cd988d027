// The nft text writer (knftables' dump form) and the transaction model: every string that comes
// from outside is quoted so that nothing can end the string or the line; truncation as upstream
// (TestTruncateNFTablesComment); applyTransaction() with nft's semantics.
#include "modes/nftables/plan.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace kproxy::nftables {
namespace {

// Each line of `text` must be one complete command: an even number of '"' (every quoted string
// closed on its line) and no control character other than the newline that ends it.
void expectWellFormedLines(const std::string& text, size_t expected_lines) {
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')), expected_lines) << text;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    const std::string line = text.substr(start, end - start);
    EXPECT_EQ(std::count(line.begin(), line.end(), '"') % 2, 0) << line;
    for (char c : line) {
      const auto u = static_cast<unsigned char>(c);
      EXPECT_TRUE(u >= 0x20 && u < 0x7f) << "byte " << static_cast<int>(u) << " in: " << line;
      EXPECT_NE(c, '\\') << line;
    }
    start = end + 1;
  }
}

const std::string kHostile[] = {
    std::string("a\"; flush ruleset; \""),  // ends the string, then a new command
    std::string("line\nadd rule ip kube-proxy services drop"),
    std::string("nul\0inside", 10),
    std::string("back\\slash\\\"quote"),
    std::string("cr\rtab\tdel\x7f"),
    std::string("utf8 \xc3\xa9 and invalid \xff\xfe"),
    std::string("} ; add chain ip kube-proxy evil { type nat hook prerouting priority 0 ; }"),
    std::string(1000, 'x') + "\n\"",  // very long, ending in a line break and a quote
};

TEST(NftWriter, QuotedStringsCannotBeEndedByInput) {
  for (const auto& hostile : kHostile) {
    SCOPED_TRACE(::testing::PrintToString(hostile));
    const std::string quoted = quoteString(hostile);
    ASSERT_GE(quoted.size(), 2u);
    EXPECT_EQ(quoted.front(), '"');
    EXPECT_EQ(quoted.back(), '"');
    const std::string inner = quoted.substr(1, quoted.size() - 2);
    EXPECT_EQ(inner.find('"'), std::string::npos);
    EXPECT_EQ(inner.find('\\'), std::string::npos);
    EXPECT_EQ(inner.find('\n'), std::string::npos);
    EXPECT_EQ(inner.find('\0'), std::string::npos);
    EXPECT_EQ(inner.size(), hostile.size());  // one byte for one byte: the length limit still holds
  }
}

TEST(NftWriter, HostileStringsInEveryQuotedPlaceStayInTheirLine) {
  for (const auto& hostile : kHostile) {
    SCOPED_TRACE(::testing::PrintToString(hostile));
    Ruleset r;
    r.comment = hostile;
    r.chains.push_back(Chain{.name = "services", .base = std::nullopt, .comment = hostile, .rules = {}});
    r.chains[0].rules.push_back(Rule{{MatchInterface{false, hostile}, Verdict{Verdict::Kind::kDrop, {}}}, hostile});
    r.chains[0].rules.push_back(Rule{{MatchInterface{true, hostile + "*"}, Verdict{Verdict::Kind::kAccept, {}}}, ""});
    Set map{.name = "no-endpoint-services",
            .is_map = true,
            .type = "ipv4_addr . inet_proto . inet_service : verdict",
            .flags = {},
            .timeout_seconds = std::nullopt,
            .comment = hostile,
            .elements = {}};
    map.elements.push_back(Element{.key = ElementKey{.address = *IpAddress::parse("10.0.0.1"),
                                                     .address2 = {},
                                                     .protocol = api::Protocol::kTCP,
                                                     .port = 80},
                                   .value = Verdict{Verdict::Kind::kDrop, {}},
                                   .comment = hostile});
    r.sets.push_back(map);
    // table, chain, map, 2 rules, element
    expectWellFormedLines(r.dump(), 6);

    Transaction tx;
    tx.operations.push_back(AddTable{hostile});
    tx.operations.push_back(AddChain{.name = "c", .base = std::nullopt, .comment = hostile});
    tx.operations.push_back(AddRule{"c", r.chains[0].rules[0]});
    tx.operations.push_back(AddElement{"no-endpoint-services", map.elements[0]});
    expectWellFormedLines(tx.text(), 4);
  }
}

TEST(NftWriter, NamesKeepOnlyNftNameCharacters) {
  std::string out;
  appendName(out, "service-ABC-ns/svc/tcp/p80 ; flush ruleset\n\"x\"");
  EXPECT_EQ(out, "service-ABC-ns/svc/tcp/p80___flush_ruleset__x_");
}

TEST(NftWriter, TruncatesCommentsAsUpstream) {
  struct Case {
    std::string name, input, want;
  };
  const std::string realistic =
      "loft-acme-platform-services-team-dev-v-shared-workloads-ns-001/"
      "my-api-svc-x-my-api-namespace-x-acme-shared-vcluster--a1b2c3d4e:http";
  const Case cases[] = {
      {"short comment unchanged", "kube-system/kube-dns:dns", "kube-system/kube-dns:dns"},
      {"exactly max length unchanged", std::string(kCommentLengthMax, 'a'), std::string(kCommentLengthMax, 'a')},
      {"too long gets truncated", std::string(kCommentLengthMax + 1, 'a'), std::string(kCommentLengthMax, 'a')},
      {"realistic long service name truncated", realistic,
       "loft-acme-platform-services-team-dev-v-shared-workloads-ns-001/"
       "my-api-svc-x-my-api-namespace-x-acme-shared-vcluster--a1b2c3d4e:h"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(truncateComment(c.input), c.want);
    std::string out;
    appendComment(out, c.input);
    EXPECT_EQ(out, "\"" + c.want + "\"");
  }
}

TEST(NftWriter, StatementsInBothFamilies) {
  const DnatTarget v4{*IpAddress::parse("10.180.0.1"), 80};
  const DnatTarget v6{*IpAddress::parse("fd00:10:180::1"), 8080};
  auto text = [](IpFamily f, const Statement& s) {
    std::string out;
    appendStatement(out, f, s);
    return out;
  };
  EXPECT_EQ(text(IpFamily::kIPv4, NumgenDnat{{v4, {*IpAddress::parse("10.180.0.2"), 80}}}),
            "dnat ip addr . port to numgen random mod 2 map { 0 : 10.180.0.1 . 80 , 1 : 10.180.0.2 . 80 }");
  EXPECT_EQ(text(IpFamily::kIPv6, NumgenDnat{{v6}}), "dnat ip6 addr . port to numgen random mod 1 map { 0 : fd00:10:180::1 . 8080 }");
  EXPECT_EQ(text(IpFamily::kIPv4, Dnat{v4}), "dnat to 10.180.0.1:80");
  EXPECT_EQ(text(IpFamily::kIPv6, Dnat{v6}), "dnat to [fd00:10:180::1]:8080");
  EXPECT_EQ(text(IpFamily::kIPv6, UpdateSet{"affinity-x", Field::kSaddr}), "update @affinity-x { ip6 saddr }");
  EXPECT_EQ(text(IpFamily::kIPv4, MatchMark{0x4000}), "mark and 0x00004000 != 0");
  EXPECT_EQ(text(IpFamily::kIPv6, MatchSet{{Field::kSaddr, Field::kDaddr, Field::kL4Proto, Field::kDport}, "hairpin-connections"}),
            "ip6 saddr . ip6 daddr . meta l4proto . th dport @hairpin-connections");
  MatchAddress sources{.field = Field::kSaddr, .negate = true, .style = ListStyle::kSpaced, .values = {}};
  sources.values = {{*Cidr::parse("192.168.0.0/24"), false}, {Cidr(*IpAddress::parse("1.2.3.4"), 32), true}};
  EXPECT_EQ(text(IpFamily::kIPv4, sources), "ip saddr != { 192.168.0.0/24 , 1.2.3.4 }");
  MatchAddress cidrs{.field = Field::kDaddr, .negate = false, .style = ListStyle::kCompact, .values = {}};
  cidrs.values = {{*Cidr::parse("172.30.0.0/16"), false}, {*Cidr::parse("172.50.0.0/16"), false}};
  EXPECT_EQ(text(IpFamily::kIPv4, cidrs), "ip daddr { 172.30.0.0/16,172.50.0.0/16 }");
  EXPECT_EQ(text(IpFamily::kIPv4, NumgenVmap{{"endpoint-a", "endpoint-b"}}),
            "numgen random mod 2 vmap { 0 : goto endpoint-a , 1 : goto endpoint-b }");
}

// --- applyTransaction: nft's rules for what a transaction may do

Ruleset twoChainsAndAMap() {
  Transaction tx;
  tx.operations = {AddTable{"rules for kube-proxy"},
                   AddChain{.name = "a", .base = std::nullopt, .comment = {}},
                   AddChain{.name = "b", .base = std::nullopt, .comment = {}},
                   AddRule{"a", Rule{{Verdict{Verdict::Kind::kJump, "b"}}, ""}},
                   AddSet{.name = "m", .is_map = true, .type = "ipv4_addr : verdict", .flags = {}, .timeout_seconds = {}, .comment = {}},
                   AddElement{"m", Element{.key = {.address = *IpAddress::parse("1.2.3.4")}, .value = Verdict{Verdict::Kind::kGoto, "b"}, .comment = {}}}};
  auto r = applyTransaction(Ruleset{}, tx);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Ruleset{};
}

TEST(ApplyTransaction, FollowsNftRules) {
  const Ruleset base = twoChainsAndAMap();
  ASSERT_NE(base.findChain("a"), nullptr);
  EXPECT_EQ(base.findChain("a")->rules.size(), 1u);

  auto run = [&](std::vector<Operation> ops) { return applyTransaction(base, Transaction{IpFamily::kIPv4, std::move(ops)}); };
  // A chain something jumps to, or a map element points to, cannot be deleted.
  EXPECT_FALSE(run({DeleteChain{"b"}}).ok());
  EXPECT_FALSE(run({FlushChain{"a"}, DeleteChain{"b"}}).ok());
  EXPECT_TRUE(run({FlushChain{"a"}, DeleteElement{"m", {.address = *IpAddress::parse("1.2.3.4")}}, DeleteChain{"b"}}).ok());
  // Adding an element that exists with another value fails; with the same value it is a no-op.
  EXPECT_FALSE(run({AddElement{"m", Element{.key = {.address = *IpAddress::parse("1.2.3.4")},
                                            .value = Verdict{Verdict::Kind::kDrop, {}}, .comment = {}}}}).ok());
  EXPECT_TRUE(run({AddElement{"m", Element{.key = {.address = *IpAddress::parse("1.2.3.4")},
                                           .value = Verdict{Verdict::Kind::kGoto, "b"}, .comment = {}}}}).ok());
  // Deleting what is not there fails; adding what is there changes nothing.
  EXPECT_FALSE(run({DeleteElement{"m", {.address = *IpAddress::parse("5.6.7.8")}}}).ok());
  EXPECT_FALSE(run({FlushChain{"nope"}}).ok());
  EXPECT_FALSE(run({AddRule{"a", Rule{{Verdict{Verdict::Kind::kGoto, "nope"}}, ""}}}).ok());
  auto same = run({AddChain{.name = "a", .base = std::nullopt, .comment = {}}});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->dump(), base.dump());
  // The failing operation is named.
  auto failed = run({FlushChain{"a"}, DeleteChain{"b"}});
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("operation 2 (delete chain ip kube-proxy b)"), std::string::npos)
      << failed.error().message;
}

TEST(Ruleset, DumpsInAnOrderNftAccepts) {
  // table, chains, sets, maps, rules, elements: everything a line refers to is declared above it.
  Ruleset r = twoChainsAndAMap();
  r.sets.push_back(Set{.name = "s", .is_map = false, .type = "ipv4_addr", .flags = {}, .timeout_seconds = {}, .comment = "c", .elements = {}});
  r.normalize();
  EXPECT_EQ(r.dump(),
            "add table ip kube-proxy { comment \"rules for kube-proxy\" ; }\n"
            "add chain ip kube-proxy a\n"
            "add chain ip kube-proxy b\n"
            "add set ip kube-proxy s { type ipv4_addr ; comment \"c\" ; }\n"
            "add map ip kube-proxy m { type ipv4_addr : verdict ; }\n"
            "add rule ip kube-proxy a jump b\n"
            "add element ip kube-proxy m { 1.2.3.4 : goto b }\n");
}

}  // namespace
}  // namespace kproxy::nftables
