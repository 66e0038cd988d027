#include "src/api/decode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace kproxy::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::vector<std::string> messages(const DecodeResult& result) {
  std::vector<std::string> out;
  for (const Error& e : result.errors) out.push_back(e.message);
  return out;
}

DecodeResult decode(const std::string& bytes, const std::string& name = "test.yaml") {
  return decodeManifests({ManifestFile{name, bytes}});
}

std::vector<std::string> serviceNames(const DecodeResult& result) {
  std::vector<std::string> out;
  for (const auto& s : result.state.services) out.push_back(s->meta.namespacedName().toString());
  return out;
}

std::vector<std::string> sliceNames(const DecodeResult& result) {
  std::vector<std::string> out;
  for (const auto& s : result.state.endpoint_slices) out.push_back(s->meta.namespacedName().toString());
  return out;
}

std::vector<std::string> nodeNames(const DecodeResult& result) {
  std::vector<std::string> out;
  for (const auto& n : result.state.nodes) out.push_back(n->meta.name);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Input formats

struct FormatCase {
  std::string name;
  std::string file_name;
  std::string bytes;
  std::vector<std::string> services;
  std::vector<std::string> slices;
  std::vector<std::string> nodes;
};

TEST(DecodeManifests, Formats) {
  const std::vector<FormatCase> cases = {
      {.name = "yaml stream with empty documents",
       .file_name = "c.yaml",
       .bytes = R"(---
apiVersion: v1
kind: Service
metadata: {name: a, namespace: ns}
spec: {clusterIP: 10.0.0.1, ports: [{port: 80}]}
---
---
# only a comment
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: a-1, namespace: ns, labels: {kubernetes.io/service-name: a}}
addressType: IPv4
endpoints: [{addresses: [10.1.0.1]}]
...
)",
       .services = {"ns/a"},
       .slices = {"ns/a-1"}},
      {.name = "kubectl List, nested List",
       .file_name = "c.yaml",
       .bytes = R"(apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: v1
  kind: Node
  metadata: {name: node-1}
- apiVersion: v1
  kind: List
  items:
  - apiVersion: v1
    kind: Service
    metadata: {name: b}
    spec: {clusterIP: 10.0.0.2}
- apiVersion: v1
  kind: Service
  metadata: {name: a}
  spec: {clusterIP: 10.0.0.1}
)",
       .services = {"default/b", "default/a"},
       .nodes = {"node-1"}},
      {.name = "typed lists: items may omit apiVersion and kind",
       .file_name = "c.yaml",
       .bytes = R"(apiVersion: v1
kind: ServiceList
items:
- metadata: {name: a}
  spec: {clusterIP: 10.0.0.1}
- apiVersion: v1
  kind: Service
  metadata: {name: b}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSliceList
items:
- metadata: {name: a-1, labels: {kubernetes.io/service-name: a}}
  addressType: IPv4
---
apiVersion: v1
kind: NodeList
items:
- metadata: {name: n1}
---
apiVersion: v1
kind: EndpointsList
items:
- metadata: {name: c}
  subsets: [{addresses: [{ip: 10.1.0.9}], ports: [{port: 80}]}]
)",
       .services = {"default/a", "default/b"},
       .slices = {"default/a-1", "default/c-mirror-1"},
       .nodes = {"n1"}},
      {.name = "bare sequence of objects",
       .file_name = "c.yaml",
       .bytes = R"(- {apiVersion: v1, kind: Service, metadata: {name: a}}
- {apiVersion: v1, kind: Service, metadata: {name: b}}
)",
       .services = {"default/a", "default/b"}},
      {.name = "JSON object",
       .file_name = "c.json",
       .bytes = R"({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"},
                   "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80}]}})",
       .services = {"x/a"}},
      {.name = "JSON List",
       .file_name = "c.json",
       .bytes = R"({
  "apiVersion": "v1",
  "items": [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv6",
     "metadata": {"name": "a-1", "labels": {"kubernetes.io/service-name": "a"}},
     "endpoints": [{"addresses": ["fd00::1"]}]},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}}
  ],
  "kind": "List",
  "metadata": {"resourceVersion": ""}
})",
       .services = {"default/a"},
       .slices = {"default/a-1"},
       .nodes = {"n"}},
      {.name = "JSON stream of objects",
       .file_name = "c.json",
       .bytes = "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\"}}\n"
                "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"b\"}}\n",
       .services = {"default/a", "default/b"}},
      {.name = "JSON array of objects, with byte order mark",
       .file_name = "c.json",
       .bytes = "\xEF\xBB\xBF [{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\"}}]",
       .services = {"default/a"}},
      {.name = "empty files",
       .file_name = "c.yaml",
       .bytes = "",
       .services = {}},
      {.name = "white space only",
       .file_name = "c.yaml",
       .bytes = "\n   \n# nothing\n",
       .services = {}},
  };
  for (const FormatCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    DecodeResult result = decode(tc.bytes, tc.file_name);
    EXPECT_THAT(messages(result), IsEmpty());
    EXPECT_EQ(serviceNames(result), tc.services);
    EXPECT_EQ(sliceNames(result), tc.slices);
    EXPECT_EQ(nodeNames(result), tc.nodes);
  }
}

TEST(DecodeManifests, JsonAndYamlGiveTheSameObjects) {
  const std::string yaml = R"(apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: prod
  labels: {app: web}
  annotations: {note: "x", endpoints.kubernetes.io/last-change-trigger-time: "2024-01-01T00:00:00Z"}
  resourceVersion: "42"
spec:
  type: LoadBalancer
  clusterIP: 10.0.0.10
  clusterIPs: [10.0.0.10, "fd00::10"]
  ipFamilies: [IPv4, IPv6]
  ports:
  - {name: http, port: 80, protocol: TCP, nodePort: 30080}
  - {name: dns, port: 53, protocol: UDP}
  externalIPs: [192.168.1.1]
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 300}}
  externalTrafficPolicy: Local
  internalTrafficPolicy: Cluster
  healthCheckNodePort: 31000
  loadBalancerSourceRanges: [10.0.0.0/8]
  selector: {app: web}
