// NfctConntrackClient passes the ConntrackClient contract against the kernel's conntrack table, in a
// fresh network namespace per test. The FlowMaker creates entries with NFCT_Q_CREATE (both tuples
// given, so DNATed entries can be made without sending packets; conntrack_reconcile_test.cc makes
// them with real packets).
#include "netlink/conntrack_nfct.h"

#include <gtest/gtest.h>
#include <linux/netfilter/nf_conntrack_tcp.h>

#include <cerrno>
#include <cstring>

#include "tests/contract/conntrack_contract.h"
#include "tests/netns/netns.h"

namespace kproxy::netns {
namespace {

struct KernelConntrackEnv {
  static void SetUpEnvironment() { KPROXY_ENTER_FRESH_NETNS(); }

  KernelConntrackEnv() {
    auto opened = netlink::NfctConntrackClient::open();
    if (!opened.ok()) {
      ADD_FAILURE() << opened.error().message;
      return;
    }
    real = std::move(*opened);
    maker.reset(nfct_open(CONNTRACK, 0));
    if (!maker) ADD_FAILURE() << "nfct_open: " << std::strerror(errno);
  }

  netlink::ConntrackClient& client() { return *real; }

  Status create(const netlink::ConntrackFlow& flow) {
    netlink::NfConntrack ct = netlink::toNfConntrack(flow);
    nfct_set_attr_u32(ct.get(), ATTR_TIMEOUT, 120);
    if (flow.protocol == netlink::kIpProtoTcp) nfct_set_attr_u8(ct.get(), ATTR_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
    if (nfct_query(maker.get(), NFCT_Q_CREATE, ct.get()) != 0) {
      int err = errno;
      return Error("NFCT_Q_CREATE " + flow.toString() + ": " + std::strerror(err), err);
    }
    return okStatus();
  }

  std::unique_ptr<netlink::NfctConntrackClient> real;
  netlink::NfctHandle maker;
};

}  // namespace
}  // namespace kproxy::netns

namespace kproxy::contract {
INSTANTIATE_TYPED_TEST_SUITE_P(Kernel, ConntrackContract, ::testing::Types<netns::KernelConntrackEnv>);
}  // namespace kproxy::contract
