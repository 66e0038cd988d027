// decodeNodeFacts / encodeNodeFacts.
#include "src/config/node_facts.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace kproxy::config {
namespace {

std::vector<std::string> addressStrings(const NodeFacts& facts) {
  std::vector<std::string> out;
  for (const auto& a : facts.local_addresses) out.push_back(a.toString());
  return out;
}

// upstream's NewFakeProxier facts, as testdata/golden/README.md lists them.
constexpr char kFakeProxierFacts[] = R"(localAddresses:
- 127.0.0.1/8
- "::1/128"
- 192.168.0.2/24
- 192.168.1.2/24
- 192.168.99.11/24
- "2001:db8::1/64"
- "2001:db8:1::2/64"
randomFully: false
nfacctCounters:
- ct_state_invalid_dropped_pkts
- localhost_nps_accepted_pkts
conntrackTCPBeLiberal: false
)";

TEST(NodeFactsTest, DecodesEveryKey) {
  auto facts = decodeNodeFacts(kFakeProxierFacts, "node-facts.yaml");
  ASSERT_TRUE(facts.ok()) << facts.error().message;
  EXPECT_EQ(addressStrings(*facts),
            (std::vector<std::string>{"127.0.0.1/8", "::1/128", "192.168.0.2/24", "192.168.1.2/24", "192.168.99.11/24",
                                      "2001:db8::1/64", "2001:db8:1::2/64"}));
  EXPECT_FALSE(facts->random_fully);
  EXPECT_EQ(facts->nfacct_counters, (std::set<std::string>{kNfacctInvalidDropped, kNfacctLocalhostNodePorts}));
  EXPECT_FALSE(facts->conntrack_tcp_be_liberal);
}

TEST(NodeFactsTest, EverythingIsOptional) {
  struct Case {
    std::string name;
    std::string yaml;
  };
  const std::vector<Case> cases = {
      {"empty file", ""},
      {"comment only", "# nothing probed\n"},
      {"empty mapping", "{}\n"},
      {"null values", "localAddresses:\nrandomFully: ~\nnfacctCounters: null\n"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto facts = decodeNodeFacts(tc.yaml, "node-facts.yaml");
    ASSERT_TRUE(facts.ok()) << facts.error().message;
    EXPECT_TRUE(facts->local_addresses.empty());
    EXPECT_FALSE(facts->random_fully);
    EXPECT_TRUE(facts->nfacct_counters.empty());
    EXPECT_FALSE(facts->conntrack_tcp_be_liberal);
  }
}

TEST(NodeFactsTest, DecodesBooleansAndBareAddresses) {
  auto facts = decodeNodeFacts(
      "randomFully: true\nconntrackTCPBeLiberal: True\nlocalAddresses: [10.0.0.1, \"fd00::1\"]\n", "f.yaml");
  ASSERT_TRUE(facts.ok()) << facts.error().message;
  EXPECT_TRUE(facts->random_fully);
  EXPECT_TRUE(facts->conntrack_tcp_be_liberal);
  EXPECT_EQ(addressStrings(*facts), (std::vector<std::string>{"10.0.0.1/32", "fd00::1/128"}));
}

TEST(NodeFactsTest, RejectsMistakesWithFileAndLine) {
  struct Case {
    std::string name;
    std::string yaml;
    std::string expected_error;
  };
  const std::vector<Case> cases = {
      {"unknown key", "randomFully: true\nlocalAddress:\n- 10.0.0.1/8\n",
       "f.yaml:2: unknown field \"localAddress\" (known: localAddresses, randomFully, nfacctCounters, "
       "conntrackTCPBeLiberal)"},
      {"duplicate key", "randomFully: true\nrandomFully: false\n", "f.yaml:2: duplicate field \"randomFully\""},
      {"bad address", "localAddresses:\n- 127.0.0.1/8\n- 300.0.0.1/8\n",
       "f.yaml:3: localAddresses[1]: \"300.0.0.1/8\" is not a valid address/prefix"},
      {"bad prefix", "localAddresses: [10.0.0.1/33]\n",
       "f.yaml:1: localAddresses[0]: \"10.0.0.1/33\" is not a valid address/prefix"},
      {"not a list", "nfacctCounters: ct_state_invalid_dropped_pkts\n",
       "f.yaml:1: nfacctCounters: must be a list of strings"},
      {"nested item", "nfacctCounters:\n- [a]\n", "f.yaml:2: nfacctCounters[0]: must be a string"},
      {"not a bool", "randomFully: \"true\"\n", "f.yaml:1: randomFully: must be true or false"},
      {"yes is not a bool here", "conntrackTCPBeLiberal: yes\n",
       "f.yaml:1: conntrackTCPBeLiberal: must be true or false"},
      {"not a mapping", "- a\n", "f.yaml:1: node facts must be a mapping"},
      {"yaml syntax", "localAddresses: [\n", "f.yaml:2: yaml: end of sequence flow not found"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto facts = decodeNodeFacts(tc.yaml, "f.yaml");
    ASSERT_FALSE(facts.ok());
    EXPECT_EQ(facts.error().message, tc.expected_error);
  }
}

TEST(NodeFactsTest, EncodesInTheDocumentedFormat) {
  auto facts = decodeNodeFacts(kFakeProxierFacts, "node-facts.yaml");
  ASSERT_TRUE(facts.ok()) << facts.error().message;
  EXPECT_EQ(encodeNodeFacts(*facts), kFakeProxierFacts);
  EXPECT_EQ(encodeNodeFacts(NodeFacts{}),
            "localAddresses: []\nrandomFully: false\nnfacctCounters: []\nconntrackTCPBeLiberal: false\n");
}

TEST(NodeFactsTest, RoundTrips) {
  NodeFacts odd;
  odd.local_addresses = {*InterfaceAddress::parse("10.1.2.3/16"), *InterfaceAddress::parse("fe80::1/64")};
  odd.random_fully = true;
  odd.conntrack_tcp_be_liberal = true;
  odd.nfacct_counters = {"true", "with space", "quote\"d", "123", "-dash", "tab\there"};
  struct Case {
    std::string name;
    NodeFacts facts;
  };
  const std::vector<Case> cases = {{"empty", NodeFacts{}}, {"odd strings", odd}};
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    std::string encoded = encodeNodeFacts(tc.facts);
    auto back = decodeNodeFacts(encoded, "round-trip.yaml");
    ASSERT_TRUE(back.ok()) << back.error().message << "\n" << encoded;
    EXPECT_EQ(back->local_addresses, tc.facts.local_addresses);
    EXPECT_EQ(back->random_fully, tc.facts.random_fully);
    EXPECT_EQ(back->nfacct_counters, tc.facts.nfacct_counters);
    EXPECT_EQ(back->conntrack_tcp_be_liberal, tc.facts.conntrack_tcp_be_liberal);
  }
}

TEST(NodeFactsTest, ReadsTheGoldenCasesFacts) {
  std::ifstream in(std::string(KPROXY_SOURCE_DIR) +
                   "/testdata/golden/iptables/upstream-overall-iptables-rules/node-facts.yaml");
  ASSERT_TRUE(in.good());
  std::stringstream bytes;
  bytes << in.rdbuf();
  auto facts = decodeNodeFacts(bytes.str(), "node-facts.yaml");
  ASSERT_TRUE(facts.ok()) << facts.error().message;
  EXPECT_EQ(facts->local_addresses.size(), 7u);
}

}  // namespace
}  // namespace kproxy::config