status:
  loadBalancer:
    ingress: [{ip: 1.2.3.4, ipMode: Proxy}, {hostname: lb.example.com}]
)";
  const std::string json = R"({"apiVersion": "v1", "kind": "Service",
  "metadata": {"name": "web", "namespace": "prod", "labels": {"app": "web"}, "annotations": {"note": "x",
               "endpoints.kubernetes.io/last-change-trigger-time": "2024-01-01T00:00:00Z"}, "resourceVersion": "42"},
  "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10", "fd00::10"],
           "ipFamilies": ["IPv4", "IPv6"],
           "ports": [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080},
                     {"name": "dns", "port": 53, "protocol": "UDP"}],
           "externalIPs": ["192.168.1.1"], "sessionAffinity": "ClientIP",
           "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 300}},
           "externalTrafficPolicy": "Local", "internalTrafficPolicy": "Cluster", "healthCheckNodePort": 31000,
           "loadBalancerSourceRanges": ["10.0.0.0/8"], "selector": {"app": "web"}},
  "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "Proxy"}, {"hostname": "lb.example.com"}]}}})";
  for (const auto& [name, bytes] : {std::pair{"c.yaml", yaml}, std::pair{"c.json", json}}) {
    SCOPED_TRACE(name);
    DecodeResult result = decode(bytes, name);
    ASSERT_THAT(messages(result), IsEmpty());
    ASSERT_EQ(result.state.services.size(), 1u);
    const Service& s = *result.state.services[0];
    EXPECT_EQ(s.meta.name, "web");
    EXPECT_EQ(s.meta.namespace_, "prod");
    EXPECT_EQ(s.meta.resource_version, "42");
    // Only the labels kube-proxy reads are kept (service-name, service-proxy-name, headless).
    EXPECT_THAT(s.meta.labels, IsEmpty());
    // Only the annotation kube-proxy reads is kept; the rest would cost memory on big clusters.
    EXPECT_EQ(s.meta.annotations, (std::map<std::string, std::string>{
                                      {"endpoints.kubernetes.io/last-change-trigger-time", "2024-01-01T00:00:00Z"}}));
    EXPECT_EQ(s.meta.source.file, name);
    EXPECT_EQ(s.meta.source.line, 1);
    EXPECT_EQ(s.type, "LoadBalancer");
    EXPECT_EQ(s.cluster_ip, "10.0.0.10");
    EXPECT_THAT(s.cluster_ips, ElementsAre("10.0.0.10", "fd00::10"));
    EXPECT_THAT(s.ip_families, ElementsAre("IPv4", "IPv6"));
    EXPECT_THAT(s.ports, ElementsAre(ServicePort{.name = "http", .protocol = Protocol::kTCP, .port = 80, .node_port = 30080},
                                     ServicePort{.name = "dns", .protocol = Protocol::kUDP, .port = 53, .node_port = 0}));
    EXPECT_THAT(s.external_ips, ElementsAre("192.168.1.1"));
    EXPECT_EQ(s.session_affinity, "ClientIP");
    EXPECT_EQ(s.session_affinity_timeout, 300);
    EXPECT_EQ(s.external_traffic_policy, "Local");
    EXPECT_EQ(s.internal_traffic_policy, "Cluster");
    EXPECT_EQ(s.health_check_node_port, 31000);
    EXPECT_THAT(s.load_balancer_source_ranges, ElementsAre("10.0.0.0/8"));
    EXPECT_THAT(s.load_balancer_ingress,
                ElementsAre(LoadBalancerIngress{.ip = "1.2.3.4", .ip_mode = "Proxy"},
                            LoadBalancerIngress{.hostname = "lb.example.com"}));
    EXPECT_TRUE(s.has_selector);
  }
}

// JSON is parsed in place when the bytes have spare capacity for the parser's padding, and
// copied otherwise; both give the same result.
TEST(DecodeManifests, JsonInPlaceAndCopied) {
  const std::string json = R"({"apiVersion": "v1", "kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a"}, "spec": {"clusterIP": "10.0.0.1"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}, "spec": {"ports": [{"port": 0}]}}]})";
  for (bool padded : {false, true}) {
    SCOPED_TRACE(padded ? "in place" : "copied");
    std::vector<ManifestFile> files(1);
    files[0].name = "c.json";
    if (padded) files[0].bytes.reserve(json.size() + kManifestPadding);
    files[0].bytes.append(json);
    if (!padded) files[0].bytes.shrink_to_fit();
    DecodeResult result = decodeManifests(files);
    EXPECT_THAT(serviceNames(result), ElementsAre("default/a"));
    EXPECT_THAT(messages(result), ElementsAre("c.json:3: Service default/b: spec.ports[0].port: 0 not in 1-65535"));
  }
}

TEST(DecodeManifests, SourceLines) {
  const std::string yaml = R"(# header
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: a}
- apiVersion: v1
  kind: Node
  metadata: {name: n}
---

apiVersion: v1
kind: Service
metadata: {name: b}
)";
  DecodeResult y = decode(yaml, "c.yaml");
  ASSERT_EQ(y.state.services.size(), 2u);
  EXPECT_EQ(y.state.services[0]->meta.source.line, 5);
  EXPECT_EQ(y.state.services[1]->meta.source.line, 13);
  ASSERT_EQ(y.state.nodes.size(), 1u);
  EXPECT_EQ(y.state.nodes[0]->meta.source.line, 8);

  const std::string json = "{\n  \"kind\": \"List\",\n  \"apiVersion\": \"v1\",\n  \"items\": [\n"
                           "    {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\"}},\n\n"
                           "    {\n      \"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"b\"}}\n  ]\n}\n";
  DecodeResult j = decode(json, "c.json");
  ASSERT_EQ(j.state.services.size(), 2u);
  EXPECT_EQ(j.state.services[0]->meta.source.line, 5);
  EXPECT_EQ(j.state.services[1]->meta.source.line, 7);
}

// ---------------------------------------------------------------------------------------------
// Defaults

