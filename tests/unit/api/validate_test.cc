#include "src/api/validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/api/decode.h"

namespace kproxy::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> messages(const std::vector<Error>& errors) {
  std::vector<std::string> out;
  for (const Error& e : errors) out.push_back(e.message);
  return out;
}

// One rule per case: `body` is the rest of an object of `kind` (after its metadata line),
// `errors` what decoding reports for it, without the "v.yaml:N: Kind default/x: " prefix.
struct RuleCase {
  std::string name;
  std::string kind;  // Service, EndpointSlice, Node, Endpoints
  std::string body;
  std::vector<std::string> errors;  // empty: accepted
};

std::string manifest(const RuleCase& tc) {
  std::string api_version = tc.kind == "EndpointSlice" ? "discovery.k8s.io/v1" : "v1";
  return "apiVersion: " + api_version + "\nkind: " + tc.kind + "\nmetadata: {name: x}\n" + tc.body + "\n";
}

std::vector<std::string> stripPrefix(const std::vector<Error>& errors, const std::string& kind) {
  std::vector<std::string> out;
  for (const Error& e : errors) {
    std::string m = e.message;
    std::string object = kind + (kind == "Node" ? " x: " : " default/x: ");
    auto pos = m.find(object);
    out.push_back(pos == std::string::npos ? m : m.substr(pos + object.size()));
  }
  return out;
}

void runRules(const std::vector<RuleCase>& cases) {
  for (const RuleCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    DecodeResult result = decodeManifests({ManifestFile{"v.yaml", manifest(tc)}});
    EXPECT_EQ(stripPrefix(result.errors, tc.kind), tc.errors);
    size_t kept = result.state.services.size() + result.state.endpoint_slices.size() + result.state.nodes.size();
    EXPECT_EQ(kept, tc.errors.empty() ? 1u : 0u);
  }
}

TEST(Validate, ServiceIPs) {
  runRules({
      {.name = "clusterIP", .kind = "Service", .body = "spec: {clusterIP: 10.96.0.10}"},
      {.name = "clusterIP with leading zeros (upstream TestBadIPs)", .kind = "Service", .body = "spec: {clusterIP: 172.30.0.041}"},
      {.name = "clusterIP with spaces", .kind = "Service", .body = "spec: {clusterIP: \" 10.96.0.10 \"}"},
      {.name = "clusterIP IPv6", .kind = "Service", .body = "spec: {clusterIP: \"fd00::10\"}"},
      {.name = "clusterIP None", .kind = "Service", .body = "spec: {clusterIP: None, clusterIPs: [None]}"},
      {.name = "clusterIP empty", .kind = "Service", .body = "spec: {clusterIP: \"\"}"},
      {.name = "bad clusterIP", .kind = "Service", .body = "spec: {clusterIP: 10.96.0.300}",
       .errors = {"spec.clusterIP: \"10.96.0.300\" is not a valid IP address"}},
      {.name = "bad clusterIP reported once, not again as clusterIPs[0]", .kind = "Service",
       .body = "spec: {clusterIP: 10.96.0.300, clusterIPs: [10.96.0.300]}",
       .errors = {"spec.clusterIP: \"10.96.0.300\" is not a valid IP address"}},
      {.name = "bad clusterIPs[1]", .kind = "Service", .body = "spec: {clusterIP: 10.0.0.1, clusterIPs: [10.0.0.1, \"fd00::x\"]}",
       .errors = {"spec.clusterIPs[1]: \"fd00::x\" is not a valid IP address"}},
      {.name = "externalIPs", .kind = "Service", .body = "spec: {externalIPs: [192.168.0.1, 192.168.000.002, \"2001:db8::1\"]}"},
      {.name = "bad externalIPs", .kind = "Service", .body = "spec: {externalIPs: [192.168.0.1, 192.168.0, \"\"]}",
       .errors = {"spec.externalIPs[1]: \"192.168.0\" is not a valid IP address",
                  "spec.externalIPs[2]: \"\" is not a valid IP address"}},
      {.name = "ingress IP and hostname", .kind = "Service",
       .body = "status: {loadBalancer: {ingress: [{ip: 1.2.3.4}, {hostname: lb.example.com}, {ip: 001.002.003.004}]}}"},
      {.name = "bad ingress IP", .kind = "Service", .body = "status: {loadBalancer: {ingress: [{ip: lb.example.com}]}}",
       .errors = {"status.loadBalancer.ingress[0].ip: \"lb.example.com\" is not a valid IP address"}},
  });
}

