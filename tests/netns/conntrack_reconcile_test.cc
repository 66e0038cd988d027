// The conntrack reconciler against real netfilter, with real UDP packets, in a fresh network
// namespace: a "service" is a DNAT rule (nat OUTPUT -> KUBE-SERVICES) from a VIP to one endpoint, the endpoints are
// UDP sockets on loopback addresses, and the flows are made by sending datagrams from a fixed
// client address and port (so every datagram of a test is the same 5-tuple).
//   * Endpoint change: a live flow to endpoint A keeps going to A after the rule points at B
//     (control), until the reconciler deletes the stale entry; the next datagram reaches B.
//   * Black hole: a flow sent while the service had no rule at all is never DNATed, even after the
//     rule appears (control); the reconciler leaves it alone while the service has no endpoints and
//     deletes it once it has one; the next datagram reaches the endpoint.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "netlink/conntrack_nfct.h"
#include "src/proxy/conntrack_reconciler.h"
#include "src/tracker/snapshot.h"
#include "src/util/subprocess.h"
#include "src/util/unique_handle.h"
#include "tests/netns/netns.h"
#include "tests/unit/tracker/builders.h"

namespace kproxy::netns {
namespace {

struct Addressing {
  const char* name;
  IpFamily family;
  const char* client;    // the client's address (bound, fixed port)
  const char* a;         // endpoint A
  const char* b;         // endpoint B
  const char* vip;       // the service's cluster IP
  const char* vip_net;   // routed out of a veth, so that datagrams to the VIP leave the client at all
  const char* host_len;  // "/32" or "/128"
  const char* iptables;  // iptables or ip6tables
};

constexpr Addressing kV4{"IPv4", IpFamily::kIPv4, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.96.0.10", "10.96.0.0/16",
                         "/32", "iptables"};
constexpr Addressing kV6{"IPv6", IpFamily::kIPv6, "fd00::1", "fd00::2", "fd00::3", "fd00:96::10", "fd00:96::/64",
                         "/128", "ip6tables"};

void PrintTo(const Addressing& addressing, std::ostream* os) { *os << addressing.name; }

constexpr uint16_t kServicePort = 53;
constexpr uint16_t kEndpointPort = 5353;

IpAddress ipOf(const char* text) { return IpAddress::parse(text).value(); }

std::string hostPort(const char* ip, uint16_t port) {
  return std::string(std::strchr(ip, ':') != nullptr ? "[" : "") + ip + (std::strchr(ip, ':') != nullptr ? "]" : "") +
         ":" + std::to_string(port);
}

// Runs a command inside the namespace; the Error carries its stderr.
Status run(const std::vector<std::string>& argv) {
  auto result = runProcess(argv);
  if (!result.ok()) return result.error();
  if (!result->succeeded()) return Error(commandLine(argv) + ": exit " + std::to_string(result->exit_code) + ": " + result->err);
  return okStatus();
}

sockaddr_storage socketAddress(const char* ip, uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (std::strchr(ip, ':') != nullptr) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    inet_pton(AF_INET6, ip, &sin6->sin6_addr);
    *len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    inet_pton(AF_INET, ip, &sin->sin_addr);
    *len = sizeof(sockaddr_in);
  }
  return ss;
}

Result<UniqueFd> boundUdpSocket(const char* ip, uint16_t port) {
  socklen_t len = 0;
  sockaddr_storage addr = socketAddress(ip, port, &len);
  UniqueFd fd(socket(addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error(std::string("socket: ") + std::strerror(errno));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    return Error("bind " + hostPort(ip, port) + ": " + std::strerror(errno));
  }
  return fd;
}

class ConntrackReconcileTest : public ::testing::TestWithParam<Addressing> {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    const Addressing& net = GetParam();
    const std::string ip_cmd = net.family == IpFamily::kIPv6 ? "-6" : "-4";
    ASSERT_TRUE(run({"ip", "link", "set", "lo", "up"}).ok());
    for (const char* address : {net.client, net.a, net.b}) {
      std::vector<std::string> argv = {"ip", ip_cmd, "addr", "add", std::string(address) + net.host_len, "dev", "lo"};
      if (net.family == IpFamily::kIPv6) argv.push_back("nodad");
      Status added = run(argv);
      ASSERT_TRUE(added.ok()) << added.error().message;
    }
    // The VIP is routed out of a veth pair (both ends here), so that a datagram to it leaves the
    // client and passes POSTROUTING even when no rule translates it; nothing answers on the other
    // end (IPv6 discards datagrams routed to a non-local address over lo before POSTROUTING).
    for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
             {"ip", "link", "add", "kp0", "type", "veth", "peer", "name", "kp1"},
             {"ip", "link", "set", "kp0", "up"},
             {"ip", "link", "set", "kp1", "up"},
             {"ip", ip_cmd, "route", "add", net.vip_net, "dev", "kp0"}}) {
      Status done = run(argv);
      ASSERT_TRUE(done.ok()) << done.error().message;
    }
    // As on a node: nat OUTPUT jumps to an (as yet empty) KUBE-SERVICES, and POSTROUTING
    // masquerades marked packets (kube-proxy's KUBE-POSTROUTING). A NAT target is what turns
    // conntrack on in a namespace (xt_nat/nft_masq take nf_ct_netns_get); without one no entry
    // would exist for traffic to a service that has no rule yet.
    for (const std::vector<std::string>& argv : std::vector<std::vector<std::string>>{
             {net.iptables, "-w", "-t", "nat", "-N", "KUBE-SERVICES"},
             {net.iptables, "-w", "-t", "nat", "-A", "OUTPUT", "-j", "KUBE-SERVICES"},
             {net.iptables, "-w", "-t", "nat", "-A", "POSTROUTING", "-m", "mark", "--mark", "0x4000/0x4000", "-j",
              "MASQUERADE"}}) {
      Status done = run(argv);
      ASSERT_TRUE(done.ok()) << done.error().message;
    }

