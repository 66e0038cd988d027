// Contract of netlink::ConntrackClient (design.md convention 10): what the reconciler relies on,
// checked on the fake (tests/unit/fakes/fake_conntrack_test.cc) and on the kernel through
// libnetfilter_conntrack (tests/netns/conntrack_nfct_test.cc).
//
// An environment type Env instantiates the suite:
//   struct Env {
//     static void SetUpEnvironment();  // e.g. KPROXY_ENTER_FRESH_NETNS(); may skip or fail
//     Env();                           // constructed only when SetUpEnvironment did neither
//     netlink::ConntrackClient& client();
//     Status create(const netlink::ConntrackFlow&);  // the FlowMaker: puts an entry in the table
//   };
// A new environment starts with an empty table.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "netlink/conntrack.h"
#include "tests/fakes/fake_conntrack.h"  // the flow builders

namespace kproxy::contract {

using fakes::flowLines;
using fakes::udpFlow;
using fakes::withProtocol;

template <typename Env>
class ConntrackContract : public ::testing::Test {
 protected:
  void SetUp() override {
    Env::SetUpEnvironment();
    if (HasFatalFailure() || IsSkipped()) return;
    env_ = std::make_unique<Env>();
  }

  netlink::ConntrackClient& client() { return env_->client(); }

  void create(const std::vector<netlink::ConntrackFlow>& flows) {
    for (const auto& flow : flows) {
      Status created = env_->create(flow);
      ASSERT_TRUE(created.ok()) << flow.toString() << ": " << created.error().message;
    }
  }

  std::vector<std::string> dumpLines(IpFamily family) {
    auto flows = client().dumpUdp(family);
    EXPECT_TRUE(flows.ok()) << flows.error().message;
    return flows.ok() ? flowLines(*flows) : std::vector<std::string>{"<dump failed>"};
  }

  std::unique_ptr<Env> env_;
};

TYPED_TEST_SUITE_P(ConntrackContract);

TYPED_TEST_P(ConntrackContract, NewTableDumpsNothing) {
  EXPECT_EQ(this->dumpLines(IpFamily::kIPv4), std::vector<std::string>{});
  EXPECT_EQ(this->dumpLines(IpFamily::kIPv6), std::vector<std::string>{});
}

TYPED_TEST_P(ConntrackContract, DumpReturnsBothTuplesOfDnatedAndUntranslatedFlows) {
  const std::vector<netlink::ConntrackFlow> flows = {
      udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353),     // DNATed to an endpoint
      udpFlow("10.0.0.1", 40001, "10.96.0.10", 53, "10.96.0.10", 53),       // never DNATed (black hole)
      udpFlow("10.0.0.2", 40000, "10.96.0.10", 53, "10.244.0.3", 5353, 7),  // another zone
  };
  ASSERT_NO_FATAL_FAILURE(this->create(flows));
  EXPECT_EQ(this->dumpLines(IpFamily::kIPv4), flowLines(flows));
}

TYPED_TEST_P(ConntrackContract, DumpIsPerFamilyAndUdpOnly) {
  const auto v4 = udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353);
  const auto v6 = udpFlow("fd00::1", 40000, "fd00:96::10", 53, "fd00:244::3", 5353);
  ASSERT_NO_FATAL_FAILURE(this->create({v4, v6, withProtocol(udpFlow("10.0.0.1", 40002, "10.96.0.10", 53, "10.244.0.3", 53),
                                     netlink::kIpProtoTcp)}));
  EXPECT_EQ(this->dumpLines(IpFamily::kIPv4), flowLines({v4}));
  EXPECT_EQ(this->dumpLines(IpFamily::kIPv6), flowLines({v6}));
}

TYPED_TEST_P(ConntrackContract, RemoveDeletesExactlyTheGivenFlowsAndCountsThem) {
  const auto a = udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353);
  const auto b = udpFlow("10.0.0.1", 40001, "10.96.0.10", 53, "10.244.0.4", 5353);
  const auto c = udpFlow("10.0.0.1", 40002, "10.96.0.10", 53, "10.244.0.5", 5353);
  const auto v6 = udpFlow("fd00::1", 40000, "fd00:96::10", 53, "fd00:244::3", 5353);
  ASSERT_NO_FATAL_FAILURE(this->create({a, b, c, v6}));
  auto deleted = this->client().remove({a, c, v6});
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(*deleted, 3u);
  EXPECT_EQ(this->dumpLines(IpFamily::kIPv4), flowLines({b}));
  EXPECT_EQ(this->dumpLines(IpFamily::kIPv6), std::vector<std::string>{});
}

