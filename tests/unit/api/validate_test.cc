#include "src/api/validate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "src/api/decode.h"
#include "src/api/decode_internal.h"

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


// ---------------------------------------------------------------------------------------------
// Hostile strings in every field that reaches a payload, a chain or set name, a comment or a log
// line (issue 15): each is refused with the field's API path, the object is left out, and the
// message carries no raw control character.

// A YAML double-quoted scalar for `value` (YAML escapes: \n, \r, \0, \", \\).
std::string yamlQuoted(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\0': out += "\\0"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default: out.push_back(c);
    }
  }
  return out + "\"";
}

struct HostileValue {
  std::string name;
  std::string value;
};

const std::vector<HostileValue>& hostileValues() {
  static const std::vector<HostileValue> values = {
      {"newline and a rule", "x\n-A KUBE-SERVICES -j ACCEPT"},
      {"carriage return", "x\r-A KUBE-SERVICES -j ACCEPT"},
      {"double quote", "x\" -j ACCEPT -m comment --comment \"y"},
      {"NUL", std::string("x\0y", 3)},
      {"backslash", "x\\y"},
      {"space", "x -j ACCEPT"},
      {"semicolon", "x;y"},
      {"leading dash", "-x"},
      {"trailing dash", "x-"},
      {"too long", std::string(300, 'a')},
  };
  return values;
}

struct HostileField {
  std::string name;
  std::string kind;          // of the object reported
  std::string object;        // "default/web" as printed ("" when it is the hostile value itself)
  std::string path;          // the API path named by the error
  bool label_value = false;  // label values allow '.', '_' and uppercase, and "" (not hostile there)
  bool subdomain = false;    // DNS-1123 subdomains allow '.'
  std::string manifest;      // with VALUE where the hostile value goes (YAML-quoted)
};

