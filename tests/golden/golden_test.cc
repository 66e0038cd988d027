// One test per golden case under testdata/golden/iptables: render it like `kproxy render` and
// compare as the case's `compare` file says (testdata/golden/README.md). UPDATE_GOLDEN=1 rewrites
// the expected files from the output; read the diff against the spec before committing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "modes/common/restore_text.h"
#include "tests/golden/golden_case.h"
#include "tests/golden/golden_checks.h"
#include "tests/golden/normalize.h"
#include "src/util/text_diff.h"

namespace kproxy::golden {
namespace {
namespace fs = std::filesystem;

const fs::path kIptablesDir = fs::path(KPROXY_SOURCE_DIR) / "testdata/golden/iptables";

// For compare mode `endpoints`: the DNAT targets reached from the SVC chains, the SVL chains,
// and of every SEP chain.
Result<std::string> endpointsView(const std::string& payload) {
  auto parsed = restore::parseRestoreText(payload);
  if (!parsed.ok()) return parsed.error();
  const restore::Table* nat = parsed->find("nat");
  if (nat == nullptr) return Error("no nat table");
  std::map<std::string, std::string> sep_target;
  for (const auto& chain : nat->chains) {
    if (chain.name.rfind("KUBE-SEP-", 0) != 0) continue;
    for (const auto& rule : chain.rules) {
      auto words = restore::splitRuleWords(rule);
      for (size_t i = 0; i + 1 < words.size(); ++i)
        if (words[i] == "--to-destination") sep_target[chain.name] = words[i + 1];
    }
  }
  auto reached = [&](std::string_view prefix) {
    std::set<std::string> eps;
    bool any_chain = false;
    for (const auto& chain : nat->chains) {
      if (chain.name.rfind(prefix, 0) != 0) continue;
      any_chain = true;
      for (const auto& rule : chain.rules) {
        auto words = restore::splitRuleWords(rule);
        for (size_t i = 0; i + 1 < words.size(); ++i) {
          if (words[i] == "-j" && sep_target.count(words[i + 1])) eps.insert(sep_target[words[i + 1]]);
        }
      }
    }
    if (!any_chain || eps.empty()) return std::string("(none)");
    std::string out;
    for (const auto& ep : eps) out += (out.empty() ? "" : ", ") + ep;
    return out;
  };
  std::set<std::string> all;
  for (const auto& [chain, target] : sep_target) all.insert(target);
  std::string reachable;
  for (const auto& ep : all) reachable += (reachable.empty() ? "" : ", ") + ep;
  if (reachable.empty()) reachable = "(none)";
  return "cluster: " + reached("KUBE-SVC-") + "\nlocal: " + reached("KUBE-SVL-") + "\nreachable: " + reachable + "\n";
}

std::string stripCommentLines(const std::string& text) {
  std::string out;
  for (const auto& line : lines(text)) {
    if (line.empty() || line[0] == '#') continue;
    out += line + "\n";
  }
  return out;
}

class IptablesGoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(IptablesGoldenTest, RendersAsExpected) {
  const GoldenCase& c = GetParam();
  ASSERT_EQ(c.upstream.rfind("ERROR: ", 0), std::string::npos) << c.name << ": " << c.upstream;
  ASSERT_FALSE(c.upstream.empty()) << c.name << ": UPSTREAM must name the upstream test or say none";
  const bool update = std::getenv("UPDATE_GOLDEN") != nullptr && std::string(std::getenv("UPDATE_GOLDEN")) == "1";

  for (const auto& step : c.steps) {
    SCOPED_TRACE(c.name + (step.name.empty() ? "" : "/" + step.name));
    std::string out, err;
    int code = cli::runRender(step.options, out, err);
    ASSERT_EQ(code, 0) << "render failed:\n" << err;

    if (step.full_sync) {
      auto problems = checkRuleJumps(out);
      EXPECT_TRUE(problems.empty()) << "jump check failed on a full payload:\n"
                                    << ::testing::PrintToString(problems) << "\n" << out;
    }

    const fs::path expected_file = step.dir / "expected.txt";
    std::string expected = readFileOrEmpty(expected_file);
    std::string actual;
    if (c.compare == "exact") {
      actual = out;
    } else if (c.compare == "normalized") {
      auto normal = normalizeRestoreText(withFakeMark(out));
      ASSERT_TRUE(normal.ok()) << normal.error().message << "\n" << out;
      actual = *normal;
      auto expected_normal = normalizeRestoreText(expected);
      ASSERT_TRUE(expected_normal.ok()) << "expected.txt: " << expected_normal.error().message;
      EXPECT_EQ(*expected_normal, expected) << "expected.txt is not in normal form";
    } else if (c.compare.rfind("chain ", 0) == 0) {
      std::istringstream words(c.compare.substr(6));
      std::string table, chain;
      words >> table >> chain;
      auto rules = chainRules(withFakeMark(out), table, chain);
      ASSERT_TRUE(rules.ok()) << rules.error().message;
      actual = *rules;
    } else if (c.compare == "endpoints") {
      auto view = endpointsView(out);
      ASSERT_TRUE(view.ok()) << view.error().message;
      actual = *view;
      expected = stripCommentLines(expected);
    } else if (c.compare == "checks") {
      auto failures = runChecks(expected, out);
      EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures) << "\nfull output:\n" << out;
      continue;
    } else {
      FAIL() << "unknown compare mode \"" << c.compare << "\"";
    }

    if (update && actual != expected) {
      std::ofstream(expected_file, std::ios::binary) << actual;
      continue;
    }
    EXPECT_EQ(actual, expected) << unifiedDiff(expected, actual, expected_file.string(), "render output")
                                << "\nfull output:\n" << out;
  }
}

std::string caseName(const ::testing::TestParamInfo<GoldenCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Iptables, IptablesGoldenTest, ::testing::ValuesIn(discoverGoldenCases(kIptablesDir)),
                         caseName);

TEST(GoldenCases, AtLeastFortyIptablesCases) { EXPECT_GE(discoverGoldenCases(kIptablesDir).size(), 40u); }

}  // namespace
}  // namespace kproxy::golden
