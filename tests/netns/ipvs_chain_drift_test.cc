// IPVS mode's iptables payload of every IPVS golden case without "-m ipvs" rules, restored into a fresh network namespace
// (its ip sets first, from the case's ipset.txt; then the jumps the applier ensures), on both
// iptables back ends: what iptables-save lists back must be no drift to `kproxy diff --proxy-mode
// ipvs`'s comparison (modes/ipvs/drift.h), so every form save prints for IPVS mode's rules (set
// matches, marks, comments) is covered without the VM.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "modes/ipvs/drift.h"
#include "src/util/subprocess.h"
#include "tests/netns/netns.h"

namespace kproxy::netns {
namespace {
namespace fs = std::filesystem;

struct IpvsCase {
  std::string name;
  fs::path expected;  // the folder with ipset.txt and iptables.txt
};
void PrintTo(const IpvsCase& c, std::ostream* os) { *os << c.name; }

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<IpvsCase> cases() {
  std::vector<IpvsCase> out;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(KPROXY_SOURCE_DIR) / "testdata/golden/ipvs")) {
    // A payload with "-m ipvs" (KUBE-IPVS-OUT-FILTER's rules) needs the IPVS module, which only
    // the VM has (tests/kernel/scenario-ipvs-sync.sh runs diff there).
    if (entry.is_regular_file() && entry.path().filename() == "iptables.txt" &&
        fs::exists(entry.path().parent_path() / "ipset.txt") &&
        readFile(entry.path()).find(" -m ipvs ") == std::string::npos) {
      std::string name = fs::relative(entry.path().parent_path(), fs::path(KPROXY_SOURCE_DIR) / "testdata/golden/ipvs");
      out.push_back({name, entry.path().parent_path()});
    }
  }
  std::sort(out.begin(), out.end(), [](const IpvsCase& a, const IpvsCase& b) { return a.name < b.name; });
  return out;
}

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

class IpvsPayloadHasNoDrift : public ::testing::TestWithParam<IpvsCase> {};

TEST_P(IpvsPayloadHasNoDrift, AfterRestore) {
  const IpvsCase& c = GetParam();
  ipvs::IpvsPlan plan;
  plan.iptables_payload = readFile(c.expected / "iptables.txt");
  const std::string sets = readFile(c.expected / "ipset.txt");
  const bool v6 = plan.iptables_payload.find("::1/128") != std::string::npos;
  plan.state.family = v6 ? IpFamily::kIPv6 : IpFamily::kIPv4;
  // The jumps, as the applier inserts them (each at position 1).
  std::string jumps;
  for (const auto& table : {"nat", "filter"}) {
    jumps.append("*").append(table).append("\n");
    for (const auto& j : ipvs::ipvsChainJumps()) {
      if (j.table != table) continue;
      jumps.append("-I ").append(j.from).append(" 1 -m comment --comment \"").append(j.comment).append("\" -j ");
      jumps.append(j.to).append("\n");
    }
    jumps.append("COMMIT\n");
  }
  for (const Backend& backend : kBackends) {
    SCOPED_TRACE(backend.name);
    KPROXY_ENTER_FRESH_NETNS();
    auto created = runProcess({"ipset", "restore"}, sets);
    ASSERT_TRUE(created.ok() && created->succeeded()) << (created.ok() ? created->err : created.error().message);
    for (const std::string* input : {&plan.iptables_payload, &jumps}) {
      auto restored = runProcess({v6 ? backend.v6_restore : backend.v4_restore, "-w", "--noflush", "--counters"}, *input);
      ASSERT_TRUE(restored.ok() && restored->succeeded())
          << (restored.ok() ? restored->err : restored.error().message) << "\ninput:\n" << *input;
    }
    auto saved = runProcess({v6 ? backend.v6_save : backend.v4_save});
    ASSERT_TRUE(saved.ok() && saved->succeeded());
    // The observed IPVS state is the plan's: only the chains are compared here.
    auto drift = ipvs::ipvsDrift(plan.state, plan, saved->out, backend.name);
    ASSERT_TRUE(drift.ok()) << drift.error().message;
    EXPECT_EQ(drift->text, "") << "iptables-save:\n" << saved->out;
  }
}

std::string caseName(const ::testing::TestParamInfo<IpvsCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Ipvs, IpvsPayloadHasNoDrift, ::testing::ValuesIn(cases()), caseName);

}  // namespace
}  // namespace kproxy::netns
