#include "src/api/objects.h"

#include <gtest/gtest.h>

#include <string>

namespace kproxy::api {
namespace {

TEST(Objects, ProtocolNames) {
  struct Case {
    Protocol protocol;
    std::string name;
    std::string lower;
  };
  for (const Case& tc : {Case{Protocol::kTCP, "TCP", "tcp"}, Case{Protocol::kUDP, "UDP", "udp"},
                         Case{Protocol::kSCTP, "SCTP", "sctp"}}) {
    SCOPED_TRACE(tc.name);
    EXPECT_EQ(protocolName(tc.protocol), tc.name);
    EXPECT_EQ(protocolLowerName(tc.protocol), tc.lower);
  }
}

TEST(Objects, NamespacedName) {
  EXPECT_EQ((NamespacedName{"ns", "web"}.toString()), "ns/web");
  EXPECT_EQ((NamespacedName{"", "node-1"}.toString()), "node-1");
}

}  // namespace
}  // namespace kproxy::api
