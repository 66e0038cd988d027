// The IPVS applier against the real kernel (inside the VM of tests/kernel/vm-run): a plan applied
// from nothing, a second apply that sends nothing, a changed destination, a foreign virtual
// server that stays, and graceful termination of a destination with a live TCP connection
// (weight 0 while the connection lives, deleted by a sweep once it is gone; UDP at once).
// Each test runs in a fresh network namespace. No iptables payload (tests/kernel/scenario-*.sh
// cover the whole sync through `kproxy sync`).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "modes/ipvs/applier.h"
#include "netlink/ipset_lib.h"
#include "netlink/ipvs_genl.h"
#include "netlink/link_route.h"
#include "tests/netns/netns.h"

namespace kproxy::ipvs {
namespace {

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

VirtualServer virtualServer(const char* address, uint16_t port, api::Protocol protocol,
                            std::vector<std::pair<const char*, uint16_t>> reals) {
  VirtualServer vs;
  vs.address = ip(address);
  vs.port = port;
  vs.protocol = protocol;
  vs.scheduler = "rr";
  vs.netmask = defaultNetmask(vs.address.family());
  for (auto [addr, p] : reals) vs.real_servers.push_back({.address = ip(addr), .port = p, .weight = 1});
  std::sort(vs.real_servers.begin(), vs.real_servers.end(),
            [](const RealServer& a, const RealServer& b) { return std::tie(a.address, a.port) < std::tie(b.address, b.port); });
  return vs;
}

class IpvsApplierKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    auto ipvs = netlink::GenlIpvsClient::open();
    if (!ipvs.ok()) {
      std::string why = "SKIPPED: no IPVS in this kernel: " + ipvs.error().message;
      if (netns::ciMode()) FAIL() << why;
      GTEST_SKIP() << why;
    }
    ipvs_ = std::move(*ipvs);
    auto links = netlink::RouteLinkClient::open();
    ASSERT_TRUE(links.ok()) << links.error().message;
    links_ = std::move(*links);
    auto sets = netlink::LibIpSetClient::open();
    ASSERT_TRUE(sets.ok()) << sets.error().message;
    sets_ = std::move(*sets);
    ASSERT_EQ(std::system("ip link set lo up && ip link add kt0 type dummy && ip link set kt0 up &&"
                          " ip route add default dev kt0 && echo 1 > /proc/sys/net/ipv4/vs/conntrack"),
              0);
    applier_ = std::make_unique<IpvsApplier>(IpvsApplierDeps{.ipvs = *ipvs_, .links = *links_, .ipsets = *sets_});
  }

  IpvsPlan plan(std::vector<VirtualServer> servers, std::vector<const char*> bound, std::vector<IpSet> sets = {}) {
    IpvsPlan p;
    p.state.family = IpFamily::kIPv4;
    // ipvs.excludeCIDRs: the virtual servers of other tools (upstream deletes every other one of
    // its family).
    p.state.exclude_cidrs = {Cidr::parse("172.31.0.0/16").value()};
    p.state.virtual_servers = std::move(servers);
    for (const char* a : bound) p.state.kube_ipvs0_addresses.push_back(ip(a));
    p.state.ipsets = std::move(sets);
    p.state.normalize();
    return p;
  }

  const netlink::IpvsDestination* findDest(const std::vector<netlink::IpvsServiceWithDestinations>& all,
                                           const char* vip, uint16_t port, const char* rip) {
    for (const auto& e : all) {
      if (e.service.address != ip(vip) || e.service.port != port) continue;
      for (const auto& d : e.destinations) {
        if (d.address == ip(rip)) return &d;
      }
    }
    return nullptr;
  }

  std::unique_ptr<netlink::GenlIpvsClient> ipvs_;
  std::unique_ptr<netlink::RouteLinkClient> links_;
  std::unique_ptr<netlink::LibIpSetClient> sets_;
  std::unique_ptr<IpvsApplier> applier_;
};

