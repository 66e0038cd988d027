// The real IPVS (generic netlink), link (rtnetlink) and ip-set (libipset) clients pass the same
// contract as the in-memory fakes, inside the VM of tests/kernel/vm-run, each test in a fresh
// network namespace.
#include <gtest/gtest.h>

#include <cstdlib>

#include "netlink/ipset_lib.h"
#include "netlink/ipvs_genl.h"
#include "netlink/link_route.h"
#include "tests/contract/ipvs_contract.h"
#include "tests/netns/netns.h"

namespace kproxy::contract {
namespace {

struct KernelIpvsEnv {
  static void SetUpEnvironment() {
    KPROXY_ENTER_FRESH_NETNS();
    // The kernel refuses an IPv4 destination it has no route to (inet_addr_type must say
    // unicast or local): a dummy link with a default route, as a node has.
    ASSERT_EQ(std::system("ip link set lo up && ip link add kt0 type dummy && ip link set kt0 up && "
                          "ip route add default dev kt0"),
              0);
    if (!netlink::GenlIpvsClient::open().ok()) {
      if (netns::ciMode()) FAIL() << "no IPVS in this kernel";
      GTEST_SKIP() << "no IPVS in this kernel";
    }
  }
  KernelIpvsEnv()
      : ipvs_(std::move(netlink::GenlIpvsClient::open().value())),
        links_(std::move(netlink::RouteLinkClient::open().value())),
        sets_(std::move(netlink::LibIpSetClient::open().value())) {}
  ~KernelIpvsEnv() {
    // ip sets are not per namespace on every kernel: remove the contract's own.
    (void)sets_->destroy("KT-CLUSTER-IP");
  }
  netlink::IpvsClient& ipvs() { return *ipvs_; }
  netlink::LinkClient& links() { return *links_; }
  netlink::IpSetClient& ipsets() { return *sets_; }

  std::unique_ptr<netlink::GenlIpvsClient> ipvs_;
  std::unique_ptr<netlink::RouteLinkClient> links_;
  std::unique_ptr<netlink::LibIpSetClient> sets_;
};

}  // namespace

INSTANTIATE_TYPED_TEST_SUITE_P(Kernel, IpvsContract, ::testing::Types<KernelIpvsEnv>);

}  // namespace kproxy::contract
