// The netlink writers' own guard (issue 15 item 2), against the kernel in a fresh network
// namespace: a set name, a member, a link name or an nfacct name with a NUL, a newline or more
// bytes than the kernel keeps is refused before it is sent, and never reaches the kernel as a
// shorter (or different) name. (The IPVS scheduler name takes the same check inside the IPVS
// message builder; the host kernel has no IPVS, so that one is covered by the unit test of the
// check itself.)
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "netlink/ipset_lib.h"
#include "netlink/link_route.h"
#include "netlink/nfacct.h"
#include "tests/netns/netns.h"

namespace kproxy::netlink {
namespace {

TEST(NetlinkWritersInTheKernel, HostileIpSetNamesAndMembersAreRefused) {
  KPROXY_ENTER_FRESH_NETNS();
  auto opened = LibIpSetClient::open();
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  LibIpSetClient& sets = **opened;

  for (const std::string& name : {std::string("KPX-T\0X", 7), std::string("KPX-T\nX"), std::string(40, 'K')}) {
    SCOPED_TRACE(::testing::PrintToString(name));
    Status created = sets.create(IpSetSpec{.name = name, .type = "hash:ip"});
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.error().message.find('\n'), std::string::npos) << created.error().message;
    auto listed = sets.list("KPX-T");
    EXPECT_FALSE(listed.ok()) << "a set named KPX-T (the name cut at the NUL or newline) exists";
  }

  ASSERT_TRUE(sets.create(IpSetSpec{.name = "KPX-T", .type = "hash:ip"}).ok());
  const std::vector<std::string> members = {"10.0.0.1", "10.0.0.2\n10.0.0.3", std::string("10.0.0.4\0", 9), "10.0.0.5"};
  std::vector<Status> added = sets.addMembers("KPX-T", members);
  ASSERT_EQ(added.size(), members.size());
  EXPECT_TRUE(added[0].ok());
  EXPECT_FALSE(added[1].ok());
  EXPECT_FALSE(added[2].ok());
  EXPECT_TRUE(added[3].ok());
  auto content = sets.list("KPX-T");
  ASSERT_TRUE(content.ok()) << content.error().message;
  std::vector<std::string> got = content->members;
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"10.0.0.1", "10.0.0.5"}));
  std::vector<Status> bad_set = sets.addMembers(std::string("KPX-T\0", 6), {"10.0.0.9"});
  ASSERT_EQ(bad_set.size(), 1u);
  EXPECT_FALSE(bad_set[0].ok());
  EXPECT_TRUE(sets.destroy("KPX-T").ok());
}

TEST(NetlinkWritersInTheKernel, HostileLinkAndNfacctNamesAreRefused) {
  KPROXY_ENTER_FRESH_NETNS();
  auto links = RouteLinkClient::open();
  ASSERT_TRUE(links.ok()) << links.error().message;
  for (const std::string& name : {std::string("kpx\0x", 5), std::string("kube\nipvs0"), std::string(20, 'k')}) {
    SCOPED_TRACE(::testing::PrintToString(name));
    auto made = (*links)->ensureDummyLink(name);
    ASSERT_FALSE(made.ok());
    EXPECT_EQ(made.error().message.find('\n'), std::string::npos) << made.error().message;
  }
  auto nfacct = newNetlinkNfacct();
  Status counted = nfacct->ensure(std::string("kpx\0x", 5));
  EXPECT_FALSE(counted.ok());
  EXPECT_FALSE(nfacct->ensure(std::string(40, 'n')).ok());
}

}  // namespace
}  // namespace kproxy::netlink