TEST(DecodeManifests, ServiceDefaults) {
  struct Case {
    std::string name;
    std::string spec;
    std::string type = "ClusterIP";
    std::vector<std::string> cluster_ips;
    std::vector<std::string> ip_families;
    std::string affinity = "None";
    int32_t timeout = 10800;
    Protocol protocol = Protocol::kTCP;
  };
  const std::vector<Case> cases = {
      {.name = "nothing set", .spec = "{ports: [{port: 80}]}"},
      {.name = "empty strings are unset", .spec = "{type: \"\", sessionAffinity: \"\", ports: [{port: 80, protocol: \"\"}]}"},
      {.name = "clusterIPs from clusterIP, family from it",
       .spec = "{clusterIP: 10.0.0.1, ports: [{port: 80, protocol: UDP}]}",
       .cluster_ips = {"10.0.0.1"},
       .ip_families = {"IPv4"},
       .protocol = Protocol::kUDP},
      {.name = "IPv6 family, sloppy IPv4",
       .spec = "{clusterIPs: [\"fd00::1\", 010.0.0.1]}",
       .cluster_ips = {"fd00::1", "010.0.0.1"},
       .ip_families = {"IPv6", "IPv4"}},
      {.name = "given clusterIPs and ipFamilies are kept",
       .spec = "{clusterIP: 10.0.0.1, clusterIPs: [10.0.0.1], ipFamilies: [IPv4]}",
       .cluster_ips = {"10.0.0.1"},
       .ip_families = {"IPv4"}},
      {.name = "headless: None is not copied", .spec = "{clusterIP: None}"},
      {.name = "ClientIP without config gets 10800", .spec = "{sessionAffinity: ClientIP}", .affinity = "ClientIP"},
      {.name = "ClientIP with empty clientIP gets 10800",
       .spec = "{sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {}}}",
       .affinity = "ClientIP"},
      {.name = "ClientIP timeout", .spec = "{sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}}",
       .affinity = "ClientIP",
       .timeout = 60},
      {.name = "type kept", .spec = "{type: NodePort}", .type = "NodePort"},
      {.name = "SCTP", .spec = "{ports: [{port: 80, protocol: SCTP}]}", .protocol = Protocol::kSCTP},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    DecodeResult result = decode("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: " + tc.spec + "\n");
    ASSERT_THAT(messages(result), IsEmpty());
    ASSERT_EQ(result.state.services.size(), 1u);
    const Service& s = *result.state.services[0];
    EXPECT_EQ(s.meta.namespace_, "default");
    EXPECT_EQ(s.type, tc.type);
    EXPECT_EQ(s.cluster_ips, tc.cluster_ips);
    EXPECT_EQ(s.ip_families, tc.ip_families);
    EXPECT_EQ(s.session_affinity, tc.affinity);
    EXPECT_EQ(s.session_affinity_timeout, tc.timeout);
    if (!s.ports.empty()) {
      EXPECT_EQ(s.ports[0].protocol, tc.protocol);
    }
    EXPECT_FALSE(s.has_selector);
  }
}

TEST(DecodeManifests, EndpointSliceFields) {
  const std::string yaml = R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-abc
  labels: {kubernetes.io/service-name: web}
  managedFields: [{manager: kube-controller-manager}]
  uid: 1234
  creationTimestamp: "2024-01-01T00:00:00Z"
addressType: IPv4
endpoints:
- addresses: [10.1.0.1]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  zone: zone-a
  hints: {forZones: [{name: zone-a}, {name: zone-b}], forNodes: [{name: node-1}]}
  targetRef: {kind: Pod, name: web-1}
- addresses: [10.1.0.2]
  conditions: {ready: false}
- addresses: [10.1.0.3]
  conditions: {}
- addresses: [10.1.0.4]
  conditions: {ready: null, serving: yes, terminating: True}
ports:
- {name: http, port: 8080, protocol: TCP, appProtocol: http}
- {port: 53, protocol: UDP}
- {name: none}
)";
  const std::string json = R"({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
  "metadata": {"name": "web-abc", "labels": {"kubernetes.io/service-name": "web"},
               "managedFields": [{"manager": "kube-controller-manager"}], "uid": "1234"},
  "addressType": "IPv4",
  "endpoints": [
    {"addresses": ["10.1.0.1"], "conditions": {"ready": true, "serving": true, "terminating": false},
     "nodeName": "node-1", "zone": "zone-a",
     "hints": {"forZones": [{"name": "zone-a"}, {"name": "zone-b"}], "forNodes": [{"name": "node-1"}]},
     "targetRef": {"kind": "Pod", "name": "web-1"}},
    {"addresses": ["10.1.0.2"], "conditions": {"ready": false}},
    {"addresses": ["10.1.0.3"], "conditions": {}},
    {"addresses": ["10.1.0.4"], "conditions": {"ready": null, "serving": true, "terminating": true}}],
  "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"},
            {"port": 53, "protocol": "UDP"}, {"name": "none"}]})";
  for (const auto& [name, bytes] : {std::pair{"c.yaml", yaml}, std::pair{"c.json", json}}) {
    SCOPED_TRACE(name);
    DecodeResult result = decode(bytes, name);
    ASSERT_THAT(messages(result), IsEmpty());
    ASSERT_EQ(result.state.endpoint_slices.size(), 1u);
    const EndpointSlice& s = *result.state.endpoint_slices[0];
    EXPECT_EQ(s.serviceName(), "web");
    EXPECT_EQ(s.meta.namespace_, "default");
    EXPECT_EQ(s.address_type, "IPv4");
    EXPECT_THAT(s.endpoints,
                ElementsAre(Endpoint{.addresses = {"10.1.0.1"},
                                     .conditions = {.ready = true, .serving = true, .terminating = false},
                                     .node_name = "node-1",
                                     .zone = "zone-a",
                                     .hints_for_zones = {"zone-a", "zone-b"},
                                     .hints_for_nodes = {"node-1"}},
                            Endpoint{.addresses = {"10.1.0.2"}, .conditions = {.ready = false}},
                            Endpoint{.addresses = {"10.1.0.3"}},
                            Endpoint{.addresses = {"10.1.0.4"}, .conditions = {.serving = true, .terminating = true}}));
    EXPECT_THAT(s.ports, ElementsAre(EndpointPort{.name = "http", .port = 8080, .protocol = Protocol::kTCP},
                                     EndpointPort{.name = "", .port = 53, .protocol = Protocol::kUDP},
                                     EndpointPort{.name = "none", .port = std::nullopt, .protocol = Protocol::kTCP}));
  }
}

