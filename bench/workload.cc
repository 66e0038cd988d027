#include "bench/workload.h"

#include <cstdio>

namespace kproxy::bench {
namespace {

void appendf(std::string& out, const char* fmt, auto... args) {
  char buf[1024];
  int n = std::snprintf(buf, sizeof(buf), fmt, args...);
  out.append(buf, static_cast<size_t>(n));
}

}  // namespace

std::string generateClusterJson(const WorkloadOptions& o) {
  std::string out;
  out.reserve(static_cast<size_t>(o.services) * (1800 + 420 * o.endpoints_per_service));
  out += "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n";
  for (int s = 0; s < o.services; ++s) {
    const int ns = s % 50;
    const bool udp = s % 10 == 9;
    const char* type = s % 10 < 7 ? "ClusterIP" : (s % 10 < 9 ? "NodePort" : "LoadBalancer");
    const bool lb = s % 10 == 9;
    const bool local = lb && (s / 10) % 2 == 0;
    const int ip_hi = 96 + s / 65536, ip_mid = (s / 256) % 256, ip_lo = s % 256;
    if (s > 0) out += ",\n";
    appendf(out,
            "    {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"annotations\": "
            "{\"meta.helm.sh/release-name\": \"release-%d\"}, \"creationTimestamp\": \"2026-01-02T03:04:05Z\", "
            "\"labels\": {\"app.kubernetes.io/name\": \"app-%d\", \"app.kubernetes.io/managed-by\": \"Helm\"}, "
            "\"name\": \"svc-%d\", \"namespace\": \"team-%d\", \"resourceVersion\": \"%d\", "
            "\"uid\": \"0b7c5a2e-%04x-4d2a-9f00-%012d\"},\n",
            s, s, s, ns, 100000 + s, s % 65536, s);
    appendf(out,
            "     \"spec\": {\"clusterIP\": \"10.%d.%d.%d\", \"clusterIPs\": [\"10.%d.%d.%d\"], "
            "\"internalTrafficPolicy\": \"Cluster\", \"ipFamilies\": [\"IPv4\"], \"ipFamilyPolicy\": \"SingleStack\", "
            "\"ports\": [{\"name\": \"http\", \"port\": 80, \"protocol\": \"TCP\", \"targetPort\": 8080",
            ip_hi, ip_mid, ip_lo, ip_hi, ip_mid, ip_lo);
    if (s % 10 >= 7) appendf(out, ", \"nodePort\": %d", 30000 + (s % 2767));
    out += "}";
    if (udp) out += ", {\"name\": \"dns\", \"port\": 53, \"protocol\": \"UDP\", \"targetPort\": 5353}";
    appendf(out, "], \"selector\": {\"app.kubernetes.io/name\": \"app-%d\"}, \"sessionAffinity\": \"None\", \"type\": \"%s\"",
            s, type);
    if (lb) {
      appendf(out, ", \"externalTrafficPolicy\": \"%s\", \"allocateLoadBalancerNodePorts\": true", local ? "Local" : "Cluster");
      if (local) appendf(out, ", \"healthCheckNodePort\": %d", 32000 + (s % 700));
    }
    out += "},\n     \"status\": {\"loadBalancer\": {";
    if (lb) appendf(out, "\"ingress\": [{\"ip\": \"198.18.%d.%d\", \"ipMode\": \"VIP\"}]", (s / 256) % 256, s % 256);
    out += "}}}";

    // One EndpointSlice per service.
    appendf(out,
            ",\n    {\"addressType\": \"IPv4\", \"apiVersion\": \"discovery.k8s.io/v1\", \"kind\": \"EndpointSlice\", "
            "\"metadata\": {\"annotations\": {\"endpoints.kubernetes.io/last-change-trigger-time\": "
            "\"2026-01-02T03:04:05Z\"}, \"creationTimestamp\": \"2026-01-02T03:04:05Z\", \"generateName\": \"svc-%d-\", "
            "\"generation\": 3, \"labels\": {\"app.kubernetes.io/name\": \"app-%d\", "
            "\"endpointslice.kubernetes.io/managed-by\": \"endpointslice-controller.k8s.io\", "
            "\"kubernetes.io/service-name\": \"svc-%d\"}, \"name\": \"svc-%d-x%04d\", \"namespace\": \"team-%d\", "
            "\"ownerReferences\": [{\"apiVersion\": \"v1\", \"blockOwnerDeletion\": true, \"controller\": true, "
            "\"kind\": \"Service\", \"name\": \"svc-%d\", \"uid\": \"0b7c5a2e-%04x-4d2a-9f00-%012d\"}], "
            "\"resourceVersion\": \"%d\", \"uid\": \"5e1d2c3b-%04x-4e5f-8a00-%012d\"},\n     \"endpoints\": [",
            s, s, s, s, s % 10000, ns, s, s % 65536, s, 200000 + s, s % 65536, s);
    for (int e = 0; e < o.endpoints_per_service; ++e) {
      const long pod = static_cast<long>(s) * o.endpoints_per_service + e;
      const int node = static_cast<int>(pod % o.nodes);
      if (e > 0) out += ", ";
      appendf(out,
              "{\"addresses\": [\"172.%ld.%ld.%ld\"], \"conditions\": {\"ready\": true, \"serving\": true, "
              "\"terminating\": false}, \"nodeName\": \"node-%d\", \"targetRef\": {\"kind\": \"Pod\", "
              "\"name\": \"app-%d-5d8f9c7b6-%05ld\", \"namespace\": \"team-%d\", \"uid\": \"9a8b7c6d-%04lx-4f3e-b2a1-%012ld\"}, "
              "\"zone\": \"zone-%d\"}",
              16 + (pod >> 16) % 16, (pod >> 8) % 256, pod % 256, node, s, pod % 100000, ns, pod % 65536, pod, node % 3);
    }
    out += "],\n     \"ports\": [{\"name\": \"http\", \"port\": 8080, \"protocol\": \"TCP\"}";
    if (udp) out += ", {\"name\": \"dns\", \"port\": 5353, \"protocol\": \"UDP\"}";
    out += "]}";
  }
  appendf(out,
          ",\n    {\"apiVersion\": \"v1\", \"kind\": \"Node\", \"metadata\": {\"labels\": "
          "{\"kubernetes.io/hostname\": \"%s\", \"topology.kubernetes.io/zone\": \"zone-0\"}, \"name\": \"%s\"}, "
          "\"spec\": {\"podCIDR\": \"172.16.0.0/24\", \"podCIDRs\": [\"172.16.0.0/24\"]}, "
          "\"status\": {\"addresses\": [{\"address\": \"192.168.0.10\", \"type\": \"InternalIP\"}, "
          "{\"address\": \"%s\", \"type\": \"Hostname\"}]}}\n  ]\n}\n",
          o.node_name.c_str(), o.node_name.c_str(), o.node_name.c_str());
  return out;
}

std::string benchmarkConfigYaml(const WorkloadOptions& o) {
  return "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n"
         "hostnameOverride: " + o.node_name + "\nclusterCIDR: 172.16.0.0/12\n";
}

}  // namespace kproxy::bench
