// The netlink wrappers against a real kernel with IPVS, dummy links and IP sets: run inside the VM
// of tests/kernel/vm-run (the host kernel has no IPVS). Each test moves into a fresh network
// namespace first, so nothing it creates outlives it and tests do not see each other's objects.
//
//   tests/kernel/vm-run --build-dir build -- ./build/tests/kproxy_kernel_tests
//
// Outside the VM (no IPVS family) the IPVS tests say SKIPPED, or fail under CI=true.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "netlink/errors.h"
#include "netlink/ipset_lib.h"
#include "netlink/ipvs_genl.h"
#include "netlink/link_route.h"
#include "tests/netns/netns.h"

namespace kproxy::netlink {
namespace {

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

IpvsService tcpService(const char* address, uint16_t port) {
  IpvsService s;
  s.address = ip(address);
  s.protocol = kIpvsProtoTcp;
  s.port = port;
  s.scheduler = "rr";
  s.netmask = s.address.family() == IpFamily::kIPv4 ? 0xFFFFFFFF : 128;
  return s;
}

IpvsDestination destination(const char* address, uint16_t port, uint32_t weight = 1) {
  IpvsDestination d;
  d.address = ip(address);
  d.port = port;
  d.weight = weight;
  return d;
}

class IpvsKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    auto client = GenlIpvsClient::open();
    if (!client.ok()) {
      std::string why = "SKIPPED: no IPVS in this kernel: " + client.error().message;
      std::fprintf(stderr, "%s\n", why.c_str());
      if (netns::ciMode()) FAIL() << why;
      GTEST_SKIP() << why;
    }
    ipvs_ = std::move(client).value();
    // The kernel accepts only destinations it can route (ip_vs_new_dest: RTN_LOCAL or
    // RTN_UNICAST), so the namespace gets a default route through a dummy link, as a node has.
    ASSERT_EQ(std::system("ip link set lo up && ip link add kt0 type dummy && ip link set kt0 up &&"
                          " ip route add default dev kt0 && ip -6 route add default dev kt0"),
              0);
  }

  // The one service with `key`'s key in a full dump, with its destinations.
  IpvsServiceWithDestinations find(const IpvsService& key) {
    auto all = ipvs_->listAll();
    EXPECT_TRUE(all.ok()) << (all.ok() ? "" : all.error().message);
    if (!all.ok()) return {};
    for (auto& entry : *all) {
      if (entry.service.sameKey(key)) return entry;
    }
    ADD_FAILURE() << "service " << key.toString() << " not in the dump";
    return {};
  }

  std::unique_ptr<GenlIpvsClient> ipvs_;
};

TEST_F(IpvsKernelTest, ServiceAddDumpEditDeleteRoundTrip) {
  ASSERT_TRUE(ipvs_->listServices().ok());
  EXPECT_TRUE(ipvs_->listServices()->empty()) << "a fresh namespace has no virtual servers";

  IpvsService svc = tcpService("10.96.0.10", 80);
  ASSERT_TRUE(ipvs_->addService(svc).ok());

  auto listed = ipvs_->listServices();
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  const IpvsService& got = listed->front();
  EXPECT_EQ(got.address, svc.address);
  EXPECT_EQ(got.port, 80);
  EXPECT_EQ(got.protocol, kIpvsProtoTcp);
  EXPECT_EQ(got.scheduler, "rr");
  EXPECT_EQ(got.timeout, 0u);
  EXPECT_EQ(got.flags & ~kIpvsFlagHashed, 0u) << "only the kernel's HASHED flag";
  EXPECT_EQ(got.netmask, 0xFFFFFFFFu);

  // Edit: scheduler, persistence (flag 0x1 plus timeout), sh flags.
  IpvsService edited = svc;
  edited.scheduler = "sh";
  edited.flags = 0x1 | 0x8 | 0x10;  // persistent, sh-fallback, sh-port
  edited.timeout = 10800;
  ASSERT_TRUE(ipvs_->updateService(edited).ok());
  auto one = ipvs_->getService(svc);
  ASSERT_TRUE(one.ok()) << one.error().message;
  EXPECT_EQ(one->scheduler, "sh");
  EXPECT_EQ(one->timeout, 10800u);
  EXPECT_EQ(one->flags & ~kIpvsFlagHashed, 0x1u | 0x8u | 0x10u);

  ASSERT_TRUE(ipvs_->deleteService(svc).ok());
  EXPECT_TRUE(ipvs_->listServices()->empty());
  auto gone = ipvs_->getService(svc);
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(isNotFound(gone.error())) << gone.error().message;
}