TYPED_TEST_P(ConntrackContract, RemovingWhatIsAlreadyGoneSucceedsAndCountsNothing) {
  const auto a = udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353);
  ASSERT_NO_FATAL_FAILURE(this->create({a}));
  auto first = this->client().remove({a});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, 1u);
  auto again = this->client().remove({a, udpFlow("10.9.9.9", 1, "10.96.0.99", 2, "10.9.9.8", 3)});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, 0u);
  auto none = this->client().remove({});
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_EQ(*none, 0u);
}

TYPED_TEST_P(ConntrackContract, RemoveFindsTheEntryInItsZone) {
  const auto zone0 = udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353);
  const auto zone7 = udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353, 7);
  ASSERT_NO_FATAL_FAILURE(this->create({zone0, zone7}));
  auto deleted = this->client().remove({zone7});
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(*deleted, 1u);
  EXPECT_EQ(this->dumpLines(IpFamily::kIPv4), flowLines({zone0}));
}

// kernel: ctnetlink_del_conntrack looks the entry up by the original tuple; the reply tuple of the
// request is not compared.
TYPED_TEST_P(ConntrackContract, RemoveFindsTheEntryByItsOriginalTuple) {
  ASSERT_NO_FATAL_FAILURE(this->create({udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353)}));
  auto deleted = this->client().remove({udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.9", 1)});
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(*deleted, 1u);
  EXPECT_EQ(this->dumpLines(IpFamily::kIPv4), std::vector<std::string>{});
}

// The reconciler deletes what it dumped: the dumped copies (ids included) must find their entries.
// The IPv6 dump after the IPv4 deletes spans many datagrams; it must still be complete (reading
// delete answers with a large buffer once made the kernel send dump datagrams bigger than
// libnfnetlink reads, which silently cut that dump short).
TYPED_TEST_P(ConntrackContract, DumpedFlowsCanBeRemoved) {
  std::vector<netlink::ConntrackFlow> flows;
  for (uint16_t i = 0; i < 300; ++i) {
    flows.push_back(udpFlow("10.0.0.1", static_cast<uint16_t>(20000 + i), "10.96.0.10", 53, "10.244.0.3", 5353));
    flows.push_back(udpFlow("fd00::1", static_cast<uint16_t>(20000 + i), "fd00:96::10", 53, "fd00:244::3", 5353));
  }
  ASSERT_NO_FATAL_FAILURE(this->create(flows));
  for (IpFamily family : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    auto dumped = this->client().dumpUdp(family);
    ASSERT_TRUE(dumped.ok()) << dumped.error().message;
    ASSERT_EQ(dumped->size(), 300u);
    auto deleted = this->client().remove(*dumped);
    ASSERT_TRUE(deleted.ok()) << deleted.error().message;
    EXPECT_EQ(*deleted, 300u);
    EXPECT_EQ(this->dumpLines(family), std::vector<std::string>{});
  }
}

// An entry that was deleted and recreated under the same tuple after the dump is another entry:
// the dumped copy, whose id names the old one, must leave it alone.
TYPED_TEST_P(ConntrackContract, RemoveLeavesAnEntryWhoseIdDiffers) {
  const auto a = udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353);
  ASSERT_NO_FATAL_FAILURE(this->create({a}));
  auto dumped = this->client().dumpUdp(IpFamily::kIPv4);
  ASSERT_TRUE(dumped.ok()) << dumped.error().message;
  ASSERT_EQ(dumped->size(), 1u);
  netlink::ConntrackFlow other_incarnation = dumped->front();
  ASSERT_NE(other_incarnation.id, 0u) << "a dump reports the entry's id";
  other_incarnation.id = other_incarnation.id + 1 != 0 ? other_incarnation.id + 1 : 1;
  auto deleted = this->client().remove({other_incarnation});
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(*deleted, 0u);
  EXPECT_EQ(this->dumpLines(IpFamily::kIPv4), flowLines({a}));
  // Without an id, the tuple alone finds it.
  other_incarnation.id = 0;
  deleted = this->client().remove({other_incarnation});
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(*deleted, 1u);
}

REGISTER_TYPED_TEST_SUITE_P(ConntrackContract, NewTableDumpsNothing, DumpReturnsBothTuplesOfDnatedAndUntranslatedFlows,
                            DumpIsPerFamilyAndUdpOnly, RemoveDeletesExactlyTheGivenFlowsAndCountsThem,
                            RemovingWhatIsAlreadyGoneSucceedsAndCountsNothing, RemoveFindsTheEntryInItsZone,
                            RemoveFindsTheEntryByItsOriginalTuple,
                            DumpedFlowsCanBeRemoved, RemoveLeavesAnEntryWhoseIdDiffers);

}  // namespace kproxy::contract
