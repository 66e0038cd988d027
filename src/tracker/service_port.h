// ServicePortInfo: what kube-proxy derives from one port of a Service for one IP family
// (upstream BaseServicePortInfo). Immutable once built; shared between snapshots.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/api/objects.h"
#include "src/tracker/service_port_name.h"
#include "src/util/ip.h"

namespace kproxy::tracker {

struct ServicePortInfo {
  ServicePortName name;
  std::string name_string;  // name.toString(), kept because every rule's comment uses it
  IpAddress cluster_ip;
  int port = 0;
  api::Protocol protocol = api::Protocol::kTCP;
  int node_port = 0;
  bool session_affinity_client_ip = false;
  int sticky_max_age_seconds = 0;
  std::vector<IpAddress> external_ips;         // this family only, spec order
  std::vector<Cidr> load_balancer_source_ranges;  // this family only; empty when any is /0
  std::vector<IpAddress> load_balancer_vips;   // VIP-mode ingress IPs of this family, status order
  bool external_policy_local = false;
  bool internal_policy_local = false;
  int health_check_node_port = 0;

  // Node port, LB VIP or external IP present (the port-level notion of "externally accessible").
  bool externallyAccessible() const {
    return node_port != 0 || !load_balancer_vips.empty() || !external_ips.empty();
  }
  bool usesClusterEndpoints() const { return !internal_policy_local || externallyAccessible(); }
  bool usesLocalEndpoints() const {
    return internal_policy_local || (external_policy_local && externallyAccessible());
  }

  bool operator==(const ServicePortInfo&) const = default;
};

using ServicePortInfoPtr = std::shared_ptr<const ServicePortInfo>;

// The Service's cluster IP of `family` (upstream GetClusterIPByFamily), or "" when it has none.
std::string clusterIpForFamily(const api::Service& service, IpFamily family);

// False for the Services upstream never proxies: ExternalName, and no cluster IP ("" / "None").
bool shouldProxyService(const api::Service& service);

// One ServicePortInfo per spec.ports entry for `family`; empty when the Service is skipped or
// has no cluster IP of that family. Unparsable addresses are dropped, as upstream does (validation
// reports them before this point).
std::vector<ServicePortInfoPtr> buildServicePorts(const api::Service& service, IpFamily family);

}  // namespace kproxy::tracker