TEST_F(IpvsKernelTest, AddingADuplicateServiceIsEexist) {
  IpvsService svc = tcpService("10.96.0.11", 443);
  ASSERT_TRUE(ipvs_->addService(svc).ok());
  Status again = ipvs_->addService(svc);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EEXIST) << again.error().message;
  EXPECT_TRUE(isAlreadyExists(again.error()));
  EXPECT_TRUE(ignoreAlreadyExists(again).ok());
}

TEST_F(IpvsKernelTest, CommandsOnMissingObjectsAreNotFound) {
  IpvsService svc = tcpService("10.96.0.12", 80);
  Status del = ipvs_->deleteService(svc);
  ASSERT_FALSE(del.ok());
  EXPECT_EQ(del.error().code, ESRCH) << del.error().message;

  Status add_dest = ipvs_->addDestination(svc, destination("10.180.0.1", 8080));
  ASSERT_FALSE(add_dest.ok());
  EXPECT_EQ(add_dest.error().code, ESRCH) << add_dest.error().message;

  ASSERT_TRUE(ipvs_->addService(svc).ok());
  Status del_dest = ipvs_->deleteDestination(svc, destination("10.180.0.1", 8080));
  ASSERT_FALSE(del_dest.ok());
  EXPECT_EQ(del_dest.error().code, ENOENT) << del_dest.error().message;
  EXPECT_TRUE(isNotFound(del_dest.error()));

  IpvsService bad = tcpService("10.96.0.13", 80);
  bad.scheduler = "nosuchsched";  // the kernel takes names of up to 15 characters
  Status unknown = ipvs_->addService(bad);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ENOENT) << unknown.error().message;
}

TEST_F(IpvsKernelTest, DestinationsAddEditDeleteWithWeights) {
  IpvsService svc = tcpService("10.96.0.20", 80);
  ASSERT_TRUE(ipvs_->addService(svc).ok());
  ASSERT_TRUE(ipvs_->addDestination(svc, destination("10.180.0.1", 8080, 1)).ok());
  ASSERT_TRUE(ipvs_->addDestination(svc, destination("10.180.0.2", 8080, 3)).ok());

  Status dup = ipvs_->addDestination(svc, destination("10.180.0.1", 8080, 1));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, EEXIST) << dup.error().message;

  auto dests = ipvs_->listDestinations(svc);
  ASSERT_TRUE(dests.ok()) << dests.error().message;
  ASSERT_EQ(dests->size(), 2u);
  std::sort(dests->begin(), dests->end(),
            [](const IpvsDestination& a, const IpvsDestination& b) { return a.address < b.address; });
  EXPECT_EQ((*dests)[0].address, ip("10.180.0.1"));
  EXPECT_EQ((*dests)[0].port, 8080);
  EXPECT_EQ((*dests)[0].weight, 1u);
  EXPECT_EQ((*dests)[0].forward_method, kIpvsForwardMasquerade);
  EXPECT_EQ((*dests)[0].active_connections, 0u);
  EXPECT_EQ((*dests)[0].inactive_connections, 0u);
  EXPECT_EQ((*dests)[1].weight, 3u);

  // Graceful termination's first step: weight 0.
  ASSERT_TRUE(ipvs_->updateDestination(svc, destination("10.180.0.2", 8080, 0)).ok());
  auto after = find(svc);
  ASSERT_EQ(after.destinations.size(), 2u);
  for (const auto& d : after.destinations) {
    if (d.address == ip("10.180.0.2")) {
      EXPECT_EQ(d.weight, 0u);
    }
    if (d.address == ip("10.180.0.1")) {
      EXPECT_EQ(d.weight, 1u);
    }
  }

  ASSERT_TRUE(ipvs_->deleteDestination(svc, destination("10.180.0.2", 8080)).ok());
  dests = ipvs_->listDestinations(svc);
  ASSERT_TRUE(dests.ok());
  ASSERT_EQ(dests->size(), 1u);
  EXPECT_EQ(dests->front().address, ip("10.180.0.1"));

  // Deleting the service takes its destinations with it.
  ASSERT_TRUE(ipvs_->deleteService(svc).ok());
  auto missing = ipvs_->listDestinations(svc);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(isNotFound(missing.error())) << missing.error().message;
}