TEST(Validate, ServiceFamilies) {
  runRules({
      {.name = "dual-stack", .kind = "Service",
       .body = "spec: {clusterIP: 10.0.0.1, clusterIPs: [10.0.0.1, \"fd00::1\"], ipFamilies: [IPv4, IPv6]}"},
      {.name = "families without clusterIPs", .kind = "Service", .body = "spec: {clusterIP: None, ipFamilies: [IPv6]}"},
      {.name = "unknown family", .kind = "Service", .body = "spec: {ipFamilies: [IPv5]}",
       .errors = {"spec.ipFamilies[0]: \"IPv5\" is not one of IPv4, IPv6"}},
      {.name = "family does not match", .kind = "Service",
       .body = "spec: {clusterIP: 10.0.0.1, clusterIPs: [10.0.0.1, \"fd00::1\"], ipFamilies: [IPv6, IPv4]}",
       .errors = {"spec.ipFamilies[0]: IPv6 does not match spec.clusterIPs[0] \"10.0.0.1\" (IPv4)",
                  "spec.ipFamilies[1]: IPv4 does not match spec.clusterIPs[1] \"fd00::1\" (IPv6)"}},
  });
}

TEST(Validate, ServiceSourceRanges) {
  runRules({
      {.name = "ranges", .kind = "Service", .body = "spec: {loadBalancerSourceRanges: [10.0.0.0/8, \"2001:db8::/32\", 0.0.0.0/0]}"},
      {.name = "sloppy range (upstream TestBadIPs)", .kind = "Service",
       .body = "spec: {loadBalancerSourceRanges: [\" 203.0.113.000/025 \"]}"},
      {.name = "bad ranges", .kind = "Service", .body = "spec: {loadBalancerSourceRanges: [10.0.0.0/33, 10.0.0.0, x/8]}",
       .errors = {"spec.loadBalancerSourceRanges[0]: \"10.0.0.0/33\" is not a valid CIDR",
                  "spec.loadBalancerSourceRanges[1]: \"10.0.0.0\" is not a valid CIDR",
                  "spec.loadBalancerSourceRanges[2]: \"x/8\" is not a valid CIDR"}},
  });
}

TEST(Validate, ServicePorts) {
  runRules({
      {.name = "limits", .kind = "Service",
       .body = "spec: {ports: [{port: 1, nodePort: 1}, {port: 65535, nodePort: 65535}, {port: 80, nodePort: 0}], "
               "healthCheckNodePort: 65535}"},
      {.name = "port 0", .kind = "Service", .body = "spec: {ports: [{port: 0}]}", .errors = {"spec.ports[0].port: 0 not in 1-65535"}},
      {.name = "port missing", .kind = "Service", .body = "spec: {ports: [{name: a}]}",
       .errors = {"spec.ports[0].port: 0 not in 1-65535"}},
      {.name = "port 65536", .kind = "Service", .body = "spec: {ports: [{port: 65536}]}",
       .errors = {"spec.ports[0].port: 65536 not in 1-65535"}},
      {.name = "nodePort 70000", .kind = "Service", .body = "spec: {ports: [{port: 80}, {port: 81, nodePort: 70000}]}",
       .errors = {"spec.ports[1].nodePort: 70000 not in 1-65535"}},
      {.name = "negative nodePort", .kind = "Service", .body = "spec: {ports: [{port: 80, nodePort: -1}]}",
       .errors = {"spec.ports[0].nodePort: -1 not in 1-65535"}},
      {.name = "healthCheckNodePort", .kind = "Service", .body = "spec: {healthCheckNodePort: 65536}",
       .errors = {"spec.healthCheckNodePort: 65536 not in 1-65535"}},
      {.name = "protocols", .kind = "Service", .body = "spec: {ports: [{port: 1, protocol: TCP}, {port: 2, protocol: UDP}, {port: 3, protocol: SCTP}]}"},
      {.name = "unknown protocol", .kind = "Service", .body = "spec: {ports: [{port: 80, protocol: tcp}]}",
       .errors = {"spec.ports[0].protocol: \"tcp\" is not one of TCP, UDP, SCTP"}},
  });
}

