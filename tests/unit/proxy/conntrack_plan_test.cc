// staleFlows (spec ipvs-and-runtime.md §2.1) case by case, then ConntrackReconciler on the fake.
// Cases that re-create upstream's pkg/proxy/conntrack/cleanup_test.go name the upstream test.
#include "src/proxy/conntrack_plan.h"

#include <gtest/gtest.h>

#include <random>

#include "src/proxy/conntrack_reconciler.h"
#include "tests/fakes/fake_conntrack.h"
#include "tests/unit/tracker/builders.h"

namespace kproxy::proxy {
namespace {

using fakes::flowLines;
using fakes::udpFlow;
using fakes::withProtocol;
using netlink::ConntrackFlow;
using SlicePtr = std::shared_ptr<const api::EndpointSlice>;
using testing::EndpointSpec;
using testing::PortSpec;

constexpr api::Protocol kUDP = api::Protocol::kUDP;
constexpr api::Protocol kTCP = api::Protocol::kTCP;
constexpr api::Protocol kSCTP = api::Protocol::kSCTP;

tracker::ProxySnapshot snapshotOf(IpFamily family, const std::vector<api::Service>& services,
                                  const std::vector<SlicePtr>& slices) {
  tracker::ProxyStateTracker tracker({.family = family, .node_name = "node-a"});
  for (const auto& service : services) (void)tracker.onServiceAdd(service);
  for (const auto& slice : slices) (void)tracker.onEndpointSliceAdd(slice);
  return *tracker.checkout().first;
}

// A Service with extra fields set on top of testing::makeService.
struct ServiceSpec {
  std::string name = "svc";
  std::string cluster_ip = "172.30.0.10";
  std::vector<PortSpec> ports;
  std::string type = "ClusterIP";
  std::vector<std::string> external_ips;
  std::vector<api::LoadBalancerIngress> ingress;
  std::string external_traffic_policy;
  std::string internal_traffic_policy;
};

api::Service service(ServiceSpec spec) {
  api::Service svc = testing::makeService("ns", spec.name, spec.cluster_ip, spec.ports);
  svc.type = spec.type;
  svc.external_ips = spec.external_ips;
  svc.load_balancer_ingress = spec.ingress;
  svc.external_traffic_policy = spec.external_traffic_policy;
  svc.internal_traffic_policy = spec.internal_traffic_policy;
  return svc;
}

SlicePtr slice(const std::string& service_name, std::vector<EndpointSpec> endpoints, std::vector<PortSpec> ports,
               const std::string& address_type = "IPv4") {
  return testing::makeSlice("ns", service_name, service_name + "-1", std::move(endpoints), std::move(ports),
                            address_type);
}

EndpointSpec serving(std::string ip) { return {.ip = std::move(ip), .ready = true, .serving = true}; }
EndpointSpec notServing(std::string ip) {
  return {.ip = std::move(ip), .ready = false, .serving = false, .terminating = false};
}

std::vector<std::string> inOrder(const std::vector<ConntrackFlow>& flows) {
  std::vector<std::string> out;
  for (const auto& flow : flows) out.push_back(flow.toString());
  return out;
}

const PortSpec kDns{.name = "dns", .protocol = kUDP, .port = 53};
const PortSpec kDnsTarget{.name = "dns", .protocol = kUDP, .port = 5353};

// A dumped flow and whether the plan must find it stale.
struct FlowCase {
  ConntrackFlow flow;
  bool stale = false;
};
FlowCase stale(ConntrackFlow flow) { return {std::move(flow), true}; }
FlowCase kept(ConntrackFlow flow) { return {std::move(flow), false}; }

struct Case {
  std::string name;
  IpFamily family = IpFamily::kIPv4;
  std::vector<api::Service> services;
  std::vector<SlicePtr> slices;
  std::vector<FlowCase> flows;
};

std::vector<Case> planCases() {
  const auto dns = service({.name = "dns", .ports = {kDns}});
  const auto ep3 = slice("dns", {serving("10.244.0.3")}, {kDnsTarget});
  return {
      {
          .name = "cluster IP: flow DNATed to an endpoint that is gone is stale, to a serving one is kept",
          .services = {dns},
          .slices = {ep3},
          .flows = {stale(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.9", 5353)),
                    kept(udpFlow("10.0.0.1", 40001, "172.30.0.10", 53, "10.244.0.3", 5353))},
      },
      {
          // upstream TestCleanStaleEntries, testOldEndpointPort: the endpoint keeps its IP and
          // changes port.
          .name = "cluster IP: same endpoint IP on its old port is stale",
          .services = {dns},
          .slices = {ep3},
          .flows = {stale(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.3", 8080))},
      },
      {
          // upstream TestCleanStaleEntries, testNonServicePort: entries kube-proxy does not own.
          .name = "cluster IP on a port that is not a service port is left alone",
          .services = {dns},
          .slices = {ep3},
          .flows = {kept(udpFlow("10.0.0.1", 40000, "172.30.0.10", 3000, "10.244.0.9", 5353)),
                    kept(udpFlow("10.0.0.1", 40001, "172.30.0.10", 3000, "172.30.0.10", 3000))},
      },
      {
          .name = "external IPs: each one is a frontend",
          .services = {service({.name = "dns", .ports = {kDns}, .external_ips = {"192.168.99.100", "192.168.99.101"}})},
          .slices = {ep3},
          .flows = {stale(udpFlow("10.0.0.1", 40000, "192.168.99.100", 53, "10.244.0.9", 5353)),
                    stale(udpFlow("10.0.0.1", 40001, "192.168.99.101", 53, "10.244.0.9", 5353)),
                    kept(udpFlow("10.0.0.1", 40002, "192.168.99.101", 53, "10.244.0.3", 5353))},
      },
      {
          .name = "load-balancer VIPs are frontends; ipMode Proxy ingress IPs and hostnames are not",
          .services = {service({.name = "dns",
                                .ports = {kDns},
                                .type = "LoadBalancer",
                                .ingress = {{.ip = "1.2.3.4"},
                                            {.ip = "1.2.3.5", .ip_mode = "VIP"},
                                            {.ip = "1.2.3.6", .ip_mode = "Proxy"},
                                            {.hostname = "lb.example.com"}}})},
          .slices = {ep3},
          .flows = {stale(udpFlow("10.0.0.1", 40000, "1.2.3.4", 53, "10.244.0.9", 5353)),
                    stale(udpFlow("10.0.0.1", 40001, "1.2.3.5", 53, "10.244.0.9", 5353)),
                    kept(udpFlow("10.0.0.1", 40002, "1.2.3.6", 53, "10.244.0.9", 5353)),
                    kept(udpFlow("10.0.0.1", 40003, "1.2.3.4", 53, "10.244.0.3", 5353))},
      },
      {
          .name = "node port: on any destination address, a reply source outside the serving set is stale",
          .services = {service({.name = "dns", .ports = {{.name = "dns", .protocol = kUDP, .port = 53, .node_port = 32000}},
                                .type = "NodePort"})},
          .slices = {ep3},
          .flows = {stale(udpFlow("10.0.0.1", 40000, "192.168.0.10", 32000, "10.244.0.9", 5353)),
                    stale(udpFlow("10.0.0.1", 40001, "127.0.0.1", 32000, "10.244.0.9", 5353)),
                    kept(udpFlow("10.0.0.1", 40002, "192.168.0.10", 32000, "10.244.0.3", 5353)),
                    kept(udpFlow("10.0.0.1", 40003, "192.168.0.10", 32001, "10.244.0.9", 5353))},
      },
      {
          // upstream checks the node port after a frontend that matched with a valid endpoint; a
          // cluster port equal to another UDP service's node port therefore loses flows to its own
          // endpoints. Kept as upstream has it.
          .name = "upstream quirk: a valid frontend flow whose port is another service's node port is stale",
          .services = {service({.name = "a", .cluster_ip = "172.30.0.10",
                                .ports = {{.name = "p", .protocol = kUDP, .port = 32000}}}),
                       service({.name = "b", .cluster_ip = "172.30.0.11",
                                .ports = {{.name = "p", .protocol = kUDP, .port = 53, .node_port = 32000}},
                                .type = "NodePort"})},
          .slices = {slice("a", {serving("10.244.0.3")}, {{.name = "p", .protocol = kUDP, .port = 5353}}),
                     slice("b", {serving("10.244.1.3")}, {{.name = "p", .protocol = kUDP, .port = 5353}})},
          .flows = {stale(udpFlow("10.0.0.1", 40000, "172.30.0.10", 32000, "10.244.0.3", 5353)),
                    kept(udpFlow("10.0.0.1", 40001, "192.168.0.10", 32000, "10.244.1.3", 5353))},
      },
      {
          // upstream TestCleanStaleEntries, "non-DNATed mock entries": sent while the service had no
          // endpoints (and no rule), so the reply source is the frontend itself.
          .name = "black holes: never-DNATed entries to a frontend or node port are stale once endpoints exist",
          .services = {service({.name = "dns", .ports = {{.name = "dns", .protocol = kUDP, .port = 53, .node_port = 32000}},
                                .type = "NodePort", .external_ips = {"192.168.99.100"}})},
          .slices = {ep3},
          .flows = {stale(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "172.30.0.10", 53)),
                    stale(udpFlow("10.0.0.1", 40001, "192.168.99.100", 53, "192.168.99.100", 53)),
                    stale(udpFlow("10.0.0.1", 40002, "192.168.0.10", 32000, "192.168.0.10", 32000))},
      },
      {
          // upstream TestServiceWithoutEndpoints (its slice names another service).
          .name = "a service without endpoints is left alone, black holes included",
          .services = {service({.name = "dns", .ports = {{.name = "dns", .protocol = kUDP, .port = 53, .node_port = 32000}},
                                .type = "NodePort"})},
          .slices = {slice("non-existing-service", {serving("10.244.0.3")}, {kDnsTarget})},
          .flows = {kept(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.3", 5353)),
                    kept(udpFlow("10.0.0.1", 40001, "172.30.0.10", 53, "10.244.0.9", 5353)),
                    kept(udpFlow("10.0.0.1", 40002, "172.30.0.10", 53, "172.30.0.10", 53)),
                    kept(udpFlow("10.0.0.1", 40003, "192.168.0.10", 32000, "10.244.0.9", 5353))},
      },
      {
          .name = "a service whose endpoints are all not serving counts as one without endpoints",
          .services = {dns},
          .slices = {slice("dns", {notServing("10.244.0.3"), notServing("10.244.0.4")}, {kDnsTarget})},
          .flows = {kept(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.9", 5353))},
      },
      {
          // upstream TestCleanStaleEntries: testNonServingEndpointIP's entries go, testServingEndpointIP's stay.
          .name = "terminating-but-serving endpoints count as serving; non-serving ones do not",
          .services = {dns},
          .slices = {slice("dns",
                           {serving("10.244.0.3"),
                            {.ip = "10.244.0.4", .ready = false, .serving = true, .terminating = true},
                            {.ip = "10.244.0.5", .ready = false, .serving = false, .terminating = true},
                            notServing("10.244.0.6")},
                           {kDnsTarget})},
          .flows = {kept(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.3", 5353)),
                    kept(udpFlow("10.0.0.1", 40001, "172.30.0.10", 53, "10.244.0.4", 5353)),
                    stale(udpFlow("10.0.0.1", 40002, "172.30.0.10", 53, "10.244.0.5", 5353)),
                    stale(udpFlow("10.0.0.1", 40003, "172.30.0.10", 53, "10.244.0.6", 5353))},
      },
      {
          .name = "an endpoint with no serving condition is serving when ready (the API default)",
          .services = {dns},
          .slices = {slice("dns", {{.ip = "10.244.0.3"}, {.ip = "10.244.0.4", .ready = true}}, {kDnsTarget})},
          .flows = {kept(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.3", 5353)),
                    kept(udpFlow("10.0.0.1", 40001, "172.30.0.10", 53, "10.244.0.4", 5353))},
      },
      {
          .name = "traffic policies and topology are ignored: a remote endpoint of an eTP/iTP Local service is valid",
          .services = {service({.name = "dns",
                                .ports = {{.name = "dns", .protocol = kUDP, .port = 53, .node_port = 32000}},
                                .type = "NodePort",
                                .external_traffic_policy = "Local",
                                .internal_traffic_policy = "Local"})},
          .slices = {slice("dns", {{.ip = "10.244.5.3", .ready = true, .node = "node-b", .zones = {"zone-b"}}},
                           {kDnsTarget})},
          .flows = {kept(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.5.3", 5353)),
                    kept(udpFlow("10.0.0.1", 40001, "192.168.0.10", 32000, "10.244.5.3", 5353))},
      },
      {
          .name = "TCP and SCTP service ports map nothing",
          .services = {service({.name = "web",
                                .ports = {{.name = "http", .protocol = kTCP, .port = 80, .node_port = 30080},
                                          {.name = "sctp", .protocol = kSCTP, .port = 90, .node_port = 30090}},
                                .type = "NodePort"})},
          .slices = {slice("web", {serving("10.244.0.3")},
                           {{.name = "http", .protocol = kTCP, .port = 8080}, {.name = "sctp", .protocol = kSCTP, .port = 9090}})},
          .flows = {kept(udpFlow("10.0.0.1", 40000, "172.30.0.10", 80, "10.244.0.9", 8080)),
                    kept(udpFlow("10.0.0.1", 40001, "172.30.0.10", 90, "10.244.0.9", 9090)),
                    kept(udpFlow("10.0.0.1", 40002, "192.168.0.10", 30080, "10.244.0.9", 8080))},
      },
      {
          // upstream TestCleanStaleEntries: its TCP and SCTP entries all survive.
          .name = "TCP and SCTP entries are never stale, even to a UDP frontend",
          .services = {service({.name = "dns", .ports = {{.name = "dns", .protocol = kUDP, .port = 53, .node_port = 32000}},
                                .type = "NodePort"})},
          .slices = {ep3},
          .flows = {kept(withProtocol(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.9", 5353), netlink::kIpProtoTcp)),
                    kept(withProtocol(udpFlow("10.0.0.1", 40001, "192.168.0.10", 32000, "10.244.0.9", 5353),
                                 netlink::kIpProtoSctp))},
      },
      {
          .name = "UDP and TCP ports of one service: only the UDP port's frontend is checked",
          .services = {service({.name = "dns", .ports = {kDns, {.name = "dns-tcp", .protocol = kTCP, .port = 53}}})},
          .slices = {slice("dns", {serving("10.244.0.3")}, {kDnsTarget, {.name = "dns-tcp", .protocol = kTCP, .port = 5353}})},
          .flows = {stale(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.9", 5353)),
                    kept(withProtocol(udpFlow("10.0.0.1", 40001, "172.30.0.10", 53, "10.244.0.9", 5353), netlink::kIpProtoTcp))},
      },
      {
          .name = "each UDP port has its own endpoint set: the other port's endpoint is not valid",
          .services = {service({.name = "dns",
                                .ports = {{.name = "a", .protocol = kUDP, .port = 53}, {.name = "b", .protocol = kUDP, .port = 54}}})},
          .slices = {slice("dns", {serving("10.244.0.3")},
                           {{.name = "a", .protocol = kUDP, .port = 5353}, {.name = "b", .protocol = kUDP, .port = 5454}})},
          .flows = {stale(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.3", 5454)),
                    kept(udpFlow("10.0.0.1", 40001, "172.30.0.10", 54, "10.244.0.3", 5454))},
      },
      {
          .name = "two services claiming one external IP:port: a flow to either's serving endpoint is kept",
          .services = {service({.name = "a", .cluster_ip = "172.30.0.10", .ports = {kDns}, .external_ips = {"192.168.99.100"}}),
                       service({.name = "b", .cluster_ip = "172.30.0.11", .ports = {kDns}, .external_ips = {"192.168.99.100"}})},
          .slices = {slice("a", {serving("10.244.0.3")}, {kDnsTarget}), slice("b", {serving("10.244.1.3")}, {kDnsTarget})},
          .flows = {kept(udpFlow("10.0.0.1", 40000, "192.168.99.100", 53, "10.244.0.3", 5353)),
                    kept(udpFlow("10.0.0.1", 40001, "192.168.99.100", 53, "10.244.1.3", 5353)),
                    stale(udpFlow("10.0.0.1", 40002, "192.168.99.100", 53, "10.244.2.3", 5353)),
                    stale(udpFlow("10.0.0.1", 40003, "172.30.0.10", 53, "10.244.1.3", 5353))},
      },
      {
          .name = "IPv6: cluster IP, external IP and node port frontends",
          .family = IpFamily::kIPv6,
          .services = {service({.name = "dns",
                                .cluster_ip = "fd00:30::10",
                                .ports = {{.name = "dns", .protocol = kUDP, .port = 53, .node_port = 32000}},
                                .type = "NodePort",
                                .external_ips = {"2001:db8::100", "192.168.99.100"}})},
          .slices = {slice("dns", {serving("fd00:244::3")}, {kDnsTarget}, "IPv6")},
          .flows = {stale(udpFlow("fd00::1", 40000, "fd00:30::10", 53, "fd00:244::9", 5353)),
                    kept(udpFlow("fd00::1", 40001, "fd00:30::10", 53, "fd00:244::3", 5353)),
                    stale(udpFlow("fd00::1", 40002, "2001:db8::100", 53, "2001:db8::100", 53)),
                    stale(udpFlow("fd00::1", 40003, "fd00:1::10", 32000, "fd00:244::9", 5353))},
      },
      {
          .name = "entries of the other family are never stale (the node port matches on port alone)",
          .services = {service({.name = "dns", .ports = {{.name = "dns", .protocol = kUDP, .port = 53, .node_port = 32000}},
                                .type = "NodePort"})},
          .slices = {ep3},
          .flows = {kept(udpFlow("fd00::1", 40000, "fd00:1::10", 32000, "fd00:244::9", 5353))},
      },
  };
}

TEST(StaleFlowsTest, Table) {
  for (const Case& tc : planCases()) {
    SCOPED_TRACE(tc.name);
    const tracker::ProxySnapshot snapshot = snapshotOf(tc.family, tc.services, tc.slices);
    std::vector<ConntrackFlow> flows;
    std::vector<ConntrackFlow> expected;
    for (const FlowCase& fc : tc.flows) {
      flows.push_back(fc.flow);
      if (fc.stale) expected.push_back(fc.flow);
    }
    EXPECT_EQ(inOrder(staleFlows(snapshot, flows)), inOrder(expected));
  }
}

TEST(StaleFlowsTest, EmptySnapshotOrNoFlows) {
  const tracker::ProxySnapshot empty;
  EXPECT_TRUE(staleFlows(empty, {udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.9", 5353)}).empty());
  const auto snapshot = snapshotOf(IpFamily::kIPv4, {service({.name = "dns", .ports = {kDns}})},
                                   {slice("dns", {serving("10.244.0.3")}, {kDnsTarget})});
  EXPECT_TRUE(staleFlows(snapshot, {}).empty());
}

// --- upstream TestCleanStaleEntries, whole: one service with TCP, UDP and SCTP ports on the same
// port number, cluster IP, external IP and LB IP, a node port on UDP and SCTP; one serving and one
// non-serving endpoint; 72 entries of which 14 are stale.

constexpr const char* kTestClusterIp = "172.30.1.1";
constexpr const char* kTestExternalIp = "192.168.99.100";
constexpr const char* kTestLoadBalancerIp = "1.2.3.4";
constexpr const char* kTestServingEndpointIp = "10.240.0.4";
constexpr const char* kTestNonServingEndpointIp = "10.240.1.5";
constexpr const char* kTestDeletedEndpointIp = "10.240.2.6";
constexpr const char* kTestClientIp = "10.0.0.1";
constexpr const char* kTestNodeIp = "192.168.0.10";  // upstream leaves the node-port entries' orig dst empty
constexpr uint16_t kTestOldEndpointPort = 8080;
constexpr uint16_t kTestEndpointPort = 9090;
constexpr uint16_t kTestServicePort = 8000;
constexpr uint16_t kTestServiceNodePort = 32000;
constexpr uint16_t kTestNonServicePort = 3000;

tracker::ProxySnapshot upstreamCleanupSnapshot() {
  auto svc = service({.name = "cleanup-test",
                      .cluster_ip = kTestClusterIp,
                      .ports = {{.name = "test-tcp", .protocol = kTCP, .port = kTestServicePort},
                                {.name = "test-udp", .protocol = kUDP, .port = kTestServicePort, .node_port = kTestServiceNodePort},
                                {.name = "test-sctp", .protocol = kSCTP, .port = kTestServicePort, .node_port = kTestServiceNodePort}},
                      .external_ips = {kTestExternalIp},
                      .ingress = {{.ip = kTestLoadBalancerIp}}});
  auto eps = slice("cleanup-test", {{.ip = kTestServingEndpointIp, .serving = true}, {.ip = kTestNonServingEndpointIp, .serving = false}},
                   {{.name = "test-tcp", .protocol = kTCP, .port = kTestEndpointPort},
                    {.name = "test-udp", .protocol = kUDP, .port = kTestEndpointPort},
                    {.name = "test-sctp", .protocol = kSCTP, .port = kTestEndpointPort}});
  auto snapshot = snapshotOf(IpFamily::kIPv4, {svc}, {eps});
  EXPECT_EQ(snapshot.services.size(), 3u);
  EXPECT_EQ(snapshot.endpoints.size(), 3u);
  return snapshot;
}

struct UpstreamEntries {
  std::vector<ConntrackFlow> before;
  std::vector<ConntrackFlow> after;
};

UpstreamEntries upstreamCleanupEntries() {
  UpstreamEntries e;
  uint16_t sport = 10000;  // distinct client ports keep the original tuples distinct
  auto entry = [&](const char* orig_dst, uint16_t dport, const char* reply_src, uint16_t reply_sport, uint8_t proto) {
    return withProtocol(udpFlow(kTestClientIp, sport++, orig_dst, dport, reply_src, reply_sport), proto);
  };
  const char* frontends[] = {kTestClusterIp, kTestLoadBalancerIp, kTestExternalIp};
  // The endpoint changed port without changing IP: all stale.
  for (const char* frontend : frontends) {
    e.before.push_back(entry(frontend, kTestServicePort, kTestServingEndpointIp, kTestOldEndpointPort, netlink::kIpProtoUdp));
  }
  // 3 endpoints x 3 protocols x (3 frontends x 2 ports + 1 node port).
  for (const char* dnat : {kTestServingEndpointIp, kTestNonServingEndpointIp, kTestDeletedEndpointIp}) {
    for (uint8_t proto : {netlink::kIpProtoTcp, netlink::kIpProtoUdp, netlink::kIpProtoSctp}) {
      for (const char* frontend : frontends) {
        for (uint16_t port : {kTestServicePort, kTestNonServicePort}) {
          auto flow = entry(frontend, port, dnat, kTestEndpointPort, proto);
          e.before.push_back(flow);
          const bool stale = proto == netlink::kIpProtoUdp && port == kTestServicePort &&
                             std::string(dnat) != kTestServingEndpointIp;
          if (!stale) e.after.push_back(flow);
        }
      }
      auto flow = entry(kTestNodeIp, kTestServiceNodePort, dnat, kTestEndpointPort, proto);
      e.before.push_back(flow);
      if (!(proto == netlink::kIpProtoUdp && std::string(dnat) != kTestServingEndpointIp)) e.after.push_back(flow);
    }
  }
  // Never DNATed (no DROP/REJECT rule while the service had no endpoints): reply src = orig dst.
  for (const char* frontend : frontends) {
    for (uint16_t port : {kTestServicePort, kTestNonServicePort}) {
      auto flow = entry(frontend, port, frontend, 0, netlink::kIpProtoUdp);
      e.before.push_back(flow);
      if (port != kTestServicePort) e.after.push_back(flow);
    }
  }
  return e;
}

// upstream TestCleanStaleEntries, through the plan alone.
TEST(StaleFlowsTest, UpstreamCleanStaleEntries) {
  const auto snapshot = upstreamCleanupSnapshot();
  const UpstreamEntries e = upstreamCleanupEntries();
  ASSERT_EQ(e.before.size(), 72u);
  ASSERT_EQ(e.before.size() - e.after.size(), 14u);
  const auto stale_flows = staleFlows(snapshot, e.before);
  std::vector<ConntrackFlow> left;
  for (const auto& flow : e.before) {
    if (std::find(stale_flows.begin(), stale_flows.end(), flow) == stale_flows.end()) left.push_back(flow);
  }
  EXPECT_EQ(stale_flows.size(), 14u);
  EXPECT_EQ(flowLines(left), flowLines(e.after));
}

// upstream TestPerformanceCleanStaleEntries: a million entries to the external IP on random ports,
// all DNATed to a deleted endpoint; only those on the service port are stale.
TEST(StaleFlowsTest, UpstreamPerformanceCleanStaleEntries) {
  const auto snapshot = snapshotOf(
      IpFamily::kIPv4,
      {service({.name = "cleanup-test", .cluster_ip = kTestClusterIp,
                .ports = {{.name = "test-udp", .protocol = kUDP, .port = kTestServicePort}},
                .external_ips = {kTestExternalIp}, .ingress = {{.ip = kTestLoadBalancerIp}}})},
      {slice("cleanup-test", {{.ip = kTestServingEndpointIp, .serving = true}, {.ip = kTestNonServingEndpointIp, .serving = false}},
             {{.name = "test-udp", .protocol = kUDP, .port = kTestEndpointPort}})});
  std::vector<ConntrackFlow> flows;
  flows.reserve(1'000'002);
  flows.push_back(udpFlow(kTestClientIp, 1, kTestExternalIp, kTestServicePort, kTestServingEndpointIp, kTestEndpointPort));
  flows.push_back(udpFlow(kTestClientIp, 2, kTestExternalIp, kTestServicePort, kTestDeletedEndpointIp, kTestEndpointPort));
  size_t expected_stale = 1;
  std::mt19937 rng(42);
  std::uniform_int_distribution<int> port(0, 65534);
  for (uint32_t i = 0; i < 1'000'000; ++i) {
    ConntrackFlow flow = udpFlow(kTestClientIp, 0, kTestExternalIp, static_cast<uint16_t>(port(rng)), kTestDeletedEndpointIp,
                                 kTestEndpointPort);
    flow.orig_src = IpAddress::fromV4(0x0a010000u + i);  // distinct original tuples
    flow.reply_dst = flow.orig_src;
    if (flow.orig_dport == kTestServicePort) ++expected_stale;
    flows.push_back(std::move(flow));
  }
  const auto stale_flows = staleFlows(snapshot, flows);
  EXPECT_EQ(stale_flows.size(), expected_stale);
  for (const auto& flow : stale_flows) {
    EXPECT_EQ(flow.orig_dport, kTestServicePort);
    EXPECT_EQ(flow.reply_src.toString(), kTestDeletedEndpointIp);
  }
}

// --- ConntrackReconciler on the fake.

// upstream TestCleanStaleEntries, end to end: what the table holds afterwards, and the deleted
// count the metric is fed with equals before - after.
TEST(ConntrackReconcilerTest, UpstreamCleanStaleEntries) {
  const auto snapshot = upstreamCleanupSnapshot();
  const UpstreamEntries e = upstreamCleanupEntries();
  fakes::FakeConntrack fake;
  for (const auto& flow : e.before) ASSERT_TRUE(fake.insert(flow).ok()) << flow.toString();

  ConntrackReconciler reconciler(fake);
  ConntrackReconcileResult result = reconciler.reconcile(snapshot);
  EXPECT_FALSE(result.error.has_value()) << result.error->message;
  EXPECT_EQ(result.family, IpFamily::kIPv4);
  EXPECT_EQ(result.dumped, 3u + 21u + 6u);  // the dump holds UDP entries only (no 2 x 21 TCP/SCTP)
  EXPECT_EQ(result.stale, 14u);
  EXPECT_EQ(result.deleted, e.before.size() - e.after.size());
  EXPECT_GE(result.duration.count(), 0.0);
  EXPECT_EQ(flowLines(fake.flows()), flowLines(e.after));
}

// upstream TestServiceWithoutEndpoints.
TEST(ConntrackReconcilerTest, UpstreamServiceWithoutEndpoints) {
  const auto snapshot = snapshotOf(
      IpFamily::kIPv4,
      {service({.name = "cleanup-test", .cluster_ip = kTestClusterIp,
                .ports = {{.name = "test-udp", .protocol = kUDP, .port = kTestServicePort}},
                .external_ips = {kTestExternalIp}, .ingress = {{.ip = kTestLoadBalancerIp}}})},
      {slice("non-existing-service", {{.ip = kTestServingEndpointIp, .serving = true}},
             {{.name = "test-udp", .protocol = kUDP, .port = kTestEndpointPort}})});
  fakes::FakeConntrack fake;
  ASSERT_TRUE(fake.insert(udpFlow(kTestClientIp, 1, kTestExternalIp, kTestServicePort, kTestServingEndpointIp, kTestEndpointPort)).ok());
  ASSERT_TRUE(fake.insert(udpFlow(kTestClientIp, 2, kTestExternalIp, kTestServicePort, kTestDeletedEndpointIp, kTestEndpointPort)).ok());
  ConntrackReconcileResult result = ConntrackReconciler(fake).reconcile(snapshot);
  EXPECT_FALSE(result.error.has_value());
  EXPECT_EQ(result.deleted, 0u);
  EXPECT_EQ(fake.flows().size(), 2u);
  EXPECT_EQ(fake.removeCalls(), 0u);  // nothing stale: no delete at all
}

TEST(ConntrackReconcilerTest, FailedDumpIsReportedAndDeletesNothing) {
  fakes::FakeConntrack fake;
  ASSERT_TRUE(fake.insert(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.9", 5353)).ok());
  fake.failDumpWith(Error("conntrack: dump IPv4 entries: EPERM (Operation not permitted)", EPERM));
  const auto snapshot = snapshotOf(IpFamily::kIPv4, {service({.name = "dns", .ports = {kDns}})},
                                   {slice("dns", {serving("10.244.0.3")}, {kDnsTarget})});
  ConntrackReconcileResult result = ConntrackReconciler(fake).reconcile(snapshot);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_EQ(result.error->code, EPERM);
  EXPECT_EQ(result.deleted, 0u);
  EXPECT_EQ(fake.removeCalls(), 0u);
  EXPECT_EQ(fake.flows().size(), 1u);
}

// upstream: "received a partial result, continuing to clean with partial result".
TEST(ConntrackReconcilerTest, InterruptedDumpReconcilesWhatWasRead) {
  fakes::FakeConntrack fake;
  for (uint16_t sport = 1; sport <= 4; ++sport) {
    ASSERT_TRUE(fake.insert(udpFlow("10.0.0.1", sport, "172.30.0.10", 53, "10.244.0.9", 5353)).ok());
  }
  fake.interruptDumpAfter(3);
  const auto snapshot = snapshotOf(IpFamily::kIPv4, {service({.name = "dns", .ports = {kDns}})},
                                   {slice("dns", {serving("10.244.0.3")}, {kDnsTarget})});
  ConntrackReconcileResult result = ConntrackReconciler(fake).reconcile(snapshot);
  EXPECT_FALSE(result.error.has_value());
  EXPECT_EQ(result.dumped, 3u);
  EXPECT_EQ(result.deleted, 3u);
  ASSERT_EQ(fake.flows().size(), 1u);
  EXPECT_EQ(fake.flows()[0].orig_sport, 4);
}

TEST(ConntrackReconcilerTest, FailedRemoveIsReported) {
  fakes::FakeConntrack fake;
  ASSERT_TRUE(fake.insert(udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.9", 5353)).ok());
  fake.failRemoveWith(Error("conntrack: delete ...: EPERM (Operation not permitted)", EPERM));
  const auto snapshot = snapshotOf(IpFamily::kIPv4, {service({.name = "dns", .ports = {kDns}})},
                                   {slice("dns", {serving("10.244.0.3")}, {kDnsTarget})});
  ConntrackReconcileResult result = ConntrackReconciler(fake).reconcile(snapshot);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_EQ(result.stale, 1u);
  EXPECT_EQ(result.deleted, 0u);
}

TEST(ConntrackReconcilerTest, ReconcilesTheSnapshotsFamilyOnly) {
  fakes::FakeConntrack fake;
  const auto v4 = udpFlow("10.0.0.1", 40000, "172.30.0.10", 53, "10.244.0.9", 5353);
  const auto v6 = udpFlow("fd00::1", 40000, "fd00:30::10", 53, "fd00:244::9", 5353);
  ASSERT_TRUE(fake.insert(v4).ok());
  ASSERT_TRUE(fake.insert(v6).ok());
  const auto snapshot = snapshotOf(IpFamily::kIPv6, {service({.name = "dns", .cluster_ip = "fd00:30::10", .ports = {kDns}})},
                                   {slice("dns", {serving("fd00:244::3")}, {kDnsTarget}, "IPv6")});
  ConntrackReconcileResult result = ConntrackReconciler(fake).reconcile(snapshot);
  EXPECT_FALSE(result.error.has_value());
  EXPECT_EQ(result.family, IpFamily::kIPv6);
  EXPECT_EQ(result.dumped, 1u);
  EXPECT_EQ(result.deleted, 1u);
  EXPECT_EQ(flowLines(fake.flows()), flowLines({v4}));
}

}  // namespace
}  // namespace kproxy::proxy