TEST_F(IpvsKernelTest, UdpSctpAndIpv6ServicesAreDistinctKeys) {
  IpvsService tcp = tcpService("10.96.0.30", 53);
  IpvsService udp = tcp;
  udp.protocol = kIpvsProtoUdp;
  IpvsService sctp = tcp;
  sctp.protocol = kIpvsProtoSctp;
  IpvsService v6 = tcpService("fd00:10:96::30", 53);
  v6.protocol = kIpvsProtoUdp;
  for (const auto* s : {&tcp, &udp, &sctp, &v6}) {
    Status st = ipvs_->addService(*s);
    ASSERT_TRUE(st.ok()) << s->toString() << ": " << st.error().message;
  }
  ASSERT_TRUE(ipvs_->addDestination(udp, destination("10.180.0.5", 5353)).ok());
  ASSERT_TRUE(ipvs_->addDestination(sctp, destination("10.180.0.6", 9999, 2)).ok());
  ASSERT_TRUE(ipvs_->addDestination(v6, destination("fd00:10:180::5", 5353, 4)).ok());

  auto all = ipvs_->listAll();
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 4u);
  auto got_udp = find(udp);
  EXPECT_EQ(got_udp.service.protocol, kIpvsProtoUdp);
  ASSERT_EQ(got_udp.destinations.size(), 1u);
  EXPECT_EQ(got_udp.destinations[0].address, ip("10.180.0.5"));
  EXPECT_EQ(got_udp.destinations[0].port, 5353);

  auto got_sctp = find(sctp);
  EXPECT_EQ(got_sctp.service.protocol, kIpvsProtoSctp);
  ASSERT_EQ(got_sctp.destinations.size(), 1u);
  EXPECT_EQ(got_sctp.destinations[0].weight, 2u);

  auto got_v6 = find(v6);
  EXPECT_EQ(got_v6.service.address, ip("fd00:10:96::30"));
  EXPECT_EQ(got_v6.service.address.family(), IpFamily::kIPv6);
  EXPECT_EQ(got_v6.service.netmask, 128u);
  ASSERT_EQ(got_v6.destinations.size(), 1u);
  EXPECT_EQ(got_v6.destinations[0].address, ip("fd00:10:180::5"));
  EXPECT_EQ(got_v6.destinations[0].weight, 4u);

  EXPECT_TRUE(find(tcp).destinations.empty());

  ASSERT_TRUE(ipvs_->deleteService(udp).ok());
  all = ipvs_->listAll();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u) << "only the UDP service is gone";

  ASSERT_TRUE(ipvs_->flush().ok());
  EXPECT_TRUE(ipvs_->listServices()->empty());
}