TEST(DecodeManifests, NodeFields) {
  struct Case {
    std::string name;
    std::string yaml;
    std::vector<std::string> pod_cidrs;
  };
  const std::vector<Case> cases = {
      {.name = "podCIDRs", .yaml = "spec: {podCIDR: 10.0.1.0/24, podCIDRs: [10.0.1.0/24, \"fd00:1::/64\"]}",
       .pod_cidrs = {"10.0.1.0/24", "fd00:1::/64"}},
      {.name = "podCIDR only", .yaml = "spec: {podCIDR: 10.0.1.0/24}", .pod_cidrs = {"10.0.1.0/24"}},
      {.name = "none", .yaml = "spec: {}", .pod_cidrs = {}},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    DecodeResult result = decode(R"(apiVersion: v1
kind: Node
metadata:
  name: node-1
  namespace: ignored
  labels: {topology.kubernetes.io/zone: zone-a}
status:
  addresses:
  - {type: InternalIP, address: 192.168.0.2}
  - {type: Hostname, address: node-1}
)" + tc.yaml + "\n");
    ASSERT_THAT(messages(result), IsEmpty());
    ASSERT_EQ(result.state.nodes.size(), 1u);
    const Node& n = *result.state.nodes[0];
    EXPECT_EQ(n.meta.namespace_, "");
    EXPECT_EQ(n.meta.labels.at(kLabelTopologyZone), "zone-a");
    EXPECT_EQ(n.pod_cidrs, tc.pod_cidrs);
    ASSERT_EQ(n.addresses.size(), 2u);
    EXPECT_EQ(n.addresses[0].type, "InternalIP");
    EXPECT_EQ(n.addresses[0].address, "192.168.0.2");
    EXPECT_EQ(n.addresses[1].type, "Hostname");
  }
}

TEST(DecodeManifests, OtherKindsAndVersionsAreSkipped) {
  DecodeResult result = decode(R"(apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {a: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {replicas: "not even an int"}
---
apiVersion: discovery.k8s.io/v1beta1
kind: EndpointSlice
metadata: {name: old}
addressType: IPv4
endpoints: [{addresses: [not-an-ip]}]
---
apiVersion: v2
kind: Service
metadata: {name: future}
spec: {ports: [{port: 99999}]}
---
apiVersion: example.com/v1
kind: Service
metadata: {name: crd}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
)");
  EXPECT_THAT(messages(result), IsEmpty());
  EXPECT_THAT(serviceNames(result), IsEmpty());
  EXPECT_THAT(sliceNames(result), IsEmpty());
  EXPECT_THAT(nodeNames(result), IsEmpty());
}

// ---------------------------------------------------------------------------------------------
// Selection

TEST(DecodeManifests, SelectionByLabels) {
  struct Case {
    std::string name;
    std::string labels;
    bool selected;
  };
  const std::vector<Case> cases = {
      {.name = "no labels", .labels = "{}", .selected = true},
      {.name = "other labels", .labels = "{app: web, service.kubernetes.io/other: x}", .selected = true},
      {.name = "service-proxy-name", .labels = "{service.kubernetes.io/service-proxy-name: other-proxy}", .selected = false},
      {.name = "service-proxy-name empty", .labels = "{service.kubernetes.io/service-proxy-name: \"\"}", .selected = false},
      {.name = "headless", .labels = "{service.kubernetes.io/headless: \"\"}", .selected = false},
      {.name = "headless with a value", .labels = "{service.kubernetes.io/headless: \"true\"}", .selected = false},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    DecodeResult result = decode("apiVersion: v1\nkind: Service\nmetadata: {name: s, labels: " + tc.labels +
                                 "}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s-1, labels: " +
                                 tc.labels + "}\naddressType: IPv4\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n, labels: " +
                                 tc.labels + "}\n");
    EXPECT_THAT(messages(result), IsEmpty());
    EXPECT_EQ(result.state.services.size(), tc.selected ? 1u : 0u);
    EXPECT_EQ(result.state.endpoint_slices.size(), tc.selected ? 1u : 0u);
    EXPECT_EQ(result.state.nodes.size(), 1u);  // nodes are never filtered

    DecodeResult labels_only = decode("apiVersion: v1\nkind: Node\nmetadata: {name: n, labels: " + tc.labels + "}\n");
    ASSERT_EQ(labels_only.state.nodes.size(), 1u);
    EXPECT_EQ(selectedByKubeProxy(labels_only.state.nodes[0]->meta), tc.selected);
  }
}

TEST(DecodeManifests, ExternalNameAndHeadlessServicesAreKept) {
  DecodeResult result = decode(R"(apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {type: ExternalName, externalName: example.com}
---
apiVersion: v1
kind: Service
metadata: {name: headless}
spec: {clusterIP: None, ports: [{port: 80}]}
)");
  EXPECT_THAT(messages(result), IsEmpty());
  EXPECT_THAT(serviceNames(result), ElementsAre("default/ext", "default/headless"));
}

// ---------------------------------------------------------------------------------------------
// Legacy Endpoints

struct MirrorCase {
  std::string name;
  std::string yaml;
  // "name addressType [addresses with ready flag] ports", one per slice
  std::vector<std::string> slices;
};

std::string describeSlice(const EndpointSlice& s) {
  std::string out = s.meta.namespacedName().toString() + " " + s.address_type + " [";
  for (size_t i = 0; i < s.endpoints.size(); ++i) {
    const Endpoint& ep = s.endpoints[i];
    if (i > 0) out += " ";
    out += ep.addresses.empty() ? "?" : ep.addresses[0];
    out += ep.conditions.ready ? (*ep.conditions.ready ? "+" : "-") : "?";
    if (ep.conditions.serving || ep.conditions.terminating) out += "!";
    if (ep.node_name) out += "@" + *ep.node_name;
  }
  out += "]";
  for (const EndpointPort& p : s.ports) {
    out += " " + p.name.value_or("<nil>") + ":" + (p.port ? std::to_string(*p.port) : "<nil>") + "/" + protocolName(p.protocol);
  }
  return out;
}