    auto a = boundUdpSocket(net.a, kEndpointPort);
    auto b = boundUdpSocket(net.b, kEndpointPort);
    auto client = boundUdpSocket(net.client, 40000);
    ASSERT_TRUE(a.ok() && b.ok() && client.ok());
    endpoint_a_ = std::move(*a);
    endpoint_b_ = std::move(*b);
    client_ = std::move(*client);

    auto opened = netlink::NfctConntrackClient::open();
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    conntrack_ = std::move(*opened);

    tracker_.emplace(tracker::ProxyStateTracker::Options{.family = net.family, .node_name = "node-a"});
    api::Service service = testing::makeService("ns", "dns", net.vip, {{.name = "dns", .protocol = api::Protocol::kUDP,
                                                                        .port = kServicePort}});
    (void)tracker_->onServiceAdd(service);
  }

  const Addressing& net() const { return GetParam(); }

  // The service's endpoints become `ips` (all ready), as an EndpointSlice update would say.
  tracker::ProxySnapshotPtr endpointsBecome(const std::vector<const char*>& ips) {
    std::vector<testing::EndpointSpec> endpoints;
    for (const char* ip : ips) endpoints.push_back({.ip = ip, .ready = true});
    (void)tracker_->onEndpointSliceUpdate(testing::makeSlice(
        "ns", "dns", "dns-1", endpoints, {{.name = "dns", .protocol = api::Protocol::kUDP, .port = kEndpointPort}},
        net().family == IpFamily::kIPv6 ? "IPv6" : "IPv4"));
    return tracker_->checkout().first;
  }

  // The service's DNAT rule, alone in nat KUBE-SERVICES, now sends to `endpoint`.
  Status pointServiceAt(const char* endpoint) {
    if (Status flushed = run({net().iptables, "-w", "-t", "nat", "-F", "KUBE-SERVICES"}); !flushed.ok()) return flushed;
    return run({net().iptables, "-w", "-t", "nat", "-A", "KUBE-SERVICES", "-p", "udp", "-d", net().vip, "--dport",
                std::to_string(kServicePort), "-j", "DNAT", "--to-destination", hostPort(endpoint, kEndpointPort)});
  }

  // Sends one datagram from the client's fixed address:port to the VIP and says which endpoint got
  // it: "A", "B", or "" when none did within `wait_ms`.
  std::string sendToService(const std::string& payload, int wait_ms = 2000) {
    socklen_t len = 0;
    sockaddr_storage vip = socketAddress(net().vip, kServicePort, &len);
    if (sendto(client_.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&vip), len) < 0) {
      ADD_FAILURE() << "sendto " << hostPort(net().vip, kServicePort) << ": " << std::strerror(errno);
      return "";
    }
    pollfd fds[2] = {{endpoint_a_.get(), POLLIN, 0}, {endpoint_b_.get(), POLLIN, 0}};
    if (poll(fds, 2, wait_ms) <= 0) return "";
    std::string got;
    for (int i = 0; i < 2; ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      char buf[256];
      ssize_t n = recv(fds[i].fd, buf, sizeof buf, 0);
      EXPECT_EQ(std::string(buf, n > 0 ? n : 0), payload);
      got += i == 0 ? "A" : "B";
    }
    return got;
  }

  // The UDP entries of the family whose original destination is the VIP, as "reply-src:port".
  std::vector<std::string> serviceFlows() {
    auto flows = conntrack_->dumpUdp(net().family);
    EXPECT_TRUE(flows.ok()) << flows.error().message;
    std::vector<std::string> out;
    if (!flows.ok()) return out;
    for (const auto& flow : *flows) {
      if (flow.orig_dst == ipOf(net().vip) && flow.orig_dport == kServicePort) {
        out.push_back(hostPort(flow.reply_src.toString().c_str(), flow.reply_sport));
      }
    }
    return out;
  }

  proxy::ConntrackReconcileResult reconcile(const tracker::ProxySnapshot& snapshot) {
    proxy::ConntrackReconciler reconciler(*conntrack_);
    proxy::ConntrackReconcileResult result = reconciler.reconcile(snapshot);
    EXPECT_FALSE(result.error.has_value()) << result.error->message;
    EXPECT_EQ(result.family, net().family);
    return result;
  }

  UniqueFd endpoint_a_, endpoint_b_, client_;
  std::unique_ptr<netlink::NfctConntrackClient> conntrack_;
  std::optional<tracker::ProxyStateTracker> tracker_;
};

