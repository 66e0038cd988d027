// Reading `ipset save` and `ipvsadm -S -n` text back (saved_state.h), as trace --rules does.
#include "modes/ipvs/saved_state.h"

#include <gtest/gtest.h>

namespace kproxy::ipvs {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

TEST(IpvsSavedState, IpsetSaveRoundTripsAndSkipsOtherTypes) {
  IpvsState state;
  IpSet a;
  a.name = "KUBE-CLUSTER-IP";
  a.type = IpSetType::kHashIpPort;
  a.members = {"10.96.0.10,tcp:80", "10.96.0.11,udp:53"};
  IpSet b;
  b.name = "KUBE-NODE-PORT-TCP";
  b.type = IpSetType::kBitmapPort;
  b.members = {"3001"};
  state.ipsets = {a, b};
  std::string text = formatIpsetSave(state);
  text += "create OTHER list:set size 8\nadd OTHER KUBE-CLUSTER-IP\n";
  text += "add KUBE-CLUSTER-IP 10.96.0.12,tcp:443 timeout 0\n";
  auto sets = parseIpsetSave(text);
  ASSERT_TRUE(sets.ok()) << sets.error().message;
  ASSERT_EQ(sets->size(), 2u);
  EXPECT_EQ((*sets)[0].name, "KUBE-CLUSTER-IP");
  EXPECT_EQ((*sets)[0].type, IpSetType::kHashIpPort);
  EXPECT_EQ((*sets)[0].members,
            (std::vector<std::string>{"10.96.0.10,tcp:80", "10.96.0.11,udp:53", "10.96.0.12,tcp:443"}));
  EXPECT_EQ((*sets)[1].members, std::vector<std::string>{"3001"});
  auto bad = parseIpsetSave("create A hash:ip\nadd B 1.2.3.4\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("line 2"), std::string::npos) << bad.error().message;
}

TEST(IpvsSavedState, IpvsadmSaveRoundTrips) {
  IpvsState state;
  VirtualServer vs;
  vs.address = ip("10.96.0.10");
  vs.port = 80;
  vs.scheduler = "mh";
  vs.flags = kFlagPersistent | kFlagMhPort;
  vs.timeout = 10800;
  vs.real_servers = {RealServer{.address = ip("10.1.0.1"), .port = 8080, .weight = 1},
                     RealServer{.address = ip("10.1.0.2"), .port = 8080, .weight = 0}};
  VirtualServer udp6;
  udp6.address = ip("fd00::10");
  udp6.protocol = api::Protocol::kUDP;
  udp6.port = 53;
  udp6.netmask = kNetmaskIPv6;
  udp6.real_servers = {RealServer{.address = ip("fd00:1::1"), .port = 53, .weight = 1}};
  state.virtual_servers = {vs, udp6};
  state.normalize();
  auto servers = parseIpvsadmSave(formatIpvsadmSave(state) + "-A -f 7 -s rr\n-a -f 7 -r 10.0.0.1:0 -g -w 1\n");
  ASSERT_TRUE(servers.ok()) << servers.error().message;
  ASSERT_EQ(servers->size(), 2u);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ((*servers)[i], state.virtual_servers[i]) << describe((*servers)[i]);
  EXPECT_FALSE(parseIpvsadmSave("-a -t 10.0.0.1:80 -r 10.1.0.1:80 -m -w 1\n").ok());
  EXPECT_FALSE(parseIpvsadmSave("-A -t 10.0.0.1 -s rr\n").ok());
}

}  // namespace
}  // namespace kproxy::ipvs