TEST_F(IpvsApplierKernelTest, AppliesAPlanThenOnlyItsDifference) {
  // A virtual server of another tool inside excludeCIDRs, which the applier must leave alone.
  netlink::IpvsService foreign;
  foreign.address = ip("172.31.0.1");
  foreign.port = 7000;
  foreign.scheduler = "wrr";
  ASSERT_TRUE(ipvs_->addService(foreign).ok());

  IpSet cluster_ips;
  cluster_ips.name = "KUBE-CLUSTER-IP";
  cluster_ips.type = IpSetType::kHashIpPort;
  cluster_ips.members = {"10.96.0.10,tcp:80", "10.96.0.53,udp:53"};
  IpvsPlan first = plan({virtualServer("10.96.0.10", 80, api::Protocol::kTCP, {{"10.244.1.2", 8080}, {"10.244.1.3", 8080}}),
                         virtualServer("10.96.0.53", 53, api::Protocol::kUDP, {{"10.244.2.2", 5353}})},
                        {"10.96.0.10", "10.96.0.53"}, {cluster_ips});
  auto applied = applier_->apply(first);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_TRUE(applied->errors.empty()) << applied->errors.front();
  EXPECT_EQ(applied->virtual_servers_added, 2u);
  EXPECT_EQ(applied->real_servers_added, 3u);
  EXPECT_EQ(applied->addresses_bound, 2u);
  EXPECT_EQ(applied->sets_created, 1u);
  EXPECT_EQ(applied->set_members_added, 2u);

  auto observed = readObservedState(*ipvs_, *links_, *sets_, IpFamily::kIPv4, first.state.ipsets);
  ASSERT_TRUE(observed.ok()) << observed.error().message;
  IpvsState ours = *observed;
  std::erase_if(ours.virtual_servers, [](const VirtualServer& vs) { return vs.port == 7000; });
  for (auto& vs : ours.virtual_servers) {
    for (auto& rs : vs.real_servers) rs.active_connections = rs.inactive_connections = 0;
  }
  EXPECT_EQ(formatIpvsadmSave(ours), formatIpvsadmSave(first.state));
  EXPECT_EQ(formatIpsetSave(ours), formatIpsetSave(first.state));
  EXPECT_EQ(ours.kube_ipvs0_addresses, first.state.kube_ipvs0_addresses);

  // The same plan again: nothing to send.
  auto again = applier_->apply(first);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ipvs_operations, 0u) << again->changes;
  EXPECT_EQ(again->changes, "");

  // One destination replaced, the UDP service gone.
  IpSet fewer = cluster_ips;
  fewer.members = {"10.96.0.10,tcp:80"};
  IpvsPlan second = plan({virtualServer("10.96.0.10", 80, api::Protocol::kTCP, {{"10.244.1.2", 8080}, {"10.244.1.4", 8080}})},
                         {"10.96.0.10"}, {fewer});
  auto changed = applier_->apply(second);
  ASSERT_TRUE(changed.ok()) << changed.error().message;
  EXPECT_TRUE(changed->errors.empty());
  EXPECT_EQ(changed->real_servers_added, 1u);
  EXPECT_EQ(changed->real_servers_deleted, 1u) << "an idle TCP destination goes at once";
  EXPECT_EQ(changed->virtual_servers_deleted, 1u);
  EXPECT_EQ(changed->addresses_unbound, 1u);
  EXPECT_EQ(changed->set_members_deleted, 1u);
  EXPECT_EQ(changed->ipvs_operations, 3u) << changed->changes;

  auto all = ipvs_->listAll();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u) << "web and the foreign virtual server";
  EXPECT_NE(findDest(*all, "10.96.0.10", 80, "10.244.1.4"), nullptr);
  EXPECT_EQ(findDest(*all, "10.96.0.10", 80, "10.244.1.3"), nullptr);
  auto kept = ipvs_->getService(foreign);
  ASSERT_TRUE(kept.ok()) << "the foreign virtual server stays";
  EXPECT_EQ(kept->scheduler, "wrr");
  auto addrs = links_->listAddresses(kDummyDevice, IpFamily::kIPv4);
  ASSERT_TRUE(addrs.ok());
  EXPECT_EQ(*addrs, std::vector<IpAddress>{ip("10.96.0.10")});
}

