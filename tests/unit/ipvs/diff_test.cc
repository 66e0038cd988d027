// diff(observed, desired): minimal changes in a safe order; what upstream does not own is left
// alone (upstream TestCleanLegacyService*, Test_syncService, TestMultiPortServiceBindAddr).
#include "modes/ipvs/diff.h"

#include <gtest/gtest.h>

#include "tests/unit/ipvs/ipvs_builders.h"

#include <algorithm>

namespace kproxy::ipvs {
namespace {

using testing::ip;
using testing::rs;
using testing::vs;

IpSet set(std::string name, IpSetType type, std::vector<std::string> members = {}) {
  IpSet s{.name = std::move(name), .type = type, .members = std::move(members)};
  sortMembers(s);
  return s;
}

std::vector<std::string> lines(const IpvsChangeList& changes) {
  std::vector<std::string> out;
  for (size_t i = 0; i < changes.changes.size(); ++i) {
    if (i == changes.cleanupBegin()) out.push_back("--");
    out.push_back(changes.changes[i].toString());
  }
  if (changes.cleanupBegin() == changes.changes.size()) out.push_back("--");
  return out;
}

TEST(IpvsDiff, EqualStatesNeedNothing) {
  IpvsState state;
  state.virtual_servers = {vs("10.20.30.41", 80, api::Protocol::kTCP, {rs("10.180.0.1", 80)})};
  state.ipsets = {set("KUBE-CLUSTER-IP", IpSetType::kHashIpPort, {"10.20.30.41,tcp:80"})};
  state.kube_ipvs0_addresses = {ip("10.20.30.41")};
  IpvsState observed = state;
  observed.virtual_servers[0].flags = kFlagHashed;  // the kernel reports it; never compared
  observed.virtual_servers[0].real_servers[0].active_connections = 7;
  auto changes = diff(observed, state);
  EXPECT_TRUE(changes.empty()) << changes.toString();
  EXPECT_EQ(changes.cleanupBegin(), 0u);
}

TEST(IpvsDiff, FromEmptyInSafeOrder) {
  IpvsState desired;
  desired.virtual_servers = {vs("10.20.30.41", 80, api::Protocol::kTCP, {rs("10.180.0.2", 80), rs("10.180.0.1", 80)}),
                             vs("10.20.30.42", 53, api::Protocol::kUDP)};
  desired.ipsets = {set("KUBE-CLUSTER-IP", IpSetType::kHashIpPort, {"10.20.30.41,tcp:80", "10.20.30.42,udp:53"}),
                    set("KUBE-NODE-PORT-TCP", IpSetType::kBitmapPort)};
  desired.kube_ipvs0_addresses = {ip("10.20.30.41"), ip("10.20.30.42")};
  desired.normalize();
  EXPECT_EQ(lines(diff(IpvsState{}, desired)),
            (std::vector<std::string>{
                "create set KUBE-CLUSTER-IP hash:ip,port",
                "create set KUBE-NODE-PORT-TCP bitmap:port",
                "add 10.20.30.41,tcp:80 to set KUBE-CLUSTER-IP",
                "add 10.20.30.42,udp:53 to set KUBE-CLUSTER-IP",
                "add virtual server TCP 10.20.30.41:80 rr -> (none)",
                "add real server 10.180.0.1:80 to 10.20.30.41:80/TCP (weight 1)",
                "add real server 10.180.0.2:80 to 10.20.30.41:80/TCP (weight 1)",
                "add virtual server UDP 10.20.30.42:53 rr -> (none)",
                "bind 10.20.30.41/32 to kube-ipvs0",
                "bind 10.20.30.42/32 to kube-ipvs0",
                "--",
            }));
}

TEST(IpvsDiff, OneEndpointChangeTouchesOnlyThatDestination) {
  IpvsState observed;
  for (int i = 0; i < 50; ++i) {
    std::vector<RealServer> rss;
    for (int j = 0; j < 10; ++j) rss.push_back(rs("10.1." + std::to_string(i) + "." + std::to_string(j + 1), 8080));
    observed.virtual_servers.push_back(vs("10.96.0." + std::to_string(i + 1), 80, api::Protocol::kTCP, rss));
  }
  observed.normalize();
  IpvsState desired = observed;
  desired.virtual_servers[7].real_servers[3] = rs("10.9.9.9", 8080);
  desired.normalize();
  auto changes = diff(observed, desired);
  ASSERT_EQ(changes.changes.size(), 2u) << changes.toString();
  EXPECT_EQ(changes.changes[0].kind, IpvsChangeKind::kAddRealServer);
  EXPECT_EQ(changes.changes[0].real_server.toString(), "10.9.9.9:8080");
  EXPECT_EQ(changes.changes[1].kind, IpvsChangeKind::kRemoveRealServer);
}

// upstream Test_syncService: flags, scheduler or timeout changes update the service in place.
TEST(IpvsDiff, VirtualServerUpdatedInPlace) {
  struct Case {
    std::string name;
    VirtualServer observed;
    VirtualServer desired;
    bool update;
  };
  VirtualServer base = vs("1.2.3.4", 8080);
  VirtualServer hashed = base;
  hashed.flags = kFlagHashed;
  VirtualServer persistent = base;
  persistent.flags = kFlagPersistent;
  persistent.timeout = 10800;
  VirtualServer wlc = base;
  wlc.scheduler = "wlc";
  VirtualServer longer = persistent;
  longer.timeout = 600;
  const std::vector<Case> cases = {
      {"same (kernel's hashed flag ignored)", hashed, base, false},
      {"persistence added", hashed, persistent, true},
      {"scheduler changed", hashed, wlc, true},
      {"timeout changed", persistent, longer, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    IpvsState observed, desired;
    observed.virtual_servers = {c.observed};
    desired.virtual_servers = {c.desired};
    auto changes = diff(observed, desired);
    EXPECT_EQ(changes.count(IpvsChangeKind::kUpdateVirtualServer), c.update ? 1u : 0u) << changes.toString();
    EXPECT_EQ(changes.count(IpvsChangeKind::kDeleteVirtualServer), 0u);
    EXPECT_EQ(changes.count(IpvsChangeKind::kAddVirtualServer), 0u);
    if (c.update) {
      EXPECT_EQ(changes.changes[0].virtual_server.scheduler, c.desired.scheduler);
      EXPECT_EQ(changes.changes[0].virtual_server.flags, c.desired.flags);
      EXPECT_EQ(changes.changes[0].virtual_server.timeout, c.desired.timeout);
    }
  }
}

TEST(IpvsDiff, RealServersAddedReweightedAndRemovedWithCounts) {
  IpvsState observed, desired;
  RealServer busy = rs("10.180.0.3", 80);
  busy.active_connections = 2;
  observed.virtual_servers = {vs("10.20.30.41", 80, api::Protocol::kTCP,
                                 {rs("10.180.0.1", 80), rs("10.180.0.2", 80, 0), busy})};
  desired.virtual_servers = {vs("10.20.30.41", 80, api::Protocol::kTCP,
                                {rs("10.180.0.1", 80), rs("10.180.0.2", 80), rs("10.180.0.4", 80)})};
  auto changes = diff(observed, desired);
  EXPECT_EQ(lines(changes), (std::vector<std::string>{
                                "set weight 1 on real server 10.180.0.2:80 of 10.20.30.41:80/TCP",
                                "add real server 10.180.0.4:80 to 10.20.30.41:80/TCP (weight 1)",
                                "remove real server 10.180.0.3:80 from 10.20.30.41:80/TCP (2 active, 0 inactive connections)",
                                "--",
                            }));
  EXPECT_EQ(changes.changes[2].real_server.active_connections, 2u);
}

// upstream TestCleanLegacyService / TestCleanLegacyService6 / TestCleanLegacyRealServersExcludeCIDRs.
TEST(IpvsDiff, StaleVirtualServersDeletedLastExceptExcludedAndOtherFamily) {
  IpvsState observed, desired;
  auto udp = [](std::string_view a, uint16_t p, std::vector<RealServer> rss = {}) {
    return vs(a, p, api::Protocol::kUDP, std::move(rss));
  };
  observed.virtual_servers = {udp("1.1.1.1", 53), udp("2.2.2.2", 54),
                              udp("3.3.3.3", 55, {rs("10.10.10.10", 56), rs("11.11.11.11", 56)}),
                              udp("4.4.4.4", 56), udp("5.5.5.5", 57), udp("6.6.6.6", 58, {rs("10.180.0.1", 53)}),
                              udp("1000::6", 58)};
  desired.virtual_servers = {udp("1.1.1.1", 53), udp("2.2.2.2", 54)};
  desired.exclude_cidrs = {*Cidr::parse("3.3.3.0/24"), *Cidr::parse("4.4.4.0/24")};
  observed.normalize();
  auto changes = diff(observed, desired);
  EXPECT_EQ(lines(changes), (std::vector<std::string>{
                                "--",
                                "delete virtual server 5.5.5.5:57/UDP",
                                "delete virtual server 6.6.6.6:58/UDP",
                            }));

  // The IPv6 proxier: the IPv4 services are another family's.
  IpvsState desired6;
  desired6.family = IpFamily::kIPv6;
  desired6.exclude_cidrs = {*Cidr::parse("3000::/64")};
  observed.virtual_servers.push_back(udp("3000::1", 55));
  observed.normalize();
  EXPECT_EQ(lines(diff(observed, desired6)), (std::vector<std::string>{"--", "delete virtual server [1000::6]:58/UDP"}));
}

TEST(IpvsDiff, RealServerRemovalsComeBeforeVirtualServerDeletions) {
  IpvsState observed, desired;
  observed.virtual_servers = {vs("10.0.0.1", 80), vs("10.0.0.9", 80, api::Protocol::kTCP, {rs("10.1.0.1", 80)})};
  desired.virtual_servers = {vs("10.0.0.9", 80)};
  auto changes = diff(observed, desired);
  auto kinds = [&] {
    std::vector<IpvsChangeKind> k;
    for (const auto& c : changes.changes) k.push_back(c.kind);
    return k;
  }();
  EXPECT_EQ(kinds, (std::vector<IpvsChangeKind>{IpvsChangeKind::kRemoveRealServer, IpvsChangeKind::kDeleteVirtualServer}));
  EXPECT_EQ(changes.cleanupBegin(), 1u);
}

TEST(IpvsDiff, SetMembersAndDefinitionsInPlace) {
  IpvsState observed, desired;
  observed.ipsets = {set("KUBE-CLUSTER-IP", IpSetType::kHashIpPort, {"10.0.0.1,tcp:80", "10.0.0.2,tcp:80"}),
                     set("OTHER-SET", IpSetType::kHashIp, {"1.1.1.1"}),
                     set("KUBE-NODE-PORT-TCP", IpSetType::kHashIpPort)};
  desired.ipsets = {set("KUBE-CLUSTER-IP", IpSetType::kHashIpPort, {"10.0.0.2,tcp:80", "10.0.0.3,tcp:80"}),
                    set("KUBE-NODE-PORT-TCP", IpSetType::kBitmapPort, {"30080"})};
  observed.normalize();
  desired.normalize();
  EXPECT_EQ(lines(diff(observed, desired)), (std::vector<std::string>{
                                                 // exists with another type: surfaced as a create
                                                 "create set KUBE-NODE-PORT-TCP bitmap:port",
                                                 "delete 10.0.0.1,tcp:80 from set KUBE-CLUSTER-IP",
                                                 "add 10.0.0.3,tcp:80 to set KUBE-CLUSTER-IP",
                                                 "add 30080 to set KUBE-NODE-PORT-TCP",
                                                 "--",
                                             }));
}

// upstream TestMultiPortServiceBindAddr's last step, and the addresses upstream never lists.
TEST(IpvsDiff, AddressesBoundAndUnbound) {
  IpvsState observed, desired;
  observed.kube_ipvs0_addresses = {ip("172.16.55.4"), ip("127.0.0.1"), ip("fd00::1"), ip("10.0.0.5")};
  desired.kube_ipvs0_addresses = {ip("10.0.0.5"), ip("10.0.0.6")};
  observed.normalize();
  EXPECT_EQ(lines(diff(observed, desired)), (std::vector<std::string>{
                                                 "bind 10.0.0.6/32 to kube-ipvs0",
                                                 "--",
                                                 "unbind 172.16.55.4/32 from kube-ipvs0",
                                             }));
  IpvsState desired6;
  desired6.family = IpFamily::kIPv6;
  observed.kube_ipvs0_addresses.push_back(ip("fe80::1"));
  observed.normalize();
  EXPECT_EQ(lines(diff(observed, desired6)), (std::vector<std::string>{"--", "unbind fd00::1/128 from kube-ipvs0"}));
}

}  // namespace
}  // namespace kproxy::ipvs
