// `kproxy diff` against real netfilter: after `kproxy sync` the node matches the plan (exit 0);
// after someone deletes one rule or appends a stray one to a KUBE chain, exit 1 and the diff names
// exactly that rule.
#include <gtest/gtest.h>

#include "src/cli/diff_command.h"
#include "src/cli/live_commands.h"
#include "src/util/subprocess.h"
#include "tests/netns/netns.h"

namespace kproxy::cli {
namespace {

const std::string kCluster = std::string(KPROXY_SOURCE_DIR) + "/testdata/examples/cluster.yaml";
const std::string kConfig = std::string(KPROXY_SOURCE_DIR) + "/testdata/examples/config.yaml";

std::vector<std::string> changedLines(const std::string& diff) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < diff.size()) {
    size_t nl = diff.find('\n', pos);
    std::string line = diff.substr(pos, nl - pos);
    pos = nl == std::string::npos ? diff.size() : nl + 1;
    if ((line[0] == '+' || line[0] == '-') && line.rfind("+++", 0) != 0 && line.rfind("---", 0) != 0) out.push_back(line);
  }
  return out;
}

class DiffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    ASSERT_TRUE(runProcess({"ip", "link", "set", "lo", "up"}).ok());
    std::string err;
    ASSERT_EQ(runSync({.live = {.files = {kCluster}, .config_path = kConfig, .ip_family = "ipv4"}}, err), 0) << err;
  }
  int diff(std::string& out) {
    std::string err;
    int code = runDiff({.files = {kCluster}, .config_path = kConfig, .ip_family = "ipv4"}, out, err);
    EXPECT_TRUE(err.empty() || code != 2) << err;
    return code;
  }
};

TEST_F(DiffTest, CleanAfterSync) {
  std::string out;
  EXPECT_EQ(diff(out), 0);
  EXPECT_EQ(out, "");
}

TEST_F(DiffTest, NamesADeletedRule) {
  auto r = runProcess({"iptables", "-t", "nat", "-D", "KUBE-SEP-GXKVICYM64SODBWJ", "-m", "comment", "--comment",
                       "shop/web:http", "-s", "10.244.0.11", "-j", "KUBE-MARK-MASQ"});
  ASSERT_TRUE(r.ok() && r->succeeded()) << (r.ok() ? r->err : r.error().message);
  std::string out;
  EXPECT_EQ(diff(out), 1);
  auto lines = changedLines(out);
  ASSERT_EQ(lines.size(), 1u) << out;
  EXPECT_EQ(lines[0].substr(0, 1), "+");
  EXPECT_NE(lines[0].find("KUBE-SEP-GXKVICYM64SODBWJ -s 10.244.0.11/32"), std::string::npos) << out;
  EXPECT_NE(out.find("--- live IPv4 nat/KUBE-SEP-GXKVICYM64SODBWJ"), std::string::npos) << out;
}

TEST_F(DiffTest, NamesAStrayRule) {
  auto r = runProcess({"iptables", "-t", "filter", "-A", "KUBE-FORWARD", "-s", "192.0.2.1", "-j", "DROP"});
  ASSERT_TRUE(r.ok() && r->succeeded());
  std::string out;
  EXPECT_EQ(diff(out), 1);
  auto lines = changedLines(out);
  ASSERT_EQ(lines.size(), 1u) << out;
  EXPECT_EQ(lines[0], "--A KUBE-FORWARD -s 192.0.2.1/32 -j DROP");
}

TEST_F(DiffTest, NamesAMissingJumpAndALeftoverChain) {
  auto r = runProcess({"iptables", "-t", "nat", "-D", "PREROUTING", "-m", "comment", "--comment",
                       "kubernetes service portals", "-j", "KUBE-SERVICES"});
  ASSERT_TRUE(r.ok() && r->succeeded()) << (r.ok() ? r->err : "");
  r = runProcess({"iptables", "-t", "nat", "-N", "KUBE-SVC-LEFTOVERLEFTOVER"});
  ASSERT_TRUE(r.ok() && r->succeeded());
  std::string out;
  EXPECT_EQ(diff(out), 1);
  EXPECT_NE(out.find("nat/PREROUTING"), std::string::npos) << out;
  EXPECT_NE(out.find("nat/KUBE-SVC-LEFTOVERLEFTOVER (chain not in the plan)"), std::string::npos) << out;
}

}  // namespace
}  // namespace kproxy::cli