TEST_F(IpvsKernelTest, BatchReportsOneStatusPerOperationInOrder) {
  IpvsService svc = tcpService("10.96.1.1", 80);
  std::vector<IpvsOperation> ops;
  ops.push_back({.command = IpvsCommand::kNewService, .service = svc});
  // More operations than one window of nl_batch, to cross window boundaries.
  for (int i = 0; i < 300; ++i) {
    std::string addr = "10.181." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    ops.push_back({.command = IpvsCommand::kNewDest, .service = svc, .destination = destination(addr.c_str(), 80)});
  }
  ops.push_back({.command = IpvsCommand::kNewService, .service = svc});  // duplicate: EEXIST
  ops.push_back({.command = IpvsCommand::kDelDest, .service = svc, .destination = destination("10.1.1.1", 1)});
  auto statuses = ipvs_->execute(ops);
  ASSERT_EQ(statuses.size(), ops.size());
  for (size_t i = 0; i + 2 < ops.size(); ++i) {
    EXPECT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error().message;
  }
  ASSERT_FALSE(statuses[ops.size() - 2].ok());
  EXPECT_EQ(statuses[ops.size() - 2].error().code, EEXIST);
  ASSERT_FALSE(statuses[ops.size() - 1].ok());
  EXPECT_EQ(statuses[ops.size() - 1].error().code, ENOENT);

  auto dests = ipvs_->listDestinations(svc);
  ASSERT_TRUE(dests.ok());
  EXPECT_EQ(dests->size(), 300u);
}

TEST_F(IpvsKernelTest, ManyServicesDumpCompletely) {
  std::vector<IpvsOperation> ops;
  for (int i = 0; i < 600; ++i) {
    std::string addr = "10.97." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1);
    IpvsService svc = tcpService(addr.c_str(), 80);
    ops.push_back({.command = IpvsCommand::kNewService, .service = svc});
    ops.push_back({.command = IpvsCommand::kNewDest, .service = svc, .destination = destination("10.180.0.1", 80)});
  }
  for (const auto& st : ipvs_->execute(ops)) ASSERT_TRUE(st.ok()) << st.error().message;
  auto all = ipvs_->listAll();
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_EQ(all->size(), 600u);
  for (const auto& entry : *all) EXPECT_EQ(entry.destinations.size(), 1u) << entry.service.toString();
}

TEST_F(IpvsKernelTest, TimeoutsRoundTrip) {
  IpvsTimeouts want{.tcp = 900, .tcp_fin = 120, .udp = 300};
  ASSERT_TRUE(ipvs_->setTimeouts(want).ok());
  auto got = ipvs_->getTimeouts();
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, want);
}

// A TCP connection through a virtual server on the loopback of the namespace shows up in the
// destination's connection counters (what graceful termination reads).
TEST_F(IpvsKernelTest, ConnectionCountersFollowALiveConnection) {
  // As IPVS mode does: the virtual address is local (kube-ipvs0 in production) and IPVS keeps
  // conntrack entries (net.ipv4.vs.conntrack=1).
  ASSERT_EQ(std::system("ip link set lo up && ip addr add 10.99.0.1/32 dev lo && ip addr add 10.99.0.100/32 dev lo &&"
                        " echo 1 > /proc/sys/net/ipv4/vs/conntrack"),
            0);
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in backend{};
  backend.sin_family = AF_INET;
  backend.sin_port = htons(18080);
  backend.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&backend), sizeof(backend)), 0);
  ASSERT_EQ(listen(listener, 4), 0);

  IpvsService svc = tcpService("10.99.0.100", 80);
  ASSERT_TRUE(ipvs_->addService(svc).ok());
  ASSERT_TRUE(ipvs_->addDestination(svc, destination("10.99.0.1", 18080)).ok());

  // Locally originated traffic to a virtual server is handled by IPVS on LOCAL_OUT.
  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(client, 0);
  timeval five{.tv_sec = 5, .tv_usec = 0};  // connect() gives up after SO_SNDTIMEO
  setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &five, sizeof(five));
  sockaddr_in vip{};
  vip.sin_family = AF_INET;
  vip.sin_port = htons(80);
  vip.sin_addr.s_addr = htonl(0x0A630064);  // 10.99.0.100
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&vip), sizeof(vip)), 0) << std::strerror(errno);
  int accepted = accept(listener, nullptr, nullptr);
  ASSERT_GE(accepted, 0);

  auto dests = ipvs_->listDestinations(svc);
  ASSERT_TRUE(dests.ok());
  ASSERT_EQ(dests->size(), 1u);
  EXPECT_EQ(dests->front().active_connections, 1u) << "an established connection is active";

  close(client);
  close(accepted);
  close(listener);
  dests = ipvs_->listDestinations(svc);
  ASSERT_TRUE(dests.ok());
  EXPECT_EQ(dests->front().active_connections + dests->front().inactive_connections, 1u)
      << "a closing connection still counts until the entry expires";
}

