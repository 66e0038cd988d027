// compareChains: the node's chains (as iptables-save lists them) against a plan's (as kproxy
// writes them): form alone is never drift; a missing, stray or changed rule, a missing or
// leftover chain and a missing jump are, each named in a unified diff.
#include "modes/common/chain_drift.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace kproxy::restore {
namespace {

std::vector<std::string> changedLines(const std::string& diff) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < diff.size()) {
    size_t nl = diff.find('\n', pos);
    std::string line = diff.substr(pos, nl - pos);
    pos = nl == std::string::npos ? diff.size() : nl + 1;
    if (!line.empty() && (line[0] == '+' || line[0] == '-') && line.rfind("+++", 0) != 0 && line.rfind("---", 0) != 0) {
      out.push_back(line);
    }
  }
  return out;
}

const ChainRules kPlanSep{"nat", "KUBE-SEP-G", false,
                          {"-A KUBE-SEP-G -m comment --comment shop/web:http -s 10.244.0.11 -j KUBE-MARK-MASQ",
                           "-A KUBE-SEP-G -m comment --comment shop/web:http -m tcp -p tcp -j DNAT --to-destination 10.244.0.11:8080"}};
const ChainRules kNodeSep{"nat", "KUBE-SEP-G", false,
                          {R"(-A KUBE-SEP-G -s 10.244.0.11/32 -m comment --comment "shop/web:http" -j KUBE-MARK-MASQ)",
                           R"(-A KUBE-SEP-G -p tcp -m comment --comment "shop/web:http" -m tcp -j DNAT --to-destination 10.244.0.11:8080)"}};
const ChainRules kPlanPrerouting{"nat", "PREROUTING", true,
                                 {R"(-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES)"}};

struct Case {
  std::string name;
  std::vector<ChainRules> node;
  std::vector<ChainRules> plan;
  std::vector<std::string> expected_changes;  // the "+"/"-" lines of all diffs, in order
  std::vector<std::string> expected_headers;  // a substring of each drift's first line
};

TEST(CompareChains, Cases) {
  ChainRules sep_missing_rule = kNodeSep;
  sep_missing_rule.rules.erase(sep_missing_rule.rules.begin());
  ChainRules sep_stray = kNodeSep;
  sep_stray.rules.push_back("-A KUBE-SEP-G -s 192.0.2.1/32 -j DROP");
  ChainRules node_prerouting{"nat", "PREROUTING", true,
                             {R"(-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES)"}};
  ChainRules plan_two_jumps{"filter", "INPUT", true,
                            {R"(-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS)",
                             "-A INPUT -j KUBE-FIREWALL"}};
  ChainRules node_jumps_reordered{"filter", "INPUT", true,
                                  {"-A INPUT -j KUBE-FIREWALL",
                                   R"(-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS)"}};
  ChainRules node_jump_missing{"filter", "INPUT", true, {"-A INPUT -j KUBE-FIREWALL"}};

  const Case cases[] = {
      {"saved form of the planned rules", {kNodeSep}, {kPlanSep}, {}, {}},
      {"a deleted rule",
       {sep_missing_rule},
       {kPlanSep},
       {R"(+-A KUBE-SEP-G -s 10.244.0.11/32 -m comment --comment "shop/web:http" -j KUBE-MARK-MASQ)"},
       {"--- live IPv4 nat/KUBE-SEP-G\n"}},
      {"a stray rule", {sep_stray}, {kPlanSep}, {"--A KUBE-SEP-G -s 192.0.2.1/32 -j DROP"}, {"--- live IPv4 nat/KUBE-SEP-G\n"}},
      {"a leftover chain",
       {kNodeSep, ChainRules{"nat", "KUBE-SVC-LEFTOVER", false, {}}},
       {kPlanSep},
       {},
       {"--- live IPv4 nat/KUBE-SVC-LEFTOVER (chain not in the plan)"}},
      {"a missing chain",
       {},
       {kPlanSep},
       {R"(+-A KUBE-SEP-G -s 10.244.0.11/32 -m comment --comment "shop/web:http" -j KUBE-MARK-MASQ)",
        R"(+-A KUBE-SEP-G -p tcp -m comment --comment "shop/web:http" -m tcp -j DNAT --to-destination 10.244.0.11:8080)"},
       {"--- live IPv4 nat/KUBE-SEP-G (chain missing on the node)"}},
      {"a missing jump",
       {},
       {kPlanPrerouting},
       {R"(+-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES)"},
       {"nat/PREROUTING"}},
      {"jumps present in another order", {node_jumps_reordered}, {plan_two_jumps}, {}, {}},
      {"one jump missing goes on top",
       {node_jump_missing},
       {plan_two_jumps},
       {R"(+-A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS)"},
       {"filter/INPUT"}},
      {"a jump the plan does not have", {node_prerouting}, {}, {R"(--A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES)"}, {"nat/PREROUTING (chain not in the plan)"}},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto drifts = compareChains(tc.node, tc.plan, IpFamily::kIPv4, "IPv4");
    std::string all;
    for (const auto& d : drifts) all += d.diff;
    std::vector<std::string> changes = changedLines(all);
    EXPECT_EQ(changes, tc.expected_changes) << all;
    ASSERT_EQ(drifts.size(), tc.expected_headers.size()) << all;
    for (size_t i = 0; i < drifts.size(); ++i) EXPECT_NE(drifts[i].diff.find(tc.expected_headers[i]), std::string::npos) << all;
  }
}

TEST(CompareChains, OnlyTheChangedLinesAreMarkedAndContextIsTheNodesText) {
  ChainRules node = kNodeSep;
  node.rules[1] = R"(-A KUBE-SEP-G -p tcp -m comment --comment "shop/web:http" -m tcp -j DNAT --to-destination 10.244.0.12:8080)";
  auto drifts = compareChains({node}, {kPlanSep}, IpFamily::kIPv4, "IPv4");
  ASSERT_EQ(drifts.size(), 1u);
  EXPECT_EQ(drifts[0].kind, ChainDrift::Kind::kRulesDiffer);
  EXPECT_NE(drifts[0].diff.find(" " + kNodeSep.rules[0] + "\n"), std::string::npos) << drifts[0].diff;
  auto changes = changedLines(drifts[0].diff);
  std::sort(changes.begin(), changes.end());  // the diff's order of a replaced line is its own business
  EXPECT_EQ(changes, (std::vector<std::string>{"+" + kNodeSep.rules[1], "-" + node.rules[1]}));
}

}  // namespace
}  // namespace kproxy::restore