TEST(DecodeManifests, EndpointsAreMirrored) {
  const std::string endpoints = R"(apiVersion: v1
kind: Endpoints
metadata:
  name: web
  namespace: prod
  labels: {app: web}
  annotations: {endpoints.kubernetes.io/last-change-trigger-time: "2024-01-01T00:00:00Z", note: x}
subsets:
- addresses:
  - {ip: 10.1.0.1, nodeName: node-1, hostname: web-0, targetRef: {kind: Pod, name: web-0}}
  - {ip: "fd00::1"}
  notReadyAddresses:
  - {ip: 10.1.0.2}
  - {ip: "fd00::2", nodeName: node-2}
  ports:
  - {name: http, port: 80}
  - {port: 53, protocol: UDP}
- addresses: [{ip: 10.1.0.3}]
  ports: [{name: https, port: 443}]
- ports: [{name: empty, port: 1}]
)";
  const std::vector<MirrorCase> cases = {
      {.name = "dual-stack subset split by family, one slice per subset and family",
       .yaml = endpoints,
       .slices = {"prod/web-mirror-1 IPv4 [10.1.0.1+@node-1 10.1.0.2-] http:80/TCP :53/UDP",
                  "prod/web-mirror-2 IPv6 [fd00::1+ fd00::2-@node-2] http:80/TCP :53/UDP",
                  "prod/web-mirror-3 IPv4 [10.1.0.3+] https:443/TCP"}},
      {.name = "not mirrored when a slice of the service exists",
       .yaml = endpoints + R"(---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: prod, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
)",
       .slices = {"prod/web-abc IPv4 []"}},
      {.name = "not mirrored even when the existing slice is not selected",
       .yaml = endpoints + R"(---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: prod, labels: {kubernetes.io/service-name: web, service.kubernetes.io/headless: ""}}
addressType: IPv4
)",
       .slices = {}},
      {.name = "a slice in another namespace does not count",
       .yaml = R"(apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-abc, namespace: other, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
---
apiVersion: v1
kind: Endpoints
metadata: {name: web}
subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{port: 80}]}]
)",
       .slices = {"other/web-abc IPv4 []", "default/web-mirror-1 IPv4 [10.1.0.1+] :80/TCP"}},
      {.name = "skip-mirror",
       .yaml = R"(apiVersion: v1
kind: Endpoints
metadata: {name: web, labels: {endpointslice.kubernetes.io/skip-mirror: "true"}}
subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{port: 80}]}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web2, labels: {endpointslice.kubernetes.io/skip-mirror: "false"}}
subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{port: 80}]}]
)",
       .slices = {"default/web2-mirror-1 IPv4 [10.1.0.1+] :80/TCP"}},
      {.name = "selection applies to mirrored slices",
       .yaml = R"(apiVersion: v1
kind: Endpoints
metadata: {name: web, labels: {service.kubernetes.io/service-proxy-name: other}}
subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{port: 80}]}]
)",
       .slices = {}},
  };
  for (const MirrorCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    DecodeResult result = decode(tc.yaml);
    EXPECT_THAT(messages(result), IsEmpty());
    std::vector<std::string> got;
    for (const auto& s : result.state.endpoint_slices) got.push_back(describeSlice(*s));
    EXPECT_EQ(got, tc.slices);
  }

  // Labels and annotations of a mirrored slice.
  DecodeResult result = decode(endpoints);
  ASSERT_FALSE(result.state.endpoint_slices.empty());
  const EndpointSlice& s = *result.state.endpoint_slices[0];
  EXPECT_EQ(s.meta.labels, (std::map<std::string, std::string>{
                               {"app", "web"},
                               {"endpointslice.kubernetes.io/managed-by", "endpointslicemirroring-controller.k8s.io"},
                               {"kubernetes.io/service-name", "web"}}));
  // Mirroring drops the trigger time, and decoding keeps no other annotation.
  EXPECT_THAT(s.meta.annotations, IsEmpty());
  EXPECT_EQ(s.meta.source.line, 1);

  // Order of files does not matter: the decision is taken after all files are read.
  DecodeResult two_files = decodeManifests(
      {ManifestFile{"a.yaml", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: web}\nsubsets: [{addresses: [{ip: 10.1.0.1}]}]\n"},
       ManifestFile{"b.yaml", "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-1, labels: "
                              "{kubernetes.io/service-name: web}}\naddressType: IPv4\n"}});
  EXPECT_THAT(messages(two_files), IsEmpty());
  EXPECT_THAT(sliceNames(two_files), ElementsAre("default/web-1"));
}

// ---------------------------------------------------------------------------------------------
// Errors

struct ErrorCase {
  std::string name;
  std::string file_name = "test.yaml";
  std::string bytes;
  std::vector<std::string> errors;
  std::vector<std::string> services = {};  // what is still decoded
  std::vector<ManifestFile> more_files = {};
};