// ---- kube-ipvs0 ------------------------------------------------------------------------------

class LinkKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    auto client = RouteLinkClient::open();
    ASSERT_TRUE(client.ok()) << client.error().message;
    links_ = std::move(client).value();
  }
  std::unique_ptr<RouteLinkClient> links_;
};

TEST_F(LinkKernelTest, DummyLinkCreateIsIdempotentAndStaysDown) {
  auto missing = links_->getLink("kube-ipvs0");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENODEV) << missing.error().message;

  auto created = links_->ensureDummyLink("kube-ipvs0");
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(created->name, "kube-ipvs0");
  EXPECT_EQ(created->kind, "dummy");
  EXPECT_GT(created->index, 0);
  EXPECT_FALSE(created->up);

  auto again = links_->ensureDummyLink("kube-ipvs0");
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->index, created->index);

  auto lo = links_->getLink("lo");
  ASSERT_TRUE(lo.ok());
  EXPECT_NE(lo->kind, "dummy");
  auto not_dummy = links_->ensureDummyLink("lo");
  ASSERT_FALSE(not_dummy.ok());
  EXPECT_EQ(not_dummy.error().code, EEXIST);
  EXPECT_FALSE(links_->deleteDummyLink("lo").ok()) << "lo is not a dummy link and stays";

  ASSERT_TRUE(links_->deleteDummyLink("kube-ipvs0").ok());
  EXPECT_FALSE(links_->getLink("kube-ipvs0").ok());
  EXPECT_TRUE(links_->deleteDummyLink("kube-ipvs0").ok()) << "a missing link is success";
}

