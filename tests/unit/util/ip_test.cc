#include "src/util/ip.h"

#include <gtest/gtest.h>

namespace kproxy {
namespace {

TEST(IpAddress, ParseAndPrintLikeGo) {
  struct Case {
    std::string in;
    bool sloppy;
    std::string out;  // "" = parse error
  };
  const std::vector<Case> cases = {
      {"10.0.0.1", false, "10.0.0.1"},
      {"172.30.0.041", false, ""},          // Go rejects leading zeros
      {"172.30.0.041", true, "172.30.0.41"},  // upstream's sloppy parse: decimal, not octal
      {" 1.2.3.4 ", true, "1.2.3.4"},
      {" 1.2.3.4 ", false, ""},
      {"10.96.0.300", true, ""},
      {"1.2.3", true, ""},
      {"1.2.3.4.5", true, ""},
      {"fd00::1", false, "fd00::1"},
      {"2001:DB8:0:0:0:0:0:1", false, "2001:db8::1"},
      {"2001:db8:0:1:0:0:0:1", false, "2001:db8:0:1::1"},    // longest run
      {"2001:0:0:1:0:0:0:1", false, "2001:0:0:1::1"},        // first longest run wins ties? longest here
      {"2001:db8:0:0:1:0:0:1", false, "2001:db8::1:0:0:1"},  // equal runs: the first
      {"2001:db8:1:1:1:1:0:1", false, "2001:db8:1:1:1:1:0:1"},  // a single zero group is not compressed
      {"::", false, "::"},
      {"::1", false, "::1"},
      {"1::", false, "1::"},
      {"::ffff:1.2.3.4", false, "1.2.3.4"},  // IPv4-mapped prints as IPv4
      {"::1.2.3.4", false, "::102:304"},
      {"1:2:3:4:5:6:7:8:9", false, ""},
      {"1::2::3", false, ""},
      {"12345::1", false, ""},
      {"", true, ""},
      {"abc", true, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto ip = c.sloppy ? IpAddress::parseSloppy(c.in) : IpAddress::parse(c.in);
    if (c.out.empty()) {
      EXPECT_FALSE(ip.ok());
    } else {
      ASSERT_TRUE(ip.ok()) << ip.error().message;
      EXPECT_EQ(ip->toString(), c.out);
    }
  }
}

TEST(IpAddress, Properties) {
  EXPECT_TRUE(IpAddress::parse("127.0.0.5")->isLoopback());
  EXPECT_TRUE(IpAddress::parse("::1")->isLoopback());
  EXPECT_FALSE(IpAddress::parse("::2")->isLoopback());
  EXPECT_TRUE(IpAddress::parse("0.0.0.0")->isUnspecified());
  EXPECT_TRUE(IpAddress::parse("fe80::1")->isLinkLocalUnicast());
  EXPECT_EQ(IpAddress::parse("::ffff:1.2.3.4")->family(), IpFamily::kIPv4);
  EXPECT_LT(*IpAddress::parse("10.0.0.2"), *IpAddress::parse("10.0.0.10"));
}

TEST(Cidr, ParseMaskAndContain) {
  struct Case {
    std::string in;
    bool sloppy;
    std::string out;
  };
  const std::vector<Case> cases = {
      {"10.0.0.0/8", false, "10.0.0.0/8"},
      {"10.1.2.3/8", false, "10.0.0.0/8"},  // Go masks the address
      {" 203.0.113.000/025 ", true, "203.0.113.0/25"},
      {"203.0.113.000/25", false, ""},
      {"10.0.0.0/33", false, ""},
      {"10.0.0.0", false, ""},
      {"fd00:10::/64", false, "fd00:10::/64"},
      {"2001:db8::1/129", false, ""},
      {"0.0.0.0/0", false, "0.0.0.0/0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    auto cidr = c.sloppy ? Cidr::parseSloppy(c.in) : Cidr::parse(c.in);
    if (c.out.empty()) {
      EXPECT_FALSE(cidr.ok());
    } else {
      ASSERT_TRUE(cidr.ok()) << cidr.error().message;
      EXPECT_EQ(cidr->toString(), c.out);
    }
  }
  auto net = *Cidr::parse("192.168.0.0/24");
  EXPECT_TRUE(net.contains(*IpAddress::parse("192.168.0.2")));
  EXPECT_FALSE(net.contains(*IpAddress::parse("192.168.1.2")));
  EXPECT_FALSE(net.contains(*IpAddress::parse("fd00::1")));
  EXPECT_TRUE(Cidr::parse("0.0.0.0/0")->contains(*IpAddress::parse("127.0.0.1")));
}

TEST(InterfaceAddress, KeepsHostBits) {
  auto a = InterfaceAddress::parse("192.168.0.2/24");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->toString(), "192.168.0.2/24");
  EXPECT_EQ(InterfaceAddress::parse("::1")->toString(), "::1/128");
  EXPECT_FALSE(InterfaceAddress::parse("192.168.0.2/40").ok());
}

TEST(JoinHostPort, BracketsIpv6) {
  EXPECT_EQ(joinHostPort(*IpAddress::parse("10.0.0.1"), 80), "10.0.0.1:80");
  EXPECT_EQ(joinHostPort(*IpAddress::parse("fd00::1"), 8080), "[fd00::1]:8080");
}

}  // namespace
}  // namespace kproxy