TEST(Validate, ServiceEnums) {
  runRules({
      {.name = "types", .kind = "Service", .body = "spec: {type: ExternalName}"},
      {.name = "unknown type", .kind = "Service", .body = "spec: {type: Ingress}",
       .errors = {"spec.type: \"Ingress\" is not one of ClusterIP, NodePort, LoadBalancer, ExternalName"}},
      {.name = "affinity ClientIP", .kind = "Service",
       .body = "spec: {sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 86400}}}"},
      {.name = "affinity timeout 1", .kind = "Service",
       .body = "spec: {sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 1}}}"},
      {.name = "affinity timeout 0", .kind = "Service",
       .body = "spec: {sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}}",
       .errors = {"spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 not in 1-86400"}},
      {.name = "affinity timeout 86401", .kind = "Service",
       .body = "spec: {sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 86401}}}",
       .errors = {"spec.sessionAffinityConfig.clientIP.timeoutSeconds: 86401 not in 1-86400"}},
      {.name = "timeout not checked without ClientIP", .kind = "Service",
       .body = "spec: {sessionAffinity: None, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}}"},
      {.name = "unknown affinity", .kind = "Service", .body = "spec: {sessionAffinity: Cookie}",
       .errors = {"spec.sessionAffinity: \"Cookie\" is not one of None, ClientIP"}},
      {.name = "traffic policies", .kind = "Service", .body = "spec: {externalTrafficPolicy: Local, internalTrafficPolicy: Cluster}"},
      {.name = "unknown traffic policies", .kind = "Service", .body = "spec: {externalTrafficPolicy: local, internalTrafficPolicy: Node}",
       .errors = {"spec.externalTrafficPolicy: \"local\" is not one of Cluster, Local",
                  "spec.internalTrafficPolicy: \"Node\" is not one of Cluster, Local"}},
  });
}

TEST(Validate, EndpointSlices) {
  runRules({
      {.name = "IPv4", .kind = "EndpointSlice", .body = "addressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}, {addresses: [010.000.000.002]}]"},
      {.name = "IPv6", .kind = "EndpointSlice", .body = "addressType: IPv6\nendpoints: [{addresses: [\"fd00::1\"]}]"},
      {.name = "FQDN addresses are not IPs", .kind = "EndpointSlice", .body = "addressType: FQDN\nendpoints: [{addresses: [example.com]}]"},
      {.name = "bad address", .kind = "EndpointSlice",
       .body = "addressType: IPv4\nendpoints: [{addresses: [10.0.0.1]}, {addresses: [10.96.0.300]}]",
       .errors = {"endpoints[1].addresses[0]: \"10.96.0.300\" is not a valid IP address"}},
      {.name = "address of the other family", .kind = "EndpointSlice", .body = "addressType: IPv4\nendpoints: [{addresses: [\"fd00::1\"]}]",
       .errors = {"endpoints[0].addresses[0]: \"fd00::1\" is not an IPv4 address"}},
      {.name = "missing addressType", .kind = "EndpointSlice", .body = "endpoints: []", .errors = {"addressType: missing"}},
      {.name = "unknown addressType", .kind = "EndpointSlice", .body = "addressType: ipv4",
       .errors = {"addressType: \"ipv4\" is not one of IPv4, IPv6, FQDN"}},
      {.name = "ports 0 and absent are allowed", .kind = "EndpointSlice",
       .body = "addressType: IPv4\nports: [{name: a, port: 0}, {name: b}, {name: c, port: 65535, protocol: SCTP}]"},
      {.name = "bad ports", .kind = "EndpointSlice", .body = "addressType: IPv4\nports: [{port: 65536}, {port: -5}, {port: 1, protocol: ICMP}]",
       // On one line, decoding problems come before the rules'.
       .errors = {"ports[2].protocol: \"ICMP\" is not one of TCP, UDP, SCTP", "ports[0].port: 65536 not in 1-65535",
                  "ports[1].port: -5 not in 1-65535"}},
  });
}

