// Graceful-termination decisions (upstream graceful_termination.go; spec §1.8).
#include "modes/ipvs/graceful_termination.h"

#include <gtest/gtest.h>

#include "tests/unit/ipvs/ipvs_builders.h"

namespace kproxy::ipvs {
namespace {

using testing::ip;

DestinationRef dest(std::string_view vip, api::Protocol protocol, std::string_view rip, uint16_t rport = 8080) {
  return {{ip(vip), protocol, 80}, ip(rip), rport};
}

TEST(GracefulTermination, DecideRemoval) {
  struct Case {
    std::string name;
    api::Protocol protocol;
    uint32_t active;
    uint32_t inactive;
    RemovalDecision expected;
  };
  const std::vector<Case> cases = {
      {"tcp without connections", api::Protocol::kTCP, 0, 0, RemovalDecision::kDeleteNow},
      {"tcp with active connections", api::Protocol::kTCP, 3, 0, RemovalDecision::kQuiesce},
      {"tcp with inactive connections", api::Protocol::kTCP, 0, 1, RemovalDecision::kQuiesce},
      {"tcp with counters that would wrap", api::Protocol::kTCP, 0xFFFFFFFF, 1, RemovalDecision::kQuiesce},
      {"udp is never graceful", api::Protocol::kUDP, 5, 5, RemovalDecision::kDeleteNow},
      {"sctp is never graceful", api::Protocol::kSCTP, 5, 0, RemovalDecision::kDeleteNow},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(decideRemoval(c.protocol, c.active, c.inactive), c.expected);
  }
  EXPECT_TRUE(gracefulTerminationNeeded(api::Protocol::kTCP));
  EXPECT_FALSE(gracefulTerminationNeeded(api::Protocol::kUDP));
  EXPECT_FALSE(gracefulTerminationNeeded(api::Protocol::kSCTP));
}

TEST(GracefulTermination, UniqueNameAsUpstream) {
  EXPECT_EQ(dest("10.20.30.41", api::Protocol::kTCP, "10.180.0.1").uniqueName(), "10.20.30.41:80/TCP/10.180.0.1:8080");
  EXPECT_EQ(dest("2001::1", api::Protocol::kTCP, "2001::5").uniqueName(), "[2001::1]:80/TCP/[2001::5]:8080");
}

TEST(GracefulTermination, ListAndSweep) {
  TerminationList list;
  const auto a = dest("10.20.30.41", api::Protocol::kTCP, "10.180.0.1");
  const auto b = dest("10.20.30.41", api::Protocol::kTCP, "10.180.0.2");
  const auto c = dest("10.20.30.41", api::Protocol::kTCP, "10.180.0.3");
  EXPECT_TRUE(list.add(a));
  EXPECT_FALSE(list.add(a));
  EXPECT_TRUE(list.add(b));
  EXPECT_TRUE(list.add(c));
  EXPECT_TRUE(mustReAdd(list, b));

  // a: drained; b: still busy (no maximum grace period); c: gone from the kernel.
  std::map<DestinationRef, ConnectionCounts> counts = {{a, {0, 0}}, {b, {1, 4}}};
  SweepResult result = sweep(list, counts);
  EXPECT_EQ(result.delete_now, std::vector<DestinationRef>{a});
  EXPECT_EQ(result.keep, std::vector<DestinationRef>{b});
  EXPECT_EQ(result.vanished, std::vector<DestinationRef>{c});

  EXPECT_TRUE(list.remove(a));
  EXPECT_FALSE(list.remove(a));
  EXPECT_EQ(list.size(), 2u);
  EXPECT_FALSE(mustReAdd(list, a));
}

}  // namespace
}  // namespace kproxy::ipvs