TEST_P(ConntrackReconcileTest, StaleFlowToARemovedEndpointIsDeletedAndTheFlowMovesToTheNewOne) {
  const std::string a = hostPort(net().a, kEndpointPort);
  const std::string b = hostPort(net().b, kEndpointPort);

  ASSERT_TRUE(pointServiceAt(net().a).ok());
  auto with_a = endpointsBecome({net().a});
  EXPECT_EQ(reconcile(*with_a).deleted, 0u);
  ASSERT_EQ(sendToService("1"), "A");
  // Unrelated UDP traffic straight to the endpoint: not a service frontend, must survive.
  auto direct = boundUdpSocket(net().client, 40100);
  ASSERT_TRUE(direct.ok());
  socklen_t len = 0;
  sockaddr_storage to_a = socketAddress(net().a, kEndpointPort, &len);
  ASSERT_GT(sendto(direct->get(), "x", 1, 0, reinterpret_cast<sockaddr*>(&to_a), len), 0);
  char buf[8];
  ASSERT_EQ(recv(endpoint_a_.get(), buf, sizeof buf, 0), 1);
  ASSERT_EQ(serviceFlows(), std::vector<std::string>{a}) << "the dump shows the DNATed reply source";

  // A is removed, B added: the rule now says B, but the live flow's entry still says A.
  ASSERT_TRUE(pointServiceAt(net().b).ok());
  auto with_b = endpointsBecome({net().b});
  EXPECT_EQ(sendToService("2"), "A") << "control: without the reconciler the flow stays on the old endpoint";

  proxy::ConntrackReconcileResult result = reconcile(*with_b);
  EXPECT_EQ(result.stale, 1u);
  EXPECT_EQ(result.deleted, 1u);
  EXPECT_GE(result.dumped, 2u);
  EXPECT_EQ(serviceFlows(), std::vector<std::string>{});
  auto all = conntrack_->dumpUdp(net().family);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u) << "the direct flow to the endpoint is left alone";

  EXPECT_EQ(sendToService("3"), "B");
  EXPECT_EQ(serviceFlows(), std::vector<std::string>{b});
  EXPECT_EQ(reconcile(*with_b).deleted, 0u) << "converged: nothing more is stale";
}

TEST_P(ConntrackReconcileTest, BlackHoleFlowIsDeletedOnceTheServiceHasAnEndpoint) {
  const std::string vip = hostPort(net().vip, kServicePort);
  const std::string b = hostPort(net().b, kEndpointPort);

  // No rule and no endpoints yet: the datagram goes nowhere, but conntrack remembers it untranslated.
  auto empty = endpointsBecome({});
  EXPECT_EQ(sendToService("1", 300), "");
  ASSERT_EQ(serviceFlows(), std::vector<std::string>{vip});
  proxy::ConntrackReconcileResult result = reconcile(*empty);
  EXPECT_EQ(result.deleted, 0u) << "a service without endpoints is left alone";
  ASSERT_EQ(serviceFlows(), std::vector<std::string>{vip});

  // The service gets endpoint B and its rule; the old entry keeps the flow in the black hole.
  ASSERT_TRUE(pointServiceAt(net().b).ok());
  auto with_b = endpointsBecome({net().b});
  EXPECT_EQ(sendToService("2", 300), "") << "control: the untranslated entry still applies";

  result = reconcile(*with_b);
  EXPECT_EQ(result.deleted, 1u);
  EXPECT_EQ(serviceFlows(), std::vector<std::string>{});
  EXPECT_EQ(sendToService("3"), "B");
  EXPECT_EQ(serviceFlows(), std::vector<std::string>{b});
}

INSTANTIATE_TEST_SUITE_P(Families, ConntrackReconcileTest, ::testing::Values(kV4, kV6),
                         [](const ::testing::TestParamInfo<Addressing>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace kproxy::netns