TEST_F(LinkKernelTest, AddressesAddListRemove) {
  ASSERT_TRUE(links_->ensureDummyLink("kube-ipvs0").ok());
  std::vector<IpAddress> v4 = {ip("10.96.0.10"), ip("10.96.0.11"), ip("203.0.113.7")};
  for (const auto& st : links_->addAddresses("kube-ipvs0", v4)) ASSERT_TRUE(st.ok()) << st.error().message;
  // Adding again is success.
  for (const auto& st : links_->addAddresses("kube-ipvs0", v4)) EXPECT_TRUE(st.ok()) << st.error().message;
  ASSERT_TRUE(links_->addAddress("kube-ipvs0", ip("fd00:10:96::10")).ok());

  auto listed = links_->listAddresses("kube-ipvs0", IpFamily::kIPv4);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  std::sort(listed->begin(), listed->end());
  EXPECT_EQ(*listed, (std::vector<IpAddress>{ip("10.96.0.10"), ip("10.96.0.11"), ip("203.0.113.7")}));
  auto listed6 = links_->listAddresses("kube-ipvs0", IpFamily::kIPv6);
  ASSERT_TRUE(listed6.ok()) << listed6.error().message;
  EXPECT_NE(std::find(listed6->begin(), listed6->end(), ip("fd00:10:96::10")), listed6->end());

  // The kernel agrees: /32 on kube-ipvs0.
  FILE* p = popen("ip -4 -o addr show dev kube-ipvs0", "r");
  ASSERT_NE(p, nullptr);
  std::string shown;
  char buf[512];
  while (fgets(buf, sizeof(buf), p) != nullptr) shown += buf;
  pclose(p);
  EXPECT_NE(shown.find("inet 10.96.0.10/32"), std::string::npos) << shown;
  EXPECT_NE(shown.find("inet 203.0.113.7/32"), std::string::npos) << shown;

  auto all = links_->listAllAddresses(IpFamily::kIPv4);
  ASSERT_TRUE(all.ok());
  int on_ipvs0 = 0;
  for (const auto& a : *all) {
    if (a.link == "kube-ipvs0") {
      ++on_ipvs0;
      EXPECT_EQ(a.address.prefix_length, 32);
    }
  }
  EXPECT_EQ(on_ipvs0, 3);

  for (const auto& st : links_->deleteAddresses("kube-ipvs0", {ip("10.96.0.11"), ip("10.1.2.3")}))
    EXPECT_TRUE(st.ok()) << st.error().message << " (removing an absent address is success)";
  ASSERT_TRUE(links_->deleteAddress("kube-ipvs0", ip("fd00:10:96::10")).ok());
  listed = links_->listAddresses("kube-ipvs0", IpFamily::kIPv4);
  ASSERT_TRUE(listed.ok());
  std::sort(listed->begin(), listed->end());
  EXPECT_EQ(*listed, (std::vector<IpAddress>{ip("10.96.0.10"), ip("203.0.113.7")}));
  listed6 = links_->listAddresses("kube-ipvs0", IpFamily::kIPv6);
  ASSERT_TRUE(listed6.ok());
  EXPECT_EQ(std::find(listed6->begin(), listed6->end(), ip("fd00:10:96::10")), listed6->end());

  auto no_link = links_->listAddresses("kube-ipvs1", IpFamily::kIPv4);
  ASSERT_FALSE(no_link.ok());
  EXPECT_EQ(no_link.error().code, ENODEV);
}

// ---- IP sets -----------------------------------------------------------------------------------

class IpSetKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    auto client = LibIpSetClient::open();
    ASSERT_TRUE(client.ok()) << client.error().message;
    sets_ = std::move(client).value();
  }
  std::unique_ptr<LibIpSetClient> sets_;
};

IpSetSpec hashSpec(const char* name, const char* type, IpFamily family = IpFamily::kIPv4) {
  IpSetSpec s;
  s.name = name;
  s.type = type;
  s.family = family;
  return s;
}

TEST_F(IpSetKernelTest, CreateListDestroy) {
  IpSetSpec spec = hashSpec("KUBE-CLUSTER-IP", "hash:ip,port");
  ASSERT_TRUE(sets_->create(spec).ok());
  EXPECT_TRUE(sets_->create(spec).ok()) << "create of an identical set is success (-exist)";
  IpSetSpec other = spec;
  other.type = "hash:ip";
  Status clash = sets_->create(other);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, EEXIST) << clash.error().message;

  IpSetSpec bitmap;
  bitmap.name = "KUBE-NODE-PORT-TCP";
  bitmap.type = "bitmap:port";
  ASSERT_TRUE(sets_->create(bitmap).ok());
  IpSetSpec v6 = hashSpec("KUBE-6-CLUSTER-IP", "hash:ip,port", IpFamily::kIPv6);
  ASSERT_TRUE(sets_->create(v6).ok());

  auto names = sets_->listNames();
  ASSERT_TRUE(names.ok()) << names.error().message;
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names, (std::vector<std::string>{"KUBE-6-CLUSTER-IP", "KUBE-CLUSTER-IP", "KUBE-NODE-PORT-TCP"}));

  auto content = sets_->list("KUBE-CLUSTER-IP");
  ASSERT_TRUE(content.ok()) << content.error().message;
  EXPECT_EQ(content->spec, spec);
  EXPECT_TRUE(content->members.empty());
  auto bm = sets_->list("KUBE-NODE-PORT-TCP");
  ASSERT_TRUE(bm.ok()) << bm.error().message;
  EXPECT_EQ(bm->spec.createLine(), "create KUBE-NODE-PORT-TCP bitmap:port range 0-65535");
  auto six = sets_->list("KUBE-6-CLUSTER-IP");
  ASSERT_TRUE(six.ok());
  EXPECT_EQ(six->spec.family, IpFamily::kIPv6);

  ASSERT_TRUE(sets_->destroy("KUBE-6-CLUSTER-IP").ok());
  auto missing = sets_->list("KUBE-6-CLUSTER-IP");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT) << missing.error().message;
  Status again = sets_->destroy("KUBE-6-CLUSTER-IP");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ENOENT) << again.error().message;
}

