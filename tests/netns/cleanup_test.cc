// `kproxy cleanup` against real netfilter: after a full sync of the example cluster it exits 0 and
// leaves none of kube-proxy's chains or jumps behind (kubelet's chains, KUBE-FIREWALL among them, stay
// as upstream leaves them), on both
// iptables back ends.
#include <gtest/gtest.h>

#include "modes/common/restore_text.h"
#include "src/cli/live_commands.h"
#include "src/util/subprocess.h"
#include "tests/netns/netns.h"

namespace kproxy::cli {
namespace {

const std::string kCluster = std::string(KPROXY_SOURCE_DIR) + "/testdata/examples/cluster.yaml";
const std::string kConfig = std::string(KPROXY_SOURCE_DIR) + "/testdata/examples/config.yaml";

// Every "table/chain" and every rule line of the tables that names a KUBE- chain, from the live
// state of the back end `save` reads.
std::vector<std::string> kubeLeftovers(const std::string& save) {
  std::vector<std::string> out;
  std::string table;
  size_t pos = 0;
  while (pos < save.size()) {
    size_t nl = save.find('\n', pos);
    if (nl == std::string::npos) nl = save.size();
    const std::string line = save.substr(pos, nl - pos);
    pos = nl + 1;
    if (line.rfind('*', 0) == 0) table = line.substr(1);
    if (line.find("KUBE-") == std::string::npos) continue;
    // kubelet's own chains (and its jumps) are not kube-proxy's to remove; kube-proxy creates
    // KUBE-FIREWALL too but, as upstream, leaves it to kubelet.
    if (line.find("KUBE-IPTABLES-HINT") != std::string::npos || line.find("KUBE-KUBELET-CANARY") != std::string::npos ||
        line.find("KUBE-FIREWALL") != std::string::npos) {
      continue;
    }
    out.push_back(table + ": " + line);
  }
  return out;
}

class CleanupTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    ASSERT_TRUE(runProcess({"ip", "link", "set", "lo", "up"}).ok());
    if (std::string(GetParam()) == "legacy") {
      // kubelet's hint chain in legacy mangle is how the back end is chosen (as upstream's image).
      auto r = runProcess({"iptables-legacy", "-w", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"});
      ASSERT_TRUE(r.ok() && r->succeeded());
    }
  }
  std::string save() {
    const std::string binary = std::string(GetParam()) == "legacy" ? "iptables-legacy-save" : "iptables-nft-save";
    auto r = runProcess({binary});
    EXPECT_TRUE(r.ok() && r->succeeded());
    return r.ok() ? r->out : "";
  }
};

TEST_P(CleanupTest, RemovesEverythingASyncCreated) {
  std::string err;
  ASSERT_EQ(runSync({.live = {.files = {kCluster}, .config_path = kConfig, .ip_family = "ipv4"}}, err), 0) << err;
  ASSERT_FALSE(kubeLeftovers(save()).empty()) << "the sync programmed nothing";
  err.clear();
  EXPECT_EQ(runCleanup(err), 0) << err;
  EXPECT_EQ(err, "");
  const auto left = kubeLeftovers(save());
  EXPECT_TRUE(left.empty()) << ::testing::PrintToString(left);
  // Cleaning a clean node is fine too.
  err.clear();
  EXPECT_EQ(runCleanup(err), 0) << err;
}

INSTANTIATE_TEST_SUITE_P(Backends, CleanupTest, ::testing::Values("nft", "legacy"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace kproxy::cli
