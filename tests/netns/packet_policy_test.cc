// Real packets through a running `kproxy run`, part 2: who may reach a service and which source
// IP the backend sees (issue 4 item 6; spec iptables-mode.md §5).
//   * externalTrafficPolicy Local: only this node's endpoints serve node-port traffic from an
//     external client, and they see the client's own address; with Cluster the source is
//     masqueraded and endpoints of other nodes serve too.
//   * loadBalancerSourceRanges admit one external client and drop another (the LB IP is routed to
//     the node); node ports ignore the ranges.
//   * Masquerade exactly where upstream masquerades: pod to ClusterIP (clusterCIDR covers pods: no),
//     node to ClusterIP (yes), external to NodePort with eTP Cluster (yes), hairpin (yes).
// "Endpoints of other nodes" are pods of this topology that the EndpointSlice places on node-2:
// they are reachable, so only kproxy's rules decide whether they serve.
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

class PacketPolicyTest : public PacketTest {};

TEST_P(PacketPolicyTest, ExternalTrafficPolicyLocalServesLocalEndpointsAndKeepsClientIp) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kPodB, kPodC}));
  const std::vector<EndpointRef> endpoints = {
      {.ip = kPodA.ip}, {.ip = kPodB.ip, .node = "node-2"}, {.ip = kPodC.ip, .node = "node-2"}};
  auto nodePortService = [&](std::string name, std::string cluster_ip, uint16_t node_port, std::string policy) {
    return ServiceSpec{.name = std::move(name),
                       .type = "NodePort",
                       .cluster_ip = std::move(cluster_ip),
                       .ports = {{.name = "http", .port = 80, .node_port = node_port}},
                       .external_traffic_policy = std::move(policy),
                       .endpoints = endpoints};
  };
  ASSERT_NO_FATAL_FAILURE(startKproxy({nodePortService("local", "10.96.0.20", 30081, "Local"),
                                       nodePortService("cluster", "10.96.0.21", 30082, "Cluster")}));

  struct Case {
    std::string name;
    uint16_t node_port;
    std::set<std::string> allowed_backends;
    std::string expected_source;
    size_t min_distinct_backends;
  };
  const std::vector<Case> cases = {
      {.name = "eTP Local: only the local endpoint, client IP kept",
       .node_port = 30081,
       .allowed_backends = {"a"},
       .expected_source = kExternalClientA,
       .min_distinct_backends = 1},
      // 45 connections over 3 endpoints all landing on one: probability 3^-44.
      {.name = "eTP Cluster: every endpoint, source masqueraded",
       .node_port = 30082,
       .allowed_backends = {"a", "b", "c"},
       .expected_source = kNodePodGateway,
       .min_distinct_backends = 2},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    std::map<std::string, int> hits;
    for (int i = 0; i < 45; ++i) {
      const Reply reply = topo().tcpRequest(topo().externalNs(), kNodeIp, tc.node_port, {.source_ip = kExternalClientA});
      ASSERT_TRUE(reply.ok()) << "connection " << i << ": " << reply.describe();
      ++hits[reply.backend];
      EXPECT_TRUE(tc.allowed_backends.count(reply.backend) == 1) << reply.describe();
      EXPECT_EQ(reply.source, tc.expected_source) << reply.describe();
    }
    EXPECT_GE(hits.size(), tc.min_distinct_backends) << ::testing::PrintToString(hits);
  }
}