TEST_F(IpSetKernelTest, MembersAddTestDelete) {
  ASSERT_TRUE(sets_->create(hashSpec("KUBE-LOOP-BACK", "hash:ip,port,ip")).ok());
  ASSERT_TRUE(sets_->create(hashSpec("KUBE-LB-SRC", "hash:ip,port,net")).ok());
  IpSetSpec ports;
  ports.name = "KUBE-NODE-PORT-UDP";
  ports.type = "bitmap:port";
  ASSERT_TRUE(sets_->create(ports).ok());

  std::vector<std::string> loop = {"10.244.1.5,tcp:8080,10.244.1.5", "10.244.1.6,udp:53,10.244.1.6",
                                   "10.244.1.7,sctp:9999,10.244.1.7"};
  for (const auto& st : sets_->addMembers("KUBE-LOOP-BACK", loop)) ASSERT_TRUE(st.ok()) << st.error().message;
  for (const auto& st : sets_->addMembers("KUBE-LOOP-BACK", loop)) EXPECT_TRUE(st.ok()) << "-exist";
  ASSERT_TRUE(sets_->add("KUBE-LB-SRC", "1.2.3.4,tcp:80,10.0.0.0/8").ok());
  ASSERT_TRUE(sets_->add("KUBE-NODE-PORT-UDP", "30053").ok());

  auto yes = sets_->test("KUBE-LOOP-BACK", "10.244.1.5,tcp:8080,10.244.1.5");
  ASSERT_TRUE(yes.ok()) << yes.error().message;
  EXPECT_TRUE(*yes);
  auto no = sets_->test("KUBE-LOOP-BACK", "10.244.1.5,tcp:8081,10.244.1.5");
  ASSERT_TRUE(no.ok()) << no.error().message;
  EXPECT_FALSE(*no);
  auto net = sets_->test("KUBE-LB-SRC", "1.2.3.4,tcp:80,10.20.30.40");
  ASSERT_TRUE(net.ok()) << net.error().message;
  EXPECT_TRUE(*net) << "a member inside the net matches";
  auto no_set = sets_->test("KUBE-NOPE", "1.2.3.4");
  ASSERT_FALSE(no_set.ok());
  EXPECT_EQ(no_set.error().code, ENOENT);

  auto content = sets_->list("KUBE-LOOP-BACK");
  ASSERT_TRUE(content.ok());
  std::vector<std::string> members = content->members;
  std::sort(members.begin(), members.end());
  EXPECT_EQ(members, loop);
  auto ports_content = sets_->list("KUBE-NODE-PORT-UDP");
  ASSERT_TRUE(ports_content.ok());
  EXPECT_EQ(ports_content->members, std::vector<std::string>{"30053"});
  auto lb = sets_->list("KUBE-LB-SRC");
  ASSERT_TRUE(lb.ok());
  EXPECT_EQ(lb->members, std::vector<std::string>{"1.2.3.4,tcp:80,10.0.0.0/8"});

  for (const auto& st : sets_->deleteMembers("KUBE-LOOP-BACK", {loop[1], "10.9.9.9,tcp:1,10.9.9.9"}))
    EXPECT_TRUE(st.ok()) << st.error().message << " (absent member is success)";
  content = sets_->list("KUBE-LOOP-BACK");
  ASSERT_TRUE(content.ok());
  members = content->members;
  std::sort(members.begin(), members.end());
  EXPECT_EQ(members, (std::vector<std::string>{loop[0], loop[2]}));

  // An invalid member fails alone; the others of the batch go in.
  auto statuses = sets_->addMembers("KUBE-LOOP-BACK", {"10.244.2.1,tcp:80,10.244.2.1", "not-an-ip", "10.244.2.2,tcp:80,10.244.2.2"});
  ASSERT_EQ(statuses.size(), 3u);
  EXPECT_TRUE(statuses[0].ok());
  EXPECT_FALSE(statuses[1].ok());
  EXPECT_TRUE(statuses[2].ok()) << statuses[2].error().message;
  auto t = sets_->test("KUBE-LOOP-BACK", "10.244.2.2,tcp:80,10.244.2.2");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(*t);

  ASSERT_TRUE(sets_->flush("KUBE-LOOP-BACK").ok());
  content = sets_->list("KUBE-LOOP-BACK");
  ASSERT_TRUE(content.ok());
  EXPECT_TRUE(content->members.empty());
}