// A TCP destination with a live connection is quiesced (weight 0), not deleted; it is deleted by
// a sweep once its connection has gone. A UDP destination goes at once.
TEST_F(IpvsApplierKernelTest, GracefulTerminationWaitsForTheLiveConnection) {
  ASSERT_EQ(std::system("ip addr add 10.99.0.1/32 dev lo && ip addr add 10.99.0.2/32 dev lo"), 0);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in backend{};
  backend.sin_family = AF_INET;
  backend.sin_port = htons(18080);
  backend.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&backend), sizeof(backend)), 0);
  ASSERT_EQ(listen(listener, 4), 0);

  IpvsPlan both = plan({virtualServer("10.99.0.100", 80, api::Protocol::kTCP, {{"10.99.0.1", 18080}}),
                        virtualServer("10.99.0.100", 53, api::Protocol::kUDP, {{"10.99.0.1", 5353}, {"10.99.0.2", 5353}})},
                       {"10.99.0.100"});
  auto applied = applier_->apply(both);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  ASSERT_TRUE(applied->errors.empty()) << applied->errors.front();

  // A live connection through the virtual server (bound on kube-ipvs0, so local).
  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(client, 0);
  timeval five{.tv_sec = 5, .tv_usec = 0};
  setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &five, sizeof(five));
  sockaddr_in vip{};
  vip.sin_family = AF_INET;
  vip.sin_port = htons(80);
  vip.sin_addr.s_addr = htonl(0x0A630064);  // 10.99.0.100
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&vip), sizeof(vip)), 0) << std::strerror(errno);
  int accepted = accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);

  // The endpoint 10.99.0.1 leaves both services; 10.99.0.2 stays for UDP.
  IpvsPlan without = plan({virtualServer("10.99.0.100", 80, api::Protocol::kTCP, {}),
                           virtualServer("10.99.0.100", 53, api::Protocol::kUDP, {{"10.99.0.2", 5353}})},
                          {"10.99.0.100"});
  auto removed = applier_->apply(without);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(removed->real_servers_quiesced, 1u) << removed->changes;
  EXPECT_EQ(removed->real_servers_deleted, 1u) << "UDP goes at once";
  EXPECT_EQ(applier_->terminationList().size(), 1u);

  auto all = ipvs_->listAll();
  ASSERT_TRUE(all.ok());
  const auto* tcp = findDest(*all, "10.99.0.100", 80, "10.99.0.1");
  ASSERT_NE(tcp, nullptr) << "the TCP destination stays while its connection lives";
  EXPECT_EQ(tcp->weight, 0u);
  EXPECT_EQ(tcp->active_connections, 1u);
  EXPECT_EQ(findDest(*all, "10.99.0.100", 53, "10.99.0.1"), nullptr);
  EXPECT_NE(findDest(*all, "10.99.0.100", 53, "10.99.0.2"), nullptr);

  // The connection still works at weight 0.
  ASSERT_EQ(write(client, "ping", 4), 4);
  char buf[8] = {};
  ASSERT_EQ(read(accepted, buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf, 4), "ping");

  // A sweep while it lives keeps it; a sync of the same plan does not touch it again.
  auto kept = applier_->sweep();
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, 0u);
  auto same = applier_->apply(without);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->ipvs_operations, 0u) << same->changes;

  // Reset the connection: IPVS keeps the entry in CLOSE state for 10 s (inactive), then drops it.
  linger hard{.l_onoff = 1, .l_linger = 0};
  setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  close(client);
  close(accepted);
  close(listener);
  size_t deleted = 0;
  for (int i = 0; i < 90 && deleted == 0; ++i) {  // the kernel's timer, not a timing assertion
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto swept = applier_->sweep();
    ASSERT_TRUE(swept.ok()) << swept.error().message;
    deleted = *swept;
  }
  EXPECT_EQ(deleted, 1u) << "the sweep deletes the destination once its connections are gone";
  EXPECT_TRUE(applier_->terminationList().empty());
  all = ipvs_->listAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(findDest(*all, "10.99.0.100", 80, "10.99.0.1"), nullptr);
}

// A quiesced destination that becomes desired again is deleted and re-added at weight 1.
TEST_F(IpvsApplierKernelTest, AReturningEndpointIsReAddedAtWeightOne) {
  ASSERT_EQ(std::system("ip addr add 10.99.0.1/32 dev lo"), 0);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in backend{};
  backend.sin_family = AF_INET;
  backend.sin_port = htons(18081);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&backend), sizeof(backend)), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  IpvsPlan with = plan({virtualServer("10.99.0.101", 80, api::Protocol::kTCP, {{"10.99.0.1", 18081}})}, {"10.99.0.101"});
  ASSERT_TRUE(applier_->apply(with).ok());
  int client = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in vip{};
  vip.sin_family = AF_INET;
  vip.sin_port = htons(80);
  vip.sin_addr.s_addr = htonl(0x0A630065);  // 10.99.0.101
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&vip), sizeof(vip)), 0) << std::strerror(errno);
  int accepted = accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);

  IpvsPlan without = plan({virtualServer("10.99.0.101", 80, api::Protocol::kTCP, {})}, {"10.99.0.101"});
  auto removed = applier_->apply(without);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->real_servers_quiesced, 1u);
  auto back = applier_->apply(with);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->errors.empty()) << back->errors.front();
  EXPECT_TRUE(applier_->terminationList().empty());
  auto dests = ipvs_->listDestinations(netlink::IpvsService{.address = ip("10.99.0.101"), .port = 80});
  ASSERT_TRUE(dests.ok()) << dests.error().message;
  ASSERT_EQ(dests->size(), 1u);
  EXPECT_EQ(dests->front().weight, 1u);
  close(client);
  close(accepted);
  close(listener);
}

}  // namespace
}  // namespace kproxy::ipvs
