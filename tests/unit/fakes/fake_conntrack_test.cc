// FakeConntrack passes the ConntrackClient contract, and its failure knobs do what they say.
#include "tests/fakes/fake_conntrack.h"

#include <gtest/gtest.h>

#include "tests/contract/conntrack_contract.h"

namespace kproxy::fakes {
namespace {

struct FakeConntrackEnv {
  static void SetUpEnvironment() {}
  netlink::ConntrackClient& client() { return fake; }
  Status create(const netlink::ConntrackFlow& flow) { return fake.insert(flow); }

  FakeConntrack fake;
};

}  // namespace
}  // namespace kproxy::fakes

namespace kproxy::contract {
INSTANTIATE_TYPED_TEST_SUITE_P(Fake, ConntrackContract, ::testing::Types<fakes::FakeConntrackEnv>);
}  // namespace kproxy::contract

namespace kproxy::fakes {
namespace {

TEST(FakeConntrackTest, InsertRefusesATakenOriginalTupleInTheSameZone) {
  FakeConntrack fake;
  ASSERT_TRUE(fake.insert(udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353)).ok());
  Status again = fake.insert(udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.4", 5353));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EEXIST);
  EXPECT_TRUE(fake.insert(udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.4", 5353, 3)).ok());
}

TEST(FakeConntrackTest, DumpPrintsLikeConntrackList) {
  FakeConntrack fake;
  ASSERT_TRUE(fake.insert(udpFlow("fd00::1", 40000, "fd00:96::10", 53, "fd00:244::3", 5353)).ok());
  ASSERT_TRUE(fake.insert(udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353, 7)).ok());
  EXPECT_EQ(fake.dump(),
            "ipv4 udp src=10.0.0.1 dst=10.96.0.10 sport=40000 dport=53 src=10.244.0.3 dst=10.0.0.1 sport=5353 "
            "dport=40000 zone=7\n"
            "ipv6 udp src=fd00::1 dst=fd00:96::10 sport=40000 dport=53 src=fd00:244::3 dst=fd00::1 sport=5353 "
            "dport=40000\n");
}

TEST(FakeConntrackTest, FailedDumpReturnsTheError) {
  FakeConntrack fake;
  fake.failDumpWith(Error("conntrack: dump IPv4 entries: ENOBUFS (No buffer space available)", ENOBUFS));
  auto dumped = fake.dumpUdp(IpFamily::kIPv4);
  ASSERT_FALSE(dumped.ok());
  EXPECT_EQ(dumped.error().code, ENOBUFS);
  fake.failDumpWith(std::nullopt);
  EXPECT_TRUE(fake.dumpUdp(IpFamily::kIPv4).ok());
  EXPECT_EQ(fake.dumpCalls(), 2u);
}

TEST(FakeConntrackTest, InterruptedDumpIsASuccessWithWhatWasRead) {
  FakeConntrack fake;
  for (uint16_t port = 1; port <= 5; ++port) {
    ASSERT_TRUE(fake.insert(udpFlow("10.0.0.1", port, "10.96.0.10", 53, "10.244.0.3", 5353)).ok());
  }
  fake.interruptDumpAfter(2);
  auto dumped = fake.dumpUdp(IpFamily::kIPv4);
  ASSERT_TRUE(dumped.ok());
  ASSERT_EQ(dumped->size(), 2u);
  EXPECT_EQ(dumped->at(0).orig_sport, 1);
  EXPECT_EQ(dumped->at(1).orig_sport, 2);
}

TEST(FakeConntrackTest, FailedRemoveDeletesNothing) {
  FakeConntrack fake;
  const auto flow = udpFlow("10.0.0.1", 40000, "10.96.0.10", 53, "10.244.0.3", 5353);
  ASSERT_TRUE(fake.insert(flow).ok());
  fake.failRemoveWith(Error("conntrack: delete: EPERM (Operation not permitted)", EPERM));
  auto removed = fake.remove({flow});
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(fake.flows().size(), 1u);
  EXPECT_EQ(fake.removedTotal(), 0u);
  fake.failRemoveWith(std::nullopt);
  removed = fake.remove({flow});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  EXPECT_EQ(fake.removedTotal(), 1u);
  EXPECT_EQ(fake.removeCalls(), 2u);
}

}  // namespace
}  // namespace kproxy::fakes
