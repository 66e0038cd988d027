// The writers' escaping primitives (issue 15 item 2), fed hostile strings directly.
#include "src/util/safe_text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kproxy {
namespace {

const std::vector<std::string>& hostile() {
  static const std::vector<std::string> values = {
      "x\n-A KUBE-SERVICES -j ACCEPT", "x\r", "x\"y", "x\\y", std::string("x\0y", 3), "x y", "x\ty", "%41", "\xff\xfe",
      std::string(1000, 'a'),          "",
  };
  return values;
}

TEST(SafeWord, OneWordThatNeitherEndsALineNorAQuotedString) {
  for (const std::string& h : hostile()) {
    SCOPED_TRACE(::testing::PrintToString(h));
    const std::string w = safeWord(h, 200);
    EXPECT_LE(w.size(), 200u);
    for (char c : w) {
      const auto u = static_cast<unsigned char>(c);
      EXPECT_TRUE(u > 0x20 && u < 0x7f && c != '"' && c != '\\' && c != '\'' && c != '#') << w;
    }
  }
  EXPECT_EQ(safeWord("x\n-A", 200), "x%0a-A");
  EXPECT_EQ(safeWord("a\"b\\c", 200), "a%22b%5cc");
  EXPECT_EQ(safeWord(std::string("a\0b", 3), 200), "a%00b");
  EXPECT_EQ(safeWord("100%", 200), "100%25");
  // Cut at the limit without splitting an escape.
  EXPECT_EQ(safeWord("ab\ncd", 4), "ab");
  EXPECT_EQ(safeWord("ab\ncd", 5), "ab%0a");
}

TEST(SafeWord, NamesThatPassValidationAreUnchangedAndNotCopied) {
  for (const std::string name : {"default/web:http", "kube-system/kube-dns:dns-tcp", "ns1/svc1:p80", "10.0.0.1,tcp:80",
                                 "[fd00::1]:80", "KUBE-CLUSTER-IP", "0-65535", "app_name.v1"}) {
    std::string scratch;
    const std::string& out = safeWord(name, scratch, 200);
    EXPECT_EQ(&out, &name) << name;
    EXPECT_TRUE(scratch.empty());
  }
}

TEST(CheckAttributeText, RefusesWhatWouldEndOrOverflowAnAttribute) {
  EXPECT_TRUE(checkAttributeText("ipset: set name", "KUBE-CLUSTER-IP", 32).ok());
  EXPECT_TRUE(checkAttributeText("ipset: set name", std::string(31, 'a'), 32).ok());
  EXPECT_FALSE(checkAttributeText("ipset: set name", std::string(32, 'a'), 32).ok());
  for (const std::string& h : {std::string("KUBE\0X", 6), std::string("a\nb"), std::string("a\rb"), std::string("a\x7f")}) {
    SCOPED_TRACE(::testing::PrintToString(h));
    auto status = checkAttributeText("ipvs: scheduler", h, 16);
    ASSERT_FALSE(status.ok());
    for (char c : status.error().message) EXPECT_GE(static_cast<unsigned char>(c), 0x20u) << status.error().message;
    EXPECT_EQ(status.error().message.rfind("ipvs: scheduler: ", 0), 0u) << status.error().message;
  }
}

}  // namespace
}  // namespace kproxy
