// The Kubernetes objects kube-proxy reads, as plain structs: Service (v1), EndpointSlice
// (discovery.k8s.io/v1), Node (v1), ServiceCIDR (networking.k8s.io/v1). Only the fields kube-proxy (or its label selectors) use are
// kept. Values are stored as the API carries them (strings for IPs), after the API server's
// defaulting; validate.h checks them and the tracker parses them the way upstream does.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace kproxy::api {

// Where an object (or one of its fields) came from, for error messages ("cluster.yaml:12").
struct SourceRef {
  std::string file;  // "" when unknown
  int line = 0;      // 1-based; 0 when unknown
};

struct NamespacedName {
  std::string namespace_;
  std::string name;

  std::string toString() const { return namespace_.empty() ? name : namespace_ + "/" + name; }
  auto operator<=>(const NamespacedName&) const = default;
  bool operator==(const NamespacedName&) const = default;
};

struct ObjectMeta {
  std::string namespace_;
  std::string name;
  std::string resource_version;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  // metadata.deletionTimestamp, as written (RFC 3339); empty unless the object is being deleted.
  std::string deletion_timestamp;
  SourceRef source;
  // Line of individual fields, keyed by their JSON path ("spec.ports[1].nodePort"), where the
  // decoder knows it (YAML input); used by validation messages.
  std::map<std::string, int> field_lines;

  NamespacedName namespacedName() const { return {namespace_, name}; }
};

enum class Protocol : uint8_t { kTCP, kUDP, kSCTP };

// "TCP" / "UDP" / "SCTP"
const char* protocolName(Protocol p);
// "tcp" / "udp" / "sctp"
const char* protocolLowerName(Protocol p);

inline constexpr char kLabelServiceProxyName[] = "service.kubernetes.io/service-proxy-name";
inline constexpr char kLabelHeadless[] = "service.kubernetes.io/headless";
inline constexpr char kLabelServiceName[] = "kubernetes.io/service-name";
inline constexpr char kLabelTopologyZone[] = "topology.kubernetes.io/zone";
inline constexpr char kAnnotationLastChangeTriggerTime[] = "endpoints.kubernetes.io/last-change-trigger-time";

struct ServicePort {
  std::string name;
  Protocol protocol = Protocol::kTCP;
  int32_t port = 0;
  int32_t node_port = 0;  // 0 = none
  // spec.ports[i].targetPort, read only to be validated (kube-proxy takes endpoint ports from
  // EndpointSlices): a number (0 when absent or named) or an IANA service name ("" when a number).
  int32_t target_port = 0;
  std::string target_port_name;

  bool operator==(const ServicePort&) const = default;
};

struct LoadBalancerIngress {
  std::string ip;        // "" for hostname-only entries
  std::string hostname;
  std::string ip_mode;   // "", "VIP" or "Proxy"

  bool operator==(const LoadBalancerIngress&) const = default;
};

struct Service {
  ObjectMeta meta;
  std::string type = "ClusterIP";  // ClusterIP, NodePort, LoadBalancer, ExternalName
  std::string cluster_ip;                 // spec.clusterIP ("None" for headless)
  std::vector<std::string> cluster_ips;   // spec.clusterIPs
  std::vector<std::string> ip_families;   // spec.ipFamilies ("IPv4"/"IPv6")
  std::vector<ServicePort> ports;
  std::vector<std::string> external_ips;
  std::string session_affinity = "None";  // None, ClientIP
  int32_t session_affinity_timeout = 10800;  // sessionAffinityConfig.clientIP.timeoutSeconds
  std::string external_traffic_policy;   // "", Cluster, Local
  std::string internal_traffic_policy;   // "", Cluster, Local
  int32_t health_check_node_port = 0;
  std::vector<std::string> load_balancer_source_ranges;
  std::vector<LoadBalancerIngress> load_balancer_ingress;  // status.loadBalancer.ingress
  bool has_selector = false;             // spec.selector non-empty (decides Endpoints mirroring)
};

struct EndpointConditions {
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;

  bool operator==(const EndpointConditions&) const = default;
};

struct Endpoint {
  std::vector<std::string> addresses;
  EndpointConditions conditions;
  std::optional<std::string> node_name;
  std::optional<std::string> zone;
  std::vector<std::string> hints_for_zones;  // hints.forZones[].name
  std::vector<std::string> hints_for_nodes;  // hints.forNodes[].name

  bool operator==(const Endpoint&) const = default;
};

struct EndpointPort {
  std::optional<std::string> name;  // the API defaults a missing name to ""
  std::optional<int32_t> port;
  Protocol protocol = Protocol::kTCP;

  bool operator==(const EndpointPort&) const = default;
};

struct EndpointSlice {
  ObjectMeta meta;
  std::string address_type;  // IPv4, IPv6, FQDN
  std::vector<Endpoint> endpoints;
  std::vector<EndpointPort> ports;

  // The service this slice belongs to (label kubernetes.io/service-name), "" if unset.
  std::string serviceName() const {
    auto it = meta.labels.find(kLabelServiceName);
    return it == meta.labels.end() ? std::string() : it->second;
  }
  // Equality of what kube-proxy reads (upstream compares whole slices; metadata other than
  // name, namespace and labels does not change what is rendered).
  bool sameContent(const EndpointSlice& other) const {
    return meta.namespace_ == other.meta.namespace_ && meta.name == other.meta.name &&
           meta.labels == other.meta.labels && address_type == other.address_type &&
           endpoints == other.endpoints && ports == other.ports;
  }
};

struct NodeAddress {
  std::string type;  // InternalIP, ExternalIP, Hostname, ...
  std::string address;
};

struct NodeTaint {
  std::string key;
  std::string value;
  std::string effect;  // NoSchedule, PreferNoSchedule, NoExecute

  bool operator==(const NodeTaint&) const = default;
};

struct Node {
  ObjectMeta meta;
  std::vector<std::string> pod_cidrs;  // spec.podCIDRs (or [spec.podCIDR])
  std::vector<NodeTaint> taints;       // spec.taints
  std::vector<NodeAddress> addresses;  // status.addresses
};

// networking.k8s.io/v1 ServiceCIDR: a range cluster IPs are allocated from. Cluster-scoped.
// nftables mode drops traffic to addresses inside these ranges that no Service holds.
struct ServiceCIDR {
  ObjectMeta meta;
  std::vector<std::string> cidrs;  // spec.cidrs: one, or one of each IP family
};

// Everything decoded from a set of manifests. Legacy v1 Endpoints are converted to
// EndpointSlices by the decoder (see decode.h).
struct ClusterState {
  std::vector<std::shared_ptr<const Service>> services;
  std::vector<std::shared_ptr<const EndpointSlice>> endpoint_slices;
  std::vector<std::shared_ptr<const Node>> nodes;
  std::vector<std::shared_ptr<const ServiceCIDR>> service_cidrs;
};

}  // namespace kproxy::api