TEST_F(IpSetKernelTest, ManyMembersInOneCall) {
  ASSERT_TRUE(sets_->create(hashSpec("KUBE-CLUSTER-IP", "hash:ip,port")).ok());
  std::vector<std::string> members;
  for (int i = 0; i < 5000; ++i) members.push_back("10.96." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ",tcp:80");
  for (const auto& st : sets_->addMembers("KUBE-CLUSTER-IP", members)) ASSERT_TRUE(st.ok()) << st.error().message;
  auto content = sets_->list("KUBE-CLUSTER-IP");
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(content->members.size(), 5000u);
}

TEST_F(IpSetKernelTest, SwapExchangesContents) {
  ASSERT_TRUE(sets_->create(hashSpec("A-SET", "hash:ip")).ok());
  ASSERT_TRUE(sets_->create(hashSpec("B-SET", "hash:ip")).ok());
  ASSERT_TRUE(sets_->add("A-SET", "10.0.0.1").ok());
  ASSERT_TRUE(sets_->add("B-SET", "10.0.0.2").ok());
  ASSERT_TRUE(sets_->swap("A-SET", "B-SET").ok());
  EXPECT_EQ(sets_->list("A-SET")->members, std::vector<std::string>{"10.0.0.2"});
  EXPECT_EQ(sets_->list("B-SET")->members, std::vector<std::string>{"10.0.0.1"});

  ASSERT_TRUE(sets_->create(hashSpec("C-SET", "hash:ip,port")).ok());
  Status mismatch = sets_->swap("A-SET", "C-SET");
  EXPECT_FALSE(mismatch.ok()) << "sets of different types do not swap";
  Status missing = sets_->swap("A-SET", "NO-SET");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT) << missing.error().message;
}

TEST_F(IpSetKernelTest, SetReferencedByARuleIsBusy) {
  ASSERT_TRUE(sets_->create(hashSpec("KUBE-CLUSTER-IP", "hash:ip,port")).ok());
  if (std::system("iptables -t nat -A OUTPUT -m set --match-set KUBE-CLUSTER-IP dst,dst -j ACCEPT 2>/dev/null") != 0) {
    GTEST_SKIP() << "SKIPPED: iptables with the set match is not available here";
  }
  Status busy = sets_->destroy("KUBE-CLUSTER-IP");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, EBUSY) << busy.error().message;
  ASSERT_EQ(std::system("iptables -t nat -F OUTPUT"), 0);
  EXPECT_TRUE(sets_->destroy("KUBE-CLUSTER-IP").ok());
}

}  // namespace
}  // namespace kproxy::netlink
