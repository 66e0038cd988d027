// Real packets through a running `kproxy run`, part 1: reaching services (issue 4 item 6).
//   * ClusterIP from the node itself and from a client pod, TCP and UDP.
//   * NodePort on the node IP from an external client, TCP and UDP.
//   * Spread: over 300 TCP connections each of 3 endpoints gets at least 15 %.
//   * sessionAffinity ClientIP pins one client to one endpoint.
//   * A service without endpoints is rejected at once (ECONNREFUSED, not a timeout).
// The topology is described in packet_topology.h.
#include <gtest/gtest.h>

#include <cerrno>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tests/netns/packet_topology.h"

namespace kproxy::netns {
namespace {

using std::chrono::milliseconds;

class PacketServiceTest : public PacketTest {};

ServiceSpec webService(std::vector<EndpointRef> endpoints) {
  return {.name = "web",
          .type = "NodePort",
          .cluster_ip = "10.96.0.10",
          .ports = {{.name = "http", .protocol = "TCP", .port = 80, .node_port = 30080},
                    {.name = "dns", .protocol = "UDP", .port = 53, .node_port = 30053}},
          .endpoints = std::move(endpoints)};
}

TEST_P(PacketServiceTest, ClusterIpFromNodeAndFromClientPod) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kPodB, kClientPod}));
  ASSERT_NO_FATAL_FAILURE(startKproxy({webService({{.ip = kPodA.ip}, {.ip = kPodB.ip}})}));

  struct Case {
    std::string name;
    std::string from;
    std::string protocol;
    uint16_t port;
  };
  const std::vector<Case> cases = {
      {.name = "node to ClusterIP, TCP", .from = topo().nodeNs(), .protocol = "TCP", .port = 80},
      {.name = "node to ClusterIP, UDP", .from = topo().nodeNs(), .protocol = "UDP", .port = 53},
      {.name = "client pod to ClusterIP, TCP", .from = topo().podNs("client"), .protocol = "TCP", .port = 80},
      {.name = "client pod to ClusterIP, UDP", .from = topo().podNs("client"), .protocol = "UDP", .port = 53},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    const Reply reply = tc.protocol == "TCP" ? topo().tcpRequest(tc.from, "10.96.0.10", tc.port)
                                             : topo().udpRequest(tc.from, "10.96.0.10", tc.port);
    ASSERT_TRUE(reply.ok()) << reply.describe();
    EXPECT_TRUE(reply.backend == "a" || reply.backend == "b") << reply.describe();
  }
}

TEST_P(PacketServiceTest, NodePortFromExternalClient) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA}));
  ASSERT_NO_FATAL_FAILURE(startKproxy({webService({{.ip = kPodA.ip}})}));

  const Reply tcp = topo().tcpRequest(topo().externalNs(), kNodeIp, 30080);
  ASSERT_TRUE(tcp.ok()) << "TCP to " << kNodeIp << ":30080 " << tcp.describe();
  EXPECT_EQ(tcp.backend, "a");
  const Reply udp = topo().udpRequest(topo().externalNs(), kNodeIp, 30053);
  ASSERT_TRUE(udp.ok()) << "UDP to " << kNodeIp << ":30053 " << udp.describe();
  EXPECT_EQ(udp.backend, "a");
}

TEST_P(PacketServiceTest, SpreadsConnectionsOverAllEndpoints) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kPodB, kPodC, kClientPod}));
  ASSERT_NO_FATAL_FAILURE(startKproxy({webService({{.ip = kPodA.ip}, {.ip = kPodB.ip}, {.ip = kPodC.ip}})}));

  constexpr int kConnections = 300;
  std::map<std::string, int> hits;
  for (int i = 0; i < kConnections; ++i) {
    const Reply reply = topo().tcpRequest(topo().podNs("client"), "10.96.0.10", 80);
    ASSERT_TRUE(reply.ok()) << "connection " << i << ": " << reply.describe();
    ++hits[reply.backend];
  }
  std::string summary;
  for (const auto& [backend, n] : hits) summary += backend + "=" + std::to_string(n) + " ";
  for (const char* backend : {"a", "b", "c"}) {
    // Each gets 1/3 on average (100, standard deviation about 8); 15 % is far below any fluke.
    EXPECT_GE(hits[backend], kConnections * 15 / 100) << "backend " << backend << " got too few: " << summary;
  }
  EXPECT_EQ(hits.size(), 3u) << summary;
}

TEST_P(PacketServiceTest, SessionAffinityClientIpPinsOneClient) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kPodB, kPodC, kClientPod}));
  ServiceSpec sticky = webService({{.ip = kPodA.ip}, {.ip = kPodB.ip}, {.ip = kPodC.ip}});
  sticky.client_ip_affinity = true;
  ASSERT_NO_FATAL_FAILURE(startKproxy({sticky}));

  // Without affinity, 40 connections landing on one of 3 endpoints has probability 3^-39.
  std::set<std::string> backends;
  for (int i = 0; i < 40; ++i) {
    const Reply reply = topo().tcpRequest(topo().podNs("client"), "10.96.0.10", 80);
    ASSERT_TRUE(reply.ok()) << "connection " << i << ": " << reply.describe();
    backends.insert(reply.backend);
  }
  EXPECT_EQ(backends.size(), 1u) << "one client was served by " << ::testing::PrintToString(backends);
  // The same holds for an external client on the node port (its own, possibly different, pin).
  std::set<std::string> external;
  for (int i = 0; i < 20; ++i) {
    const Reply reply = topo().tcpRequest(topo().externalNs(), kNodeIp, 30080);
    ASSERT_TRUE(reply.ok()) << "external connection " << i << ": " << reply.describe();
    external.insert(reply.backend);
  }
  EXPECT_EQ(external.size(), 1u) << "the external client was served by " << ::testing::PrintToString(external);
}

TEST_P(PacketServiceTest, ServiceWithoutEndpointsIsRejectedAtOnce) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kClientPod}));
  ASSERT_NO_FATAL_FAILURE(startKproxy({webService({})}));

  struct Case {
    std::string name;
    std::string from;
    std::string ip;
    uint16_t port;
  };
  const std::vector<Case> cases = {
      {.name = "client pod to ClusterIP", .from = topo().podNs("client"), .ip = "10.96.0.10", .port = 80},
      {.name = "node to ClusterIP", .from = topo().nodeNs(), .ip = "10.96.0.10", .port = 80},
      {.name = "external client to NodePort", .from = topo().externalNs(), .ip = kNodeIp, .port = 30080},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    // A drop would run into the 5 s timeout (ETIMEDOUT); REJECT answers the first SYN.
    const Reply reply = topo().tcpRequest(tc.from, tc.ip, tc.port, {.timeout = milliseconds(5000)});
    EXPECT_EQ(reply.error, ECONNREFUSED) << reply.describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, PacketServiceTest,
                         ::testing::Values(IptablesBackendChoice::kNft, IptablesBackendChoice::kLegacy), backendParamName);

}  // namespace
}  // namespace kproxy::netns
