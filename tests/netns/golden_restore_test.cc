// Every full payload of every iptables golden case must be accepted by the real kernel: each is
// restored with iptables-restore --noflush (ip6tables-restore for IPv6) into a fresh network
// namespace, on both the nf_tables and the legacy back end, after creating the nfacct counters the
// case's node facts name (an -m nfacct rule fails without its counter). What iptables-save then
// lists must be the payload to `kproxy diff`'s in-process comparison (no drift), so that every
// form the kernel tools print back is covered by modes/common/saved_rule.
#include <gtest/gtest.h>

#include <sstream>

#include "modes/common/restore_text.h"
#include "modes/common/chain_drift.h"
#include "modes/iptables/proxier.h"
#include "netlink/iptables_restore.h"
#include "src/cli/diff_command.h"
#include "src/tracker/snapshot.h"
#include "src/util/subprocess.h"
#include "tests/fakes/fake_clock.h"
#include "tests/unit/tracker/builders.h"
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
      auto planned = restore::parseRestoreText(out);
      auto listed = restore::parseRestoreText(saved->out);
      ASSERT_TRUE(planned.ok() && listed.ok());
      std::string drift;
      for (const auto& d : restore::compareChains(restore::kubeProxyChains(*listed), restore::kubeProxyChains(*planned),
                                                  v6 ? IpFamily::kIPv6 : IpFamily::kIPv4, backend.name)) {
        drift += d.diff;
      }
      EXPECT_EQ(drift, "") << "the kernel's listing differs from the payload";
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

// The real back end, except that the restore numbered `fail_at` (1-based, counted from arm())
// gets a rule no kernel accepts at the end of its nat block (which the applier writes first, so
// that no table of that restore is committed).
class FailingRestore final : public netlink::IptablesRestore {
 public:
  explicit FailingRestore(netlink::IptablesRestore& real) : real_(real) {}
  void arm(int fail_at) {
    fail_at_ = fail_at;
    calls_ = 0;
  }
  netlink::IptablesBackend backend() const override { return real_.backend(); }
  Status restore(IpFamily family, const std::vector<std::string_view>& pieces,
                 const netlink::RestoreOptions& options) override {
    if (fail_at_ == 0 || ++calls_ != fail_at_) return real_.restore(family, pieces, options);
    std::string input;
    for (auto piece : pieces) input.append(piece);
    const size_t commit = input.find("COMMIT\n", input.find("*nat\n"));
    input.insert(commit, "-A KUBE-MARK-MASQ -m kproxy-no-such-match -j ACCEPT\n");
    fail_at_ = 0;
    return real_.restore(family, {input}, options);
  }
  Result<std::string> save(IpFamily family, std::string_view table) override { return real_.save(family, table); }
  Result<bool> ruleExists(IpFamily f, std::string_view t, std::string_view c, const std::vector<std::string>& a) override {
    return real_.ruleExists(f, t, c, a);
  }
  Status insertRule(IpFamily f, std::string_view t, std::string_view c, const std::vector<std::string>& a,
                    bool prepend) override {
    return real_.insertRule(f, t, c, a, prepend);
  }
  Status deleteRule(IpFamily f, std::string_view t, std::string_view c, const std::vector<std::string>& a) override {
    return real_.deleteRule(f, t, c, a);
  }
  Status ensureChain(IpFamily f, std::string_view t, std::string_view c) override { return real_.ensureChain(f, t, c); }
  Result<bool> chainExists(IpFamily f, std::string_view t, std::string_view c) override {
    return real_.chainExists(f, t, c);
  }
  bool hasRandomFully() const override { return real_.hasRandomFully(); }

 private:
  netlink::IptablesRestore& real_;
  int fail_at_ = 0;
  int calls_ = 0;
};

void addService(tracker::ProxyStateTracker& tracker, int i, const std::string& endpoint_prefix) {
  const std::string name = "svc" + std::to_string(i);
  tracker.onServiceAdd(testing::makeService("ns", name, "172.30." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)));
  tracker.onEndpointSliceAdd(testing::makeSlice("ns", name, name + "-1",
                                                {{.ip = endpoint_prefix + std::to_string(i % 250) + ".1"},
                                                 {.ip = endpoint_prefix + std::to_string(i % 250) + ".2"}}));
}

