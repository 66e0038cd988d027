// One test per golden case under testdata/golden/nftables (testdata/golden/README.md): every step
// with an expected.txt is rendered like `kproxy render` and compared as the case's `compare` file
// says; a step's transaction.txt is compared with `render --transaction`, and its `operations`
// with the number of operations in the sync's transaction (upstream's assertNumOperations).
// Every sync of every case must also be self-consistent: its transactions, applied to the table
// the previous sync left, give exactly the table it plans. UPDATE_GOLDEN=1 rewrites expected.txt
// and transaction.txt from the output; read the diff against upstream before committing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "modes/nftables/plan.h"
#include "modes/nftables/offline_proxier.h"
#include "src/cli/offline_context.h"
#include "src/util/text_diff.h"
#include "tests/golden/golden_case.h"
#include "tests/golden/golden_checks.h"
#include "tests/golden/nft_sort.h"

namespace kproxy::golden {
namespace {
namespace fs = std::filesystem;

const fs::path kNftablesDir = fs::path(KPROXY_SOURCE_DIR) / "testdata/golden/nftables";

bool updating() {
  const char* update = std::getenv("UPDATE_GOLDEN");
  return update != nullptr && std::string(update) == "1";
}

void compareOrUpdate(const fs::path& file, const std::string& expected, const std::string& actual,
                     const std::string& full_output) {
  if (updating() && actual != expected) {
    std::ofstream(file, std::ios::binary) << actual;
    return;
  }
  EXPECT_EQ(actual, expected) << unifiedDiff(expected, actual, file.string(), "render output") << "\nfull output:\n"
                              << full_output;
}

// The operations of the sync's own transaction in `render --transaction` output: the lines after
// the last "# transaction" header.
size_t syncOperations(const std::string& transaction_text) {
  size_t count = 0;
  std::istringstream in(transaction_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# transaction", 0) == 0) {
      count = 0;
    } else if (!line.empty() && line[0] != '#') {
      ++count;
    }
  }
  return count;
}

class NftablesGoldenTest : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(NftablesGoldenTest, RendersAsExpected) {
  const GoldenCase& c = GetParam();
  ASSERT_EQ(c.upstream.rfind("ERROR: ", 0), std::string::npos) << c.name << ": " << c.upstream;
  ASSERT_FALSE(c.upstream.empty()) << c.name << ": UPSTREAM must name the upstream test or say none";

  for (const auto& step : c.steps) {
    SCOPED_TRACE(c.name + (step.name.empty() ? "" : "/" + step.name));
    if (!step.has_expected) continue;  // a trace-only step (flows.yaml)
    std::string out, err;
    ASSERT_EQ(cli::runRender(step.options, out, err), 0) << "render failed:\n" << err;

    const fs::path expected_file = step.dir / "expected.txt";
    const std::string expected = readFileOrEmpty(expected_file);
    if (c.compare == "exact") {
      compareOrUpdate(expected_file, expected, out, out);
    } else if (c.compare == "upstream-sorted") {
      EXPECT_EQ(sortNftablesDump(expected), expected) << "expected.txt is not in upstream's sorted order";
      compareOrUpdate(expected_file, expected, sortNftablesDump(withFakeMark(out)), out);
    } else if (c.compare == "checks") {
      auto failures = runChecks(expected, withFakeMark(out));
      EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures) << "\nfull output:\n" << out;
    } else {
      FAIL() << "unknown compare mode \"" << c.compare << "\"";
    }

    const fs::path transaction_file = step.dir / "transaction.txt";
    const fs::path operations_file = step.dir / "operations";
    if (fs::exists(transaction_file) || fs::exists(operations_file)) {
      cli::RenderOptions options = step.options;
      options.transaction = true;
      std::string tx, tx_err;
      ASSERT_EQ(cli::runRender(options, tx, tx_err), 0) << tx_err;
      if (fs::exists(transaction_file)) compareOrUpdate(transaction_file, readFileOrEmpty(transaction_file), tx, tx);
      if (fs::exists(operations_file)) {
        const long expected_ops = std::strtol(readFileOrEmpty(operations_file).c_str(), nullptr, 10);
        EXPECT_EQ(syncOperations(tx), static_cast<size_t>(expected_ops))
            << "operations in the sync's transaction (upstream assertNumOperations):\n"
            << tx;
      }
    }
  }
}

// Each sync's transactions turn the previous table into the planned one.
TEST_P(NftablesGoldenTest, TransactionsReachThePlannedTable) {
  const GoldenCase& c = GetParam();
  ASSERT_FALSE(c.steps.empty()) << c.upstream;
  const auto& last = c.steps.back();
  std::vector<nftables::NftablesPlan> plans;
  std::string err;
  auto simulated = cli::runOfflineSyncs(last.options, /*for_trace=*/false, err, [&](const modes::OfflineProxier& p) {
    plans.push_back(dynamic_cast<const nftables::OfflineNftablesProxier&>(p).lastPlan());
  });
  ASSERT_TRUE(simulated.has_value()) << err;
  nftables::Ruleset table;
  table.family = simulated->family;
  for (size_t i = 0; i < plans.size(); ++i) {
    SCOPED_TRACE("sync " + std::to_string(i + 1));
    auto after_deletion = nftables::applyTransaction(table, plans[i].stale_chain_deletion);
    ASSERT_TRUE(after_deletion.ok()) << after_deletion.error().message;
    auto after = nftables::applyTransaction(*after_deletion, plans[i].transaction);
    ASSERT_TRUE(after.ok()) << after.error().message << "\n" << plans[i].transaction.text();
    EXPECT_EQ(after->dump(), plans[i].ruleset.dump())
        << unifiedDiff(plans[i].ruleset.dump(), after->dump(), "planned", "previous + transaction");
    table = plans[i].ruleset;
  }
}

std::string caseName(const ::testing::TestParamInfo<GoldenCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Nftables, NftablesGoldenTest, ::testing::ValuesIn(discoverGoldenCases(kNftablesDir)),
                         caseName);

// Every dump test of upstream's nftables proxier_test.go has its case.
TEST(NftablesGoldenCases, CoverTheUpstreamDumpTests) {
  std::set<std::string> tests;
  for (const auto& c : discoverGoldenCases(kNftablesDir)) {
    const std::string prefix = "pkg/proxy/nftables/proxier_test.go ";
    if (c.upstream.rfind(prefix, 0) == 0) {
      std::string test = c.upstream.substr(prefix.size());
      tests.insert(test.substr(0, test.find('/')));
    }
  }
  for (const char* name : {"TestOverallNFTablesRules", "TestSyncProxyRulesRepeated", "TestSyncProxyRulesStartup",
                           "TestBadIPs", "TestSyncProxyRulesTruncatesNoEndpointServiceComment",
                           "TestLoadBalancerIngressRouteTypeProxy"}) {
    EXPECT_EQ(tests.count(name), 1u) << name;
  }
}

}  // namespace
}  // namespace kproxy::golden
