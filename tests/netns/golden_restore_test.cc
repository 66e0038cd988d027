// Every full payload of every iptables golden case must be accepted by the real kernel: each is
// restored with iptables-restore --noflush (ip6tables-restore for IPv6) into a fresh network
// namespace, on both the nf_tables and the legacy back end, after creating the nfacct counters the
// case's node facts name (an -m nfacct rule fails without its counter).
#include <gtest/gtest.h>

#include "src/util/subprocess.h"
#include "tests/golden/golden_case.h"
#include "tests/netns/netns.h"

namespace kproxy::netns {
namespace {
namespace fs = std::filesystem;

struct Backend {
  const char* name;
  const char* v4_restore;
  const char* v6_restore;
  const char* v4_save;
  const char* v6_save;
};
constexpr Backend kBackends[] = {
    {"nft", "iptables-nft-restore", "ip6tables-nft-restore", "iptables-nft-save", "ip6tables-nft-save"},
    {"legacy", "iptables-legacy-restore", "ip6tables-legacy-restore", "iptables-legacy-save", "ip6tables-legacy-save"},
};

class KernelAcceptsGoldenPayloads : public ::testing::TestWithParam<golden::GoldenCase> {};

TEST_P(KernelAcceptsGoldenPayloads, RestoresCleanly) {
  const golden::GoldenCase& c = GetParam();
  ASSERT_FALSE(c.steps.empty()) << c.upstream;
  for (const auto& step : c.steps) {
    if (!step.full_sync) continue;
    SCOPED_TRACE(c.name + (step.name.empty() ? "" : "/" + step.name));
    std::string out, err;
    ASSERT_EQ(cli::runRender(step.options, out, err), 0) << err;
    const bool v6 = step.options.ip_family == "ipv6";
    for (const Backend& backend : kBackends) {
      SCOPED_TRACE(backend.name);
      KPROXY_ENTER_FRESH_NETNS();
      for (const auto& counter : c.nfacct_counters) {
        auto added = runProcess({"nfacct", "add", counter});
        ASSERT_TRUE(added.ok()) << added.error().message;
        ASSERT_TRUE(added->succeeded()) << "nfacct add " << counter << ": " << added->err;
      }
      auto restored = runProcess({v6 ? backend.v6_restore : backend.v4_restore, "-w", "--noflush", "--counters"}, out);
      ASSERT_TRUE(restored.ok()) << restored.error().message;
      EXPECT_TRUE(restored->succeeded()) << "exit " << restored->exit_code << ": " << restored->err << "\npayload:\n"
                                         << out;
      // What the kernel now holds must contain every chain the payload declared.
      auto saved = runProcess({v6 ? backend.v6_save : backend.v4_save});
      ASSERT_TRUE(saved.ok() && saved->succeeded());
      EXPECT_NE(saved->out.find(":KUBE-SERVICES"), std::string::npos) << saved->out;
    }
  }
}

std::string caseName(const ::testing::TestParamInfo<golden::GoldenCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Iptables, KernelAcceptsGoldenPayloads,
                         ::testing::ValuesIn(golden::discoverGoldenCases(fs::path(KPROXY_SOURCE_DIR) /
                                                                         "testdata/golden/iptables")),
                         caseName);

}  // namespace
}  // namespace kproxy::netns