TEST(DecodeManifests, Errors) {
  const std::vector<ErrorCase> cases = {
      {.name = "message format with the field's line",
       .bytes = R"(apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
  - port: 80
    nodePort: 30080
  - port: 81
    nodePort: 70000
)",
       .errors = {"test.yaml:10: Service default/web: spec.ports[1].nodePort: 70000 not in 1-65535"}},
      {.name = "wrong type",
       .bytes = R"(apiVersion: v1
kind: Service
metadata: {name: web, namespace: prod}
spec:
  ports:
  - port: "eighty"
  - port: eighty
  - port: 80.5
)",
       .errors = {"test.yaml:6: Service prod/web: spec.ports[0].port: expected an integer, got \"eighty\"",
                  "test.yaml:7: Service prod/web: spec.ports[1].port: expected an integer, got \"eighty\"",
                  "test.yaml:8: Service prod/web: spec.ports[2].port: expected an integer, got 80.5"}},
      {.name = "every problem of an object, and only bad objects are left out",
       .bytes = R"(apiVersion: v1
kind: Service
metadata: {name: good}
---
apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  clusterIP: 10.96.0.300
  ports: [{port: 0, protocol: HTTP}]
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}
---
apiVersion: v1
kind: Service
metadata: {name: good2}
)",
       .errors = {"test.yaml:9: Service default/bad: spec.clusterIP: \"10.96.0.300\" is not a valid IP address",
                  "test.yaml:10: Service default/bad: spec.ports[0].protocol: \"HTTP\" is not one of TCP, UDP, SCTP",
                  "test.yaml:10: Service default/bad: spec.ports[0].port: 0 not in 1-65535",
                  "test.yaml:12: Service default/bad: spec.sessionAffinityConfig.clientIP.timeoutSeconds: 0 not in 1-86400"},
       .services = {"default/good", "default/good2"}},
      {.name = "missing name",
       .bytes = "apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n",
       .errors = {"test.yaml:1: Service: metadata.name: missing"}},
      {.name = "missing kind and apiVersion",
       .bytes = "apiVersion: v1\nmetadata: {name: x}\n---\nkind: Service\nmetadata: {name: y}\n",
       .errors = {"test.yaml:1: kind: missing", "test.yaml:4: Service: apiVersion: missing"}},
      {.name = "not an object",
       .bytes = "just a string\n---\n42\n",
       .errors = {"test.yaml:1: expected a Kubernetes object (a map), got \"just a string\"",
                  "test.yaml:3: expected a Kubernetes object (a map), got 42"}},
      {.name = "wrong container types",
       .bytes = R"(apiVersion: v1
kind: Service
metadata: {name: web, labels: [a, b]}
spec:
  ports: {port: 80}
  externalIPs: 1.2.3.4
  selector: x
status: []
)",
       .errors = {"test.yaml:3: Service default/web: metadata.labels: expected a map, got a list",
                  "test.yaml:5: Service default/web: spec.ports: expected a list, got a map",
                  "test.yaml:6: Service default/web: spec.externalIPs: expected a list, got \"1.2.3.4\"",
                  "test.yaml:7: Service default/web: spec.selector: expected a map, got \"x\"",
                  "test.yaml:8: Service default/web: status: expected a map, got a list"}},
      {.name = "items of a List that are not a list",
       .bytes = "apiVersion: v1\nkind: List\nitems: {a: b}\n",
       .errors = {"test.yaml:3: List: items: expected a list, got a map"}},
      {.name = "YAML syntax error keeps the documents before it",
       .bytes = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: [Service\n",
       .errors = {"test.yaml: YAML syntax error at line 7, column 1: end of sequence flow not found"},
       .services = {"default/a"}},
      {.name = "YAML: bad indentation",
       .bytes = "apiVersion: v1\nkind: Service\n metadata: x\n",
       .errors = {"test.yaml: YAML syntax error at line 3, column 10: illegal map value"}},
      {.name = "JSON: line of the object",
       .file_name = "c.json",
       .bytes = "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n"
                "  {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\"}},\n"
                "  {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"b\"},\n"
                "   \"spec\": {\"ports\": [{\"port\": 70000}, {\n     \"port\": \"80\"}]}}]}\n",
       .errors = {"c.json:3: Service default/b: spec.ports[0].port: 70000 not in 1-65535",
                  "c.json:5: Service default/b: spec.ports[1].port: expected an integer, got \"80\""},
       .services = {"default/a"}},
      {.name = "JSON syntax error",
       .file_name = "c.json",
       .bytes = "{\"apiVersion\": \"v1\",\n \"kind\": \"Service\"\n \"metadata\": {}}",
       .errors = {"c.json: JSON syntax error at line 3, column 2: expected ',' or '}', found '\"'"}},
      {.name = "JSON truncated",
       .file_name = "c.json",
       .bytes = "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\"",
       .errors = {"c.json: JSON syntax error at line 1, column 65: unexpected end of input"}},
      {.name = "JSON trailing garbage",
       .file_name = "c.json",
       .bytes = "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\"}} x",
       .errors = {"c.json: JSON syntax error at line 1, column 68: expected a value, found 'x'"}},
      {.name = "JSON syntax error inside an unknown field is still found (JSON streams)",
       .file_name = "c.json",
       .bytes = "{\"kind\": \"Service\"}\n{\"kind\": \"Service\", \"x\": [1 2]}\n",
       .errors = {"c.json: JSON syntax error at line 2, column 29: expected ',' or ']', found '2'"}},
      {.name = "errors of several files",
       .bytes = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: -1}]}\n",
       .errors = {"test.yaml:4: Service default/a: spec.ports[0].port: -1 not in 1-65535",
                  "other.yaml:1: kind: missing"},
       .more_files = {ManifestFile{"other.yaml", "apiVersion: v1\n"}}},
  };
  for (const ErrorCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    std::vector<ManifestFile> files = {ManifestFile{tc.file_name, tc.bytes}};
    files.insert(files.end(), tc.more_files.begin(), tc.more_files.end());
    DecodeResult result = decodeManifests(files);
    EXPECT_EQ(messages(result), tc.errors);
    EXPECT_EQ(serviceNames(result), tc.services);
  }
}

TEST(DecodeManifests, NoFileNameNoPrefix) {
  DecodeResult result = decode("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 0}]}\n", "");
  EXPECT_THAT(messages(result), ElementsAre("Service default/a: spec.ports[0].port: 0 not in 1-65535"));
}

// ---------------------------------------------------------------------------------------------
// Robustness: whatever the bytes, errors come back and nothing crashes.

const char kSampleYaml[] = R"(apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: prod, labels: {app: web}}
  spec:
    clusterIP: 10.0.0.1
    ports: [{name: http, port: 80, nodePort: 30080}]
    sessionAffinity: ClientIP
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: web-1, namespace: prod, labels: {kubernetes.io/service-name: web}}
  addressType: IPv4
  endpoints:
  - addresses: ["10.1.0.1"]
    conditions: {ready: true}
  ports: [{name: http, port: 8080}]
- apiVersion: v1
  kind: Endpoints
  metadata: {name: old}
  subsets: [{addresses: [{ip: 10.1.0.9}], ports: [{port: 80}]}]
)";

const char kSampleJson[] = R"({"apiVersion": "v1", "kind": "List", "items": [
 {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "l\u0061bels": {"app": "w\u0065b"}},
  "spec": {"clusterIP": "10.0.0.1", "ports": [{"name": "http", "port": 80}], "sessionAffinity": "ClientIP"}},
 {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
  "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
  "endpoints": [{"addresses": ["10.1.0.1"], "conditions": {"ready": true, "serving": null}}],
  "ports": [{"name": "http", "port": 8080}]}]})";

TEST(DecodeManifests, SamplesDecode) {
  EXPECT_THAT(messages(decode(kSampleYaml, "s.yaml")), IsEmpty());
  DecodeResult j = decode(kSampleJson, "s.json");
  EXPECT_THAT(messages(j), IsEmpty());
  ASSERT_EQ(j.state.services.size(), 1u);
  // Only the labels kube-proxy reads are kept on Services and EndpointSlices.
  EXPECT_EQ(j.state.services[0]->meta.labels.count("app"), 0u);
  ASSERT_EQ(j.state.endpoint_slices.size(), 1u);
  EXPECT_EQ(j.state.endpoint_slices[0]->meta.labels,
            (std::map<std::string, std::string>{{"kubernetes.io/service-name", "web"}}));
}

TEST(DecodeManifests, TruncatedInputNeverCrashes) {
  for (const auto& [name, sample] : {std::pair{"s.yaml", std::string(kSampleYaml)}, std::pair{"s.json", std::string(kSampleJson)}}) {
    for (size_t n = 0; n <= sample.size(); ++n) {
      DecodeResult result = decode(sample.substr(0, n), name);
      for (const Error& e : result.errors) {
        EXPECT_EQ(e.message.find('\n'), std::string::npos) << e.message;
      }
    }
  }
}

