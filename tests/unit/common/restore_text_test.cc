// parseRestoreText on what a large node holds, and withoutRuleCounters.
#include "modes/common/restore_text.h"

#include <gtest/gtest.h>

#include <chrono>

namespace kproxy::restore {
namespace {

// A dump of a large cluster declares a chain per service and endpoint (10k services x 10
// endpoints: over 100k chains). Each "-A" line used to look its chain up with a linear search:
// 40k chains took 18 s at -O2 (tests/fuzz found it); with the index, well under a second even
// in the sanitizer build.
TEST(RestoreTextTest, ManyChainsParseInLinearTime) {
  constexpr int kChains = 100'000;
  std::string text = "*nat\n";
  for (int i = 0; i < kChains; ++i) text += ":KUBE-SEP-" + std::to_string(i) + " - [0:0]\n";
  for (int i = 0; i < kChains; ++i) text += "-A KUBE-SEP-" + std::to_string(i) + " -j DNAT --to-destination 10.0.0.1:80\n";
  text += ":KUBE-SEP-7 - [0:0]\n-X KUBE-SEP-7\nCOMMIT\n";
  const auto start = std::chrono::steady_clock::now();
  auto parsed = parseRestoreText(text);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  ASSERT_EQ(parsed->tables.size(), 1u);
  ASSERT_EQ(parsed->tables[0].chains.size(), size_t{kChains});
  EXPECT_EQ(parsed->tables[0].chains[5].rules, std::vector<std::string>{"-A KUBE-SEP-5 -j DNAT --to-destination 10.0.0.1:80"});
  EXPECT_TRUE(parsed->tables[0].chains[7].deleted);  // declared again (flushed), then deleted
  EXPECT_LT(took, std::chrono::seconds(20));
}

TEST(RestoreTextTest, ChainsAreLookedUpPerTable) {
  auto parsed = parseRestoreText("*nat\n:A - [0:0]\nCOMMIT\n*filter\n-A A -j ACCEPT\nCOMMIT\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message, "line 5: rule for undeclared chain A");
}

TEST(RestoreTextTest, WithoutRuleCounters) {
  EXPECT_EQ(withoutRuleCounters("*nat\n:A - [1:2]\n[5:300] -A A -j ACCEPT\n[x] -A A\n[1:2]-A A\n[3:4] -A B"),
            "*nat\n:A - [1:2]\n-A A -j ACCEPT\n[x] -A A\n[1:2]-A A\n-A B");
}

}  // namespace
}  // namespace kproxy::restore