TEST(Validate, Nodes) {
  runRules({
      {.name = "good", .kind = "Node",
       .body = "spec: {podCIDRs: [10.0.1.0/24, \"fd00:1::/64\"]}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.2}, "
               "{type: ExternalIP, address: \"2001:db8::2\"}, {type: Hostname, address: node-1}, {type: InternalDNS, address: n.local}]}"},
      {.name = "bad podCIDR", .kind = "Node", .body = "spec: {podCIDR: 10.0.1.0/40}", .errors = {"spec.podCIDRs[0]: \"10.0.1.0/40\" is not a valid CIDR"}},
      {.name = "bad podCIDRs", .kind = "Node", .body = "spec: {podCIDRs: [10.0.1.0/24, 10.0.1.0]}",
       .errors = {"spec.podCIDRs[1]: \"10.0.1.0\" is not a valid CIDR"}},
      {.name = "bad node addresses", .kind = "Node",
       .body = "status: {addresses: [{type: InternalIP, address: node-1}, {type: ExternalIP, address: 1.2.3.256}]}",
       .errors = {"status.addresses[0].address: \"node-1\" is not a valid IP address",
                  "status.addresses[1].address: \"1.2.3.256\" is not a valid IP address"}},
  });
}

TEST(Validate, LegacyEndpoints) {
  runRules({
      {.name = "bad addresses and ports", .kind = "Endpoints",
       .body = "subsets: [{addresses: [{ip: 10.0.0.1}, {ip: x}], notReadyAddresses: [{ip: 1.2.3}], ports: [{port: 0}, {port: 80, protocol: ICMP}]}]",
       .errors = {"subsets[0].ports[1].protocol: \"ICMP\" is not one of TCP, UDP, SCTP",
                  "subsets[0].addresses[1].ip: \"x\" is not a valid IP address",
                  "subsets[0].notReadyAddresses[0].ip: \"1.2.3\" is not a valid IP address",
                  "subsets[0].ports[0].port: 0 not in 1-65535"}},
  });
}

TEST(Validate, MissingName) {
  for (const std::string kind : {"Service", "Node"}) {
    SCOPED_TRACE(kind);
    DecodeResult result = decodeManifests({ManifestFile{"v.yaml", "apiVersion: v1\nkind: " + kind + "\nmetadata: {}\n"}});
    EXPECT_THAT(messages(result.errors), ElementsAre("v.yaml:1: " + kind + ": metadata.name: missing"));
  }
  DecodeResult slice = decodeManifests({ManifestFile{"v.yaml", "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\naddressType: IPv4\n"}});
  EXPECT_THAT(messages(slice.errors), ElementsAre("v.yaml:1: EndpointSlice: metadata.name: missing"));
}

// The functions of validate.h on objects that did not come from a file (the daemon's case).
TEST(Validate, DirectCalls) {
  Service service;
  service.meta.namespace_ = "default";
  service.meta.name = "web";
  service.ports = {ServicePort{.name = "a", .port = 80, .node_port = 30080},
                   ServicePort{.name = "b", .port = 81, .node_port = 70000}};
  EXPECT_THAT(messages(validateService(service)),
              ElementsAre("Service default/web: spec.ports[1].nodePort: 70000 not in 1-65535"));
  service.ports.pop_back();
  EXPECT_THAT(validateService(service), IsEmpty());

  service.meta.source = SourceRef{"cluster.yaml", 3};
  service.meta.field_lines["spec.clusterIP"] = 7;
  service.cluster_ip = "1.2.3";
  service.session_affinity = "ClientIP";
  service.session_affinity_timeout = 0;
  EXPECT_THAT(messages(validateService(service)),
              ElementsAre("cluster.yaml:7: Service default/web: spec.clusterIP: \"1.2.3\" is not a valid IP address",
                          "cluster.yaml:3: Service default/web: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 not in 1-86400"));

  EndpointSlice slice;
  slice.meta.namespace_ = "default";
  slice.meta.name = "web-1";
  slice.address_type = "IPv6";
  slice.endpoints = {Endpoint{.addresses = {"fd00::1"}}, Endpoint{.addresses = {"10.0.0.1"}}};
  EXPECT_THAT(messages(validateEndpointSlice(slice)),
              ElementsAre("EndpointSlice default/web-1: endpoints[1].addresses[0]: \"10.0.0.1\" is not an IPv6 address"));

  Node node;
  node.meta.name = "n";
  node.pod_cidrs = {"10.0.0.0/24"};
  node.addresses = {NodeAddress{.type = "InternalIP", .address = "10.0.0.300"}};
  EXPECT_THAT(messages(validateNode(node)),
              ElementsAre("Node n: status.addresses[0].address: \"10.0.0.300\" is not a valid IP address"));
}

}  // namespace
}  // namespace kproxy::api