TEST(DecodeManifests, MutatedInputNeverCrashes) {
  std::mt19937 rng(12345);
  for (const auto& [name, sample] : {std::pair{"s.yaml", std::string(kSampleYaml)}, std::pair{"s.json", std::string(kSampleJson)}}) {
    for (int round = 0; round < 600; ++round) {
      std::string bytes = sample;
      int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits; ++e) {
        size_t at = rng() % bytes.size();
        switch (rng() % 4) {
          case 0:
            bytes[at] = static_cast<char>(rng() % 256);
            break;
          case 1:
            bytes.erase(at, 1 + rng() % 8);
            break;
          case 2:
            bytes.insert(at, 1, "{}[]:,\"'-&*!|>\n \\0"[rng() % 18]);
            break;
          default:
            bytes.insert(at, bytes.substr(rng() % bytes.size(), rng() % 40));
            break;
        }
        if (bytes.empty()) bytes = "x";
      }
      DecodeResult result = decode(bytes, name);
      for (const Error& err : result.errors) ASSERT_EQ(err.message.find('\n'), std::string::npos) << err.message;
    }
  }
}

TEST(DecodeManifests, GarbageNeverCrashes) {
  std::mt19937 rng(777);
  for (int round = 0; round < 300; ++round) {
    std::string bytes(1 + rng() % 400, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 256);
    if (round % 3 == 0) bytes[0] = '{';
    if (round % 3 == 1) bytes[0] = '[';
    DecodeResult result = decode(bytes, "garbage");
    for (const Error& err : result.errors) ASSERT_EQ(err.message.find('\n'), std::string::npos) << err.message;
  }
}

TEST(DecodeManifests, HostileInputReturnsErrors) {
  const std::string deep_json = std::string(100000, '[') + std::string(100000, ']');
  const std::string deep_json_objects = [] {
    std::string s;
    for (int i = 0; i < 50000; ++i) s += "{\"a\":";
    s += "1";
    s += std::string(50000, '}');
    return s;
  }();
  const std::string deep_yaml_flow = "a: " + std::string(5000, '[');
  std::string deep_yaml_block;  // "- - - - ... x": sequences nested by indentation
  for (int i = 0; i < 3000; ++i) deep_yaml_block += "- ";
  deep_yaml_block += "x\n";
  const std::string deep_lists = [] {
    std::string out;
    for (int i = 0; i < 100; ++i) out += "{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [";
    for (int i = 0; i < 100; ++i) out += "]}";
    return out;
  }();
  const std::string alias_bomb = [] {
    // Twelve Lists, each holding the previous one ten times: 10^12 services if expanded.
    std::string s = "l0: &l0 {apiVersion: v1, kind: List, items: [{apiVersion: v1, kind: Service, metadata: {name: x}}]}\n";
    for (int i = 1; i < 12; ++i) {
      std::string prev = "*l" + std::to_string(i - 1);
      s += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " {apiVersion: v1, kind: List, items: [";
      for (int j = 0; j < 10; ++j) s += (j > 0 ? ", " : "") + prev;
      s += "]}\n";
    }
    return "apiVersion: v1\nkind: List\n" + s + "items: [*l11]\n";
  }();
  const std::string alias_cycle = "&a {apiVersion: v1, kind: List, items: [*a]}\n";

  struct Case {
    std::string name;
    std::string file_name;
    std::string bytes;
    std::vector<std::string> errors;
  };
  const std::vector<Case> cases = {
      {.name = "deeply nested JSON arrays", .file_name = "d.json", .bytes = deep_json,
       .errors = {"d.json:1: Lists nested more than 16 deep"}},
      {.name = "deeply nested JSON objects", .file_name = "d.json", .bytes = deep_json_objects,
       .errors = {"d.json:1: kind: missing"}},
      {.name = "deeply nested YAML flow", .file_name = "d.yaml", .bytes = deep_yaml_flow,
       .errors = {"d.yaml: YAML syntax error at line 1, column 1: nested too deeply"}},
      {.name = "deeply nested YAML blocks", .file_name = "d.yaml", .bytes = deep_yaml_block,
       .errors = {"d.yaml: YAML syntax error at line 1, column 1000: nested too deeply"}},
      {.name = "Lists nested too deep", .file_name = "d.json", .bytes = deep_lists,
       .errors = {"d.json:1: Lists nested more than 16 deep"}},
      {.name = "alias bomb", .file_name = "d.yaml", .bytes = alias_bomb,
       .errors = {"d.yaml:1: document too large after alias expansion"}},
      {.name = "alias cycle", .file_name = "d.yaml", .bytes = alias_cycle, .errors = {"*"}},
      {.name = "huge numbers (YAML)",
       .file_name = "d.yaml",
       .bytes = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports: [{port: 99999999999999999999999}, "
                "{port: 99999999999}, {port: -9223372036854775809}, {port: 0x7fffffff}]\n",
       .errors = {"d.yaml:5: Service default/a: spec.ports[0].port: 99999999999999999999999 is out of range for a 32-bit integer",
                  "d.yaml:5: Service default/a: spec.ports[1].port: 99999999999 is out of range for a 32-bit integer",
                  "d.yaml:5: Service default/a: spec.ports[2].port: -9223372036854775809 is out of range for a 32-bit integer",
                  "d.yaml:5: Service default/a: spec.ports[3].port: 2147483647 not in 1-65535"}},
      {.name = "huge numbers (JSON)",
       .file_name = "d.json",
       .bytes = "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"a\"}, \"spec\": {\"ports\": "
                "[{\"port\": 99999999999999999999999}, {\"port\": 18446744073709551615}, {\"port\": 1e400}, "
                "{\"port\": -99999999999}], \"x\": 1e999999}}",
       .errors = {"d.json:1: Service default/a: spec.ports[0].port: 99999999999999999999999 is out of range for a 32-bit integer",
                  "d.json:1: Service default/a: spec.ports[1].port: 18446744073709551615 is out of range for a 32-bit integer",
                  "d.json:1: Service default/a: spec.ports[2].port: expected an integer, got 1e400",
                  "d.json:1: Service default/a: spec.ports[3].port: -99999999999 is out of range for a 32-bit integer"}},
      {.name = "wrong types (JSON)",
       .file_name = "d.json",
       .bytes = R"({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": 5, "labels": {"a": 1}},
  "addressType": ["IPv4"], "endpoints": [{"addresses": [1], "conditions": {"ready": "yes"}, "nodeName": {}}, 7],
  "ports": [{"name": null, "port": "80", "protocol": 6}]})",
       .errors = {"d.json:1: EndpointSlice: metadata.name: expected a string, got 5",
                  "d.json:1: EndpointSlice: metadata.labels[a]: expected a string, got 1",
                  "d.json:2: EndpointSlice: addressType: expected a string, got a list",
                  "d.json:2: EndpointSlice: endpoints[0].addresses[0]: expected a string, got 1",
                  "d.json:2: EndpointSlice: endpoints[0].conditions.ready: expected a boolean, got \"yes\"",
                  "d.json:2: EndpointSlice: endpoints[0].nodeName: expected a string, got a map",
                  "d.json:2: EndpointSlice: endpoints[1]: expected a map, got 7",
                  "d.json:3: EndpointSlice: ports[0].port: expected an integer, got \"80\"",
                  "d.json:3: EndpointSlice: ports[0].protocol: expected a string, got 6"}},
      {.name = "yaml-cpp loops on a leading comma (found by fuzzing)", .file_name = "d.yaml", .bytes = ",\n",
       .errors = {"d.yaml: YAML syntax error at line 1, column 1: the parser stopped making progress"}},
      {.name = "kind of the wrong type", .file_name = "d.json", .bytes = "{\"kind\": 5, \"apiVersion\": \"v1\"}",
       .errors = {"d.json:1: kind: expected a string, got 5"}},
      {.name = "NUL bytes in YAML", .file_name = "d.yaml", .bytes = std::string("apiVersion: v1\0\0kind: Service\n", 31),
       .errors = {"*"}},
      {.name = "control characters are escaped", .file_name = "d.yaml",
       .bytes = "apiVersion: v1\nkind: Service\nmetadata: {name: \"a\\nb\"}\nspec: {clusterIP: \"1.2.3.4\\n\\u0007\"}\n",
       .errors = {"d.yaml:3: Service default/a\\nb: metadata.name: \"a\\nb\" is not a valid DNS-1035 label: only "
                  "lowercase letters 'a'-'z', digits and '-' are allowed",
                  "d.yaml:4: Service default/a\\nb: spec.clusterIP: \"1.2.3.4\\n\\x07\" is not a valid IP address"}},
      {.name = "long values are shortened", .file_name = "d.yaml",
       .bytes = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {clusterIP: " + std::string(200, '9') + "}\n",
       .errors = {"d.yaml:4: Service default/a: spec.clusterIP: \"" + std::string(64, '9') + "\"... is not a valid IP address"}},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    DecodeResult result = decode(tc.bytes, tc.file_name);
    if (tc.errors == std::vector<std::string>{"*"}) {
      EXPECT_EQ(result.errors.size(), 1u) << ::testing::PrintToString(messages(result));
      for (const Error& e : result.errors) EXPECT_EQ(e.message.rfind(tc.file_name + ":", 0), 0u) << e.message;
    } else {
      EXPECT_EQ(messages(result), tc.errors);
    }
    EXPECT_THAT(serviceNames(result), IsEmpty());
  }
}