// Every table as iptables-save lists it, parsed: chain names and policies, rules in order.
std::string tablesOf(netlink::IptablesRestore& iptables) {
  auto saved = iptables.save(IpFamily::kIPv4, "");
  if (!saved.ok()) return "iptables-save failed: " + saved.error().message;
  auto parsed = restore::parseRestoreText(*saved);
  if (!parsed.ok()) return "unparsable: " + parsed.error().message;
  std::string out;
  for (const auto& table : parsed->tables) {
    out += "*" + table.name + "\n";
    for (const auto& chain : table.chains) out += ":" + chain.name + " " + chain.policy + "\n";
    for (const auto& chain : table.chains)
      for (const auto& rule : chain.rules) out += rule + "\n";
  }
  return out;
}

// A full sync (new endpoints for every service, new services, services without endpoints, which
// change the filter table too) whose nat block the kernel rejects: iptables-restore commits table
// by table and nat comes first, so neither table changes, on either back end. The retry is a full
// sync and converges.
TEST(FailedFullSync, RejectedNatBlockLeavesEveryTableAsItWas) {
  for (auto backend : {netlink::IptablesBackend::kNft, netlink::IptablesBackend::kLegacy}) {
    SCOPED_TRACE(backend == netlink::IptablesBackend::kNft ? "nft" : "legacy");
    KPROXY_ENTER_FRESH_NETNS();
    auto real = netlink::newProcessIptables(backend);
    FailingRestore iptables(*real);
    testing::FakeClock clock;
    config::ProxierSettings settings;
    settings.family = IpFamily::kIPv4;
    settings.node_name = "node-a";
    settings.node_ip = *IpAddress::parse("192.168.0.2");
    settings.masquerade_mark = config::formatMasqueradeMark(14);
    settings.local_detector = {config::LocalTrafficDetector::Kind::kCidr, "10.0.0.0/8"};
    settings.node_port_addresses.cidrs = {*Cidr::parse("0.0.0.0/0")};
    iptables::IptablesProxier proxier({.iptables = iptables, .clock = clock}, settings);
    tracker::ProxyStateTracker tracker({.family = IpFamily::kIPv4, .node_name = "node-a"});
    for (int i = 0; i < 20; ++i) addService(tracker, i, "10.1.");
    {
      auto [snapshot, changes] = tracker.checkout();
      auto first = proxier.sync(*snapshot, changes);
      ASSERT_TRUE(first.ok()) << first.error().message;
    }
    const std::string before = tablesOf(*real);
    ASSERT_NE(before.find("10.1.0.1"), std::string::npos) << before;

    for (int i = 0; i < 20; ++i) addService(tracker, i, "10.2.");
    for (int i = 20; i < 40; ++i) addService(tracker, i, "10.3.");
    for (int i = 40; i < 45; ++i) {
      tracker.onServiceAdd(testing::makeService("ns", "svc" + std::to_string(i), "172.30.0." + std::to_string(i + 1)));
    }
    proxier.requestFullSync();
    iptables.arm(1);
    {
      auto [snapshot, changes] = tracker.checkout();
      auto failed = proxier.sync(*snapshot, changes);
      ASSERT_FALSE(failed.ok()) << "the restore was to fail";
    }
    EXPECT_EQ(tablesOf(*real), before) << "a rejected restore changed the kernel";

    auto [snapshot, changes] = tracker.checkout();
    auto retried = proxier.sync(*snapshot, changes);
    ASSERT_TRUE(retried.ok()) << retried.error().message;
    EXPECT_TRUE(retried->full_sync);
    const std::string converged = tablesOf(*real);
    EXPECT_EQ(converged.find("10.1."), std::string::npos) << "the old endpoints' chains are deleted\n" << converged;
    EXPECT_NE(converged.find("10.2.0.1"), std::string::npos) << converged;
    EXPECT_NE(converged.find("10.3.20.1"), std::string::npos) << converged;
    EXPECT_NE(converged.find("ns/svc40:p80 has no endpoints"), std::string::npos) << converged;
  }
}

}  // namespace
}  // namespace kproxy::netns