TEST_P(PacketPolicyTest, LoadBalancerSourceRangesAdmitOneClientAndDropAnother) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA}));
  ASSERT_NO_FATAL_FAILURE(startKproxy({{.name = "lb",
                                         .type = "LoadBalancer",
                                         .cluster_ip = "10.96.0.30",
                                         .ports = {{.name = "http", .port = 80, .node_port = 30083}},
                                         .load_balancer_ips = {"198.51.100.7"},
                                         .source_ranges = {std::string(kExternalClientA) + "/32"},
                                         .endpoints = {{.ip = kPodA.ip}}}}));

  struct Case {
    std::string name;
    std::string source;
    std::string ip;
    uint16_t port;
    bool admitted;
  };
  const std::vector<Case> cases = {
      {.name = "client in the source range to the LB IP", .source = kExternalClientA, .ip = "198.51.100.7", .port = 80,
       .admitted = true},
      {.name = "client outside the source range to the LB IP", .source = kExternalClientB, .ip = "198.51.100.7",
       .port = 80, .admitted = false},
      // upstream: node ports ignore loadBalancerSourceRanges.
      {.name = "client outside the source range to the node port", .source = kExternalClientB, .ip = kNodeIp,
       .port = 30083, .admitted = true},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    const Reply reply = topo().tcpRequest(topo().externalNs(), tc.ip, tc.port,
                                          {.source_ip = tc.source, .timeout = milliseconds(tc.admitted ? 2000 : 1000)});
    if (tc.admitted) {
      ASSERT_TRUE(reply.ok()) << reply.describe();
      EXPECT_EQ(reply.backend, "a");
    } else {
      // Dropped (KUBE-PROXY-FIREWALL), not rejected: the connection attempt just times out.
      EXPECT_EQ(reply.error, ETIMEDOUT) << reply.describe();
    }
  }
}

TEST_P(PacketPolicyTest, MasqueradesWhereUpstreamMasquerades) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kClientPod}));
  ASSERT_NO_FATAL_FAILURE(startKproxy({{.name = "web",
                                         .type = "NodePort",
                                         .cluster_ip = "10.96.0.40",
                                         .ports = {{.name = "http", .protocol = "TCP", .port = 80, .node_port = 30084},
                                                   {.name = "dns", .protocol = "UDP", .port = 53, .node_port = 30085}},
                                         .endpoints = {{.ip = kPodA.ip}}}}));

  struct Case {
    std::string name;
    std::string from;
    std::string ip;
    uint16_t tcp_port;
    uint16_t udp_port;
    std::string expected_source;
  };
  const std::vector<Case> cases = {
      {.name = "pod to ClusterIP: not masqueraded (clusterCIDR covers pods)", .from = topo().podNs("client"),
       .ip = "10.96.0.40", .tcp_port = 80, .udp_port = 53, .expected_source = kClientPod.ip},
      {.name = "node to ClusterIP: masqueraded", .from = topo().nodeNs(), .ip = "10.96.0.40", .tcp_port = 80,
       .udp_port = 53, .expected_source = kNodePodGateway},
      {.name = "external to NodePort, eTP Cluster: masqueraded", .from = topo().externalNs(), .ip = kNodeIp,
       .tcp_port = 30084, .udp_port = 30085, .expected_source = kNodePodGateway},
      {.name = "hairpin, pod to its own service answered by itself: masqueraded", .from = topo().podNs("a"),
       .ip = "10.96.0.40", .tcp_port = 80, .udp_port = 53, .expected_source = kNodePodGateway},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    const Reply tcp = topo().tcpRequest(tc.from, tc.ip, tc.tcp_port);
    ASSERT_TRUE(tcp.ok()) << "TCP " << tcp.describe();
    EXPECT_EQ(tcp.backend, "a");
    EXPECT_EQ(tcp.source, tc.expected_source) << "TCP " << tcp.describe();
    const Reply udp = topo().udpRequest(tc.from, tc.ip, tc.udp_port);
    ASSERT_TRUE(udp.ok()) << "UDP " << udp.describe();
    EXPECT_EQ(udp.backend, "a");
    EXPECT_EQ(udp.source, tc.expected_source) << "UDP " << udp.describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, PacketPolicyTest,
                         ::testing::Values(IptablesBackendChoice::kNft, IptablesBackendChoice::kLegacy), backendParamName);

}  // namespace
}  // namespace kproxy::netns