// The reflectors free the decoder's per-thread buffers after each list; decoding must work the
// same afterwards (a fresh parser and copy buffer are made on demand), for large and small input.
TEST(DecodeJson, DecodesTheSameAfterItsBuffersAreReleased) {
  std::string list = R"({"apiVersion":"v1","kind":"List","items":[)";
  for (int i = 0; i < 2000; ++i) {
    if (i > 0) list += ',';
    list += R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"svc-)" + std::to_string(i) +
            R"(","namespace":"ns"},"spec":{"clusterIP":"10.0.)" + std::to_string(i / 250) + "." +
            std::to_string(i % 250 + 1) + R"(","ports":[{"port":80}]}})";
  }
  list += "]}";
  const std::string one = R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"a","namespace":"ns"},)"
                          R"("spec":{"clusterIP":"10.1.0.1","ports":[{"port":53,"protocol":"UDP"}]}})";
  const DecodeResult big_before = decode(list, "list.json");
  releaseDecoderBuffers();
  const DecodeResult small_after = decode(one, "one.json");
  const DecodeResult big_after = decode(list, "list.json");
  releaseDecoderBuffers();
  releaseDecoderBuffers();  // twice in a row is harmless
  const DecodeResult small_again = decode(one, "one.json");

  EXPECT_THAT(messages(big_after), IsEmpty());
  ASSERT_EQ(big_before.state.services.size(), 2000u);
  EXPECT_EQ(serviceNames(big_after), serviceNames(big_before));
  EXPECT_EQ(big_after.state.services[1999]->cluster_ip, "10.0.7.250");
  EXPECT_THAT(serviceNames(small_after), ElementsAre("ns/a"));
  EXPECT_THAT(serviceNames(small_again), ElementsAre("ns/a"));
  EXPECT_EQ(small_again.state.services[0]->ports.at(0).protocol, Protocol::kUDP);
}

TEST(DecodeNode, ReadsDeletionTimestampAndTaints) {
  const DecodeResult r = decode(R"(
apiVersion: v1
kind: Node
metadata:
  name: n1
  deletionTimestamp: "2026-11-30T10:00:00Z"
  labels: {topology.kubernetes.io/zone: z1, example.com/rack: r7}
spec:
  taints:
  - key: ToBeDeletedByClusterAutoscaler
    value: "1700000000"
    effect: NoSchedule
  - key: dedicated
    effect: NoExecute
)");
  EXPECT_THAT(messages(r), IsEmpty());
  ASSERT_EQ(r.state.nodes.size(), 1u);
  const Node& node = *r.state.nodes[0];
  EXPECT_EQ(node.meta.deletion_timestamp, "2026-11-30T10:00:00Z");
  EXPECT_EQ(node.meta.labels.size(), 2u) << "a Node keeps every label (topology reads them)";
  ASSERT_EQ(node.taints.size(), 2u);
  EXPECT_EQ(node.taints[0], (NodeTaint{"ToBeDeletedByClusterAutoscaler", "1700000000", "NoSchedule"}));
  EXPECT_EQ(node.taints[1], (NodeTaint{"dedicated", "", "NoExecute"}));

  const DecodeResult bad = decode("apiVersion: v1\nkind: Node\nmetadata: {name: n2}\nspec: {taints: [{key: [1], effect: NoSchedule}]}\n");
  ASSERT_EQ(bad.errors.size(), 1u);
  EXPECT_THAT(bad.errors[0].message, ::testing::HasSubstr("spec.taints[0].key"));
}

}  // namespace
}  // namespace kproxy::api