std::vector<HostileField> hostileFields() {
  const std::string slice_head =
      "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, namespace: default, labels: "
      "{kubernetes.io/service-name: web}}\naddressType: IPv4\n";
  return {
      {.name = "Service metadata.name", .kind = "Service", .path = "metadata.name",
       .manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: VALUE}\nspec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}\n"},
      {.name = "Service metadata.namespace", .kind = "Service", .path = "metadata.namespace",
       .manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: VALUE}\nspec: {clusterIP: 10.96.0.1}\n"},
      {.name = "Service spec.ports[0].name", .kind = "Service", .object = "default/web", .path = "spec.ports[0].name",
       .manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: 10.96.0.1, ports: [{name: VALUE, port: 80}]}\n"},
      {.name = "Service spec.ports[1].targetPort (named)", .kind = "Service", .object = "default/web",
       .path = "spec.ports[1].targetPort",
       .manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: 10.96.0.1, ports: "
                   "[{name: a, port: 80}, {name: b, port: 81, targetPort: VALUE}]}\n"},
      {.name = "Service spec.clusterIP", .kind = "Service", .object = "default/web", .path = "spec.clusterIP",
       .manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {clusterIP: VALUE}\n"},
      {.name = "Service spec.externalIPs[0]", .kind = "Service", .object = "default/web", .path = "spec.externalIPs[0]",
       .manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {externalIPs: [VALUE]}\n"},
      {.name = "Service spec.loadBalancerSourceRanges[0]", .kind = "Service", .object = "default/web",
       .path = "spec.loadBalancerSourceRanges[0]",
       .manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {loadBalancerSourceRanges: [VALUE]}\n"},
      {.name = "Service spec.ports[0].protocol", .kind = "Service", .object = "default/web", .path = "spec.ports[0].protocol",
       .manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80, protocol: VALUE}]}\n"},
      {.name = "Service spec.type", .kind = "Service", .object = "default/web", .path = "spec.type",
       .manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {type: VALUE}\n"},
      {.name = "Service label service-proxy-name", .kind = "Service", .object = "default/web",
       .path = "metadata.labels[service.kubernetes.io/service-proxy-name]", .label_value = true,
       .manifest = "apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {service.kubernetes.io/service-proxy-name: VALUE}}\n"},
      {.name = "EndpointSlice metadata.name", .kind = "EndpointSlice", .path = "metadata.name", .subdomain = true,
       .manifest = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: VALUE}\naddressType: IPv4\n"},
      {.name = "EndpointSlice metadata.namespace", .kind = "EndpointSlice", .path = "metadata.namespace",
       .manifest = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, namespace: VALUE}\naddressType: IPv4\n"},
      {.name = "EndpointSlice label kubernetes.io/service-name", .kind = "EndpointSlice", .object = "default/web-1",
       .path = "metadata.labels[kubernetes.io/service-name]", .label_value = true,
       .manifest = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, labels: "
                   "{kubernetes.io/service-name: VALUE}}\naddressType: IPv4\n"},
      {.name = "EndpointSlice ports[0].name", .kind = "EndpointSlice", .object = "default/web-1", .path = "ports[0].name",
       .manifest = slice_head + "ports: [{name: VALUE, port: 8080}]\n"},
      {.name = "EndpointSlice endpoints[0].addresses[0]", .kind = "EndpointSlice", .object = "default/web-1",
       .path = "endpoints[0].addresses[0]", .manifest = slice_head + "endpoints: [{addresses: [VALUE]}]\n"},
      {.name = "EndpointSlice endpoints[0].nodeName", .kind = "EndpointSlice", .object = "default/web-1",
       .path = "endpoints[0].nodeName", .subdomain = true,
       .manifest = slice_head + "endpoints: [{addresses: [10.0.0.1], nodeName: VALUE}]\n"},
      {.name = "EndpointSlice endpoints[0].zone", .kind = "EndpointSlice", .object = "default/web-1",
       .path = "endpoints[0].zone", .label_value = true,
       .manifest = slice_head + "endpoints: [{addresses: [10.0.0.1], zone: VALUE}]\n"},
      {.name = "EndpointSlice hints.forZones", .kind = "EndpointSlice", .object = "default/web-1",
       .path = "endpoints[0].hints.forZones[0].name", .label_value = true,
       .manifest = slice_head + "endpoints: [{addresses: [10.0.0.1], hints: {forZones: [{name: VALUE}]}}]\n"},
      {.name = "EndpointSlice hints.forNodes", .kind = "EndpointSlice", .object = "default/web-1",
       .path = "endpoints[0].hints.forNodes[0].name", .subdomain = true,
       .manifest = slice_head + "endpoints: [{addresses: [10.0.0.1], hints: {forNodes: [{name: VALUE}]}}]\n"},
      {.name = "Node metadata.name", .kind = "Node", .path = "metadata.name", .subdomain = true,
       .manifest = "apiVersion: v1\nkind: Node\nmetadata: {name: VALUE}\n"},
      {.name = "Node zone label", .kind = "Node", .object = "n1", .path = "metadata.labels[topology.kubernetes.io/zone]",
       .label_value = true, .manifest = "apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {topology.kubernetes.io/zone: VALUE}}\n"},
      {.name = "Node hostname label", .kind = "Node", .object = "n1", .path = "metadata.labels[kubernetes.io/hostname]",
       .label_value = true, .manifest = "apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {kubernetes.io/hostname: VALUE}}\n"},
      {.name = "Node podCIDRs", .kind = "Node", .object = "n1", .path = "spec.podCIDRs[0]",
       .manifest = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {podCIDRs: [VALUE]}\n"},
      {.name = "Node InternalIP", .kind = "Node", .object = "n1", .path = "status.addresses[0].address",
       .manifest = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {addresses: [{type: InternalIP, address: VALUE}]}\n"},
      {.name = "ServiceCIDR metadata.name", .kind = "ServiceCIDR", .path = "metadata.name", .subdomain = true,
       .manifest = "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: VALUE}\nspec: {cidrs: [10.96.0.0/16]}\n"},
      {.name = "ServiceCIDR spec.cidrs[0]", .kind = "ServiceCIDR", .object = "c1", .path = "spec.cidrs[0]",
       .manifest = "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata: {name: c1}\nspec: {cidrs: [VALUE]}\n"},
      {.name = "Endpoints metadata.name", .kind = "Endpoints", .path = "metadata.name", .subdomain = true,
       .manifest = "apiVersion: v1\nkind: Endpoints\nmetadata: {name: VALUE}\n"},
      {.name = "Endpoints ports[0].name", .kind = "Endpoints", .object = "default/web", .path = "subsets[0].ports[0].name",
       .manifest = "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: 10.0.0.1}], ports: "
                   "[{name: VALUE, port: 80}]}]\n"},
      {.name = "Endpoints hostname", .kind = "Endpoints", .object = "default/web", .path = "subsets[0].addresses[0].hostname",
       .manifest = "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: 10.0.0.1, hostname: VALUE}]}]\n"},
  };
}

bool hasRawControl(const std::string& text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

size_t keptObjects(const DecodeResult& r) {
  return r.state.services.size() + r.state.endpoint_slices.size() + r.state.nodes.size() + r.state.service_cidrs.size();
}

TEST(Validate, HostileStringsInEveryField) {
  for (const HostileField& field : hostileFields()) {
    // Control: the manifest with a harmless value is accepted (so the refusals below are the
    // value's doing).
    {
      SCOPED_TRACE(field.name + " / control");
      std::string good = field.manifest;
      std::string good_value = field.path.find("hostname") != std::string::npos ? "ok-1"
                               : field.path.find("IP") != std::string::npos || field.path.find("address") != std::string::npos
                                   ? "10.0.0.9"
                                   : field.path.find("CIDR") != std::string::npos || field.path.find("cidrs") != std::string::npos ||
                                             field.path.find("SourceRanges") != std::string::npos
                                         ? "10.0.0.0/24"
                                         : field.path.find("protocol") != std::string::npos ? "UDP"
                                         : field.path.find("type") != std::string::npos     ? "NodePort"
                                                                                            : "ok-1";
      good.replace(good.find("VALUE"), 5, yamlQuoted(good_value));
      DecodeResult result = decodeManifests({ManifestFile{"h.yaml", good}});
      EXPECT_THAT(messages(result.errors), IsEmpty());
    }
    for (const HostileValue& hostile : hostileValues()) {
      if (field.label_value && (hostile.name == "leading dash" || hostile.name == "trailing dash")) continue;
      SCOPED_TRACE(field.name + " / " + hostile.name);
      std::string manifest = field.manifest;
      manifest.replace(manifest.find("VALUE"), 5, yamlQuoted(hostile.value));
      DecodeResult result = decodeManifests({ManifestFile{"h.yaml", manifest}});
      ASSERT_FALSE(result.errors.empty()) << manifest;
      EXPECT_EQ(keptObjects(result), 0u);
      const std::string& message = result.errors[0].message;
      // "h.yaml:N: Kind ns/name: path: ..." (the object's name escaped when it is the hostile value).
      std::string object = field.kind;
      if (!field.object.empty()) object += " " + field.object;
      EXPECT_NE(message.find(object), std::string::npos) << message;
      EXPECT_NE(message.find(": " + field.path + ": "), std::string::npos) << message;
      EXPECT_EQ(message.rfind("h.yaml:", 0), 0u) << message;
      for (const Error& e : result.errors) EXPECT_FALSE(hasRawControl(e.message)) << e.message;
    }
  }
}

// The rules themselves, on the edges upstream's tests use.
TEST(Validate, NameRules) {
  using internal::dns1035LabelProblem;
  using internal::dns1123LabelProblem;
  using internal::dns1123SubdomainProblem;
  using internal::labelKeyProblem;
  using internal::labelValueProblem;
  using internal::portNameProblem;
  struct Case {
    std::string value;
    bool label, label1035, subdomain, port_name, label_value;
  };
  const std::vector<Case> cases = {
      {"a", true, true, true, true, true},
      {"web-1", true, true, true, true, true},
      {"1web", true, false, true, true, true},
      {"123", true, false, true, false, true},
      {"a.b", false, false, true, false, true},
      {"A", false, false, false, false, true},
      {"a_b", false, false, false, false, true},
      {"-a", false, false, false, false, false},
      {"a-", false, false, false, false, false},
      {"a--b", true, true, true, false, true},
      {"a..b", false, false, false, false, true},
      {"", false, false, false, false, true},
      {std::string(15, 'a'), true, true, true, true, true},
      {std::string(16, 'a'), true, true, true, false, true},
      {std::string(63, 'a'), true, true, true, false, true},
      {std::string(64, 'a'), false, false, true, false, false},
      {std::string(253, 'a'), false, false, true, false, false},
      {std::string(254, 'a'), false, false, false, false, false},
      {"a\nb", false, false, false, false, false},
      {"a b", false, false, false, false, false},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(internal::quote(tc.value));
    EXPECT_EQ(dns1123LabelProblem(tc.value).empty(), tc.label) << dns1123LabelProblem(tc.value);
    EXPECT_EQ(dns1035LabelProblem(tc.value).empty(), tc.label1035) << dns1035LabelProblem(tc.value);
    EXPECT_EQ(dns1123SubdomainProblem(tc.value).empty(), tc.subdomain) << dns1123SubdomainProblem(tc.value);
    EXPECT_EQ(portNameProblem(tc.value).empty(), tc.port_name) << portNameProblem(tc.value);
    EXPECT_EQ(labelValueProblem(tc.value).empty(), tc.label_value) << labelValueProblem(tc.value);
  }
  EXPECT_EQ(labelKeyProblem("topology.kubernetes.io/zone"), "");
  EXPECT_EQ(labelKeyProblem("App_Name"), "");
  EXPECT_NE(labelKeyProblem("a/b/c"), "");
  EXPECT_NE(labelKeyProblem("/a"), "");
  EXPECT_NE(labelKeyProblem("Example.com/a"), "");
  EXPECT_NE(labelKeyProblem("example.com/"), "");
  EXPECT_EQ(dns1123LabelProblem("Web"),
            "\"Web\" is not a valid DNS-1123 label: must be lowercase: only 'a'-'z', '0'-'9' and '-' are allowed");
  EXPECT_EQ(portNameProblem("a--"), "\"a--\" is not a valid port name (IANA service name): must not contain two '-' in a row; "
                                    "must not begin or end with '-'");
}

TEST(Validate, TargetPorts) {
  runRules({
      {.name = "named and numbered", .kind = "Service",
       .body = "spec: {ports: [{name: a, port: 80, targetPort: http}, {name: b, port: 81, targetPort: 8080}, "
               "{name: c, port: 82, targetPort: 0}, {name: d, port: 83, targetPort: \"\"}]}"},
      {.name = "a quoted number is a name (no letter)", .kind = "Service",
       .body = "spec: {ports: [{port: 80, targetPort: \"8080\"}]}",
       .errors = {"spec.ports[0].targetPort: \"8080\" is not a valid port name (IANA service name): must contain at least "
                  "one letter 'a'-'z'"}},
      {.name = "number out of range", .kind = "Service", .body = "spec: {ports: [{port: 80, targetPort: 65536}]}",
       .errors = {"spec.ports[0].targetPort: 65536 not in 1-65535"}},
      {.name = "name too long", .kind = "Service", .body = "spec: {ports: [{port: 80, targetPort: abcdefghijklmnop}]}",
       .errors = {"spec.ports[0].targetPort: \"abcdefghijklmnop\" is not a valid port name (IANA service name): must be no "
                  "more than 15 characters"}},
      {.name = "a map", .kind = "Service", .body = "spec: {ports: [{port: 80, targetPort: {a: 1}}]}",
       .errors = {"spec.ports[0].targetPort: expected an integer or a string, got a map"}},
  });
}

TEST(Validate, NamesAndLabelsAccepted) {
  DecodeResult r = decodeManifests({ManifestFile{"v.yaml",
      "apiVersion: v1\nkind: Node\nmetadata:\n  name: node-1.example.com\n  labels: {topology.kubernetes.io/zone: us-east-1a, "
      "kubernetes.io/hostname: Node_1.x, example.com/empty: \"\"}\nspec: {taints: [{key: example.com/t, effect: NoSchedule}]}\n"}});
  EXPECT_THAT(messages(r.errors), IsEmpty());
  DecodeResult digit = decodeManifests({ManifestFile{"v.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\n"}});
  EXPECT_THAT(messages(digit.errors),
              ElementsAre("v.yaml:3: Service default/1web: metadata.name: \"1web\" is not a valid DNS-1035 label: must start "
                          "with a lowercase letter"));
  DecodeResult taint = decodeManifests({ManifestFile{"v.yaml",
      "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nspec: {taints: [{key: \"a b\", value: \"x\\ny\", effect: Never}]}\n"}});
  EXPECT_EQ(taint.errors.size(), 3u) << ::testing::PrintToString(messages(taint.errors));
}

}  // namespace
}  // namespace kproxy::api
