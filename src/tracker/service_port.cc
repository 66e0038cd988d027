#include "src/tracker/service_port.h"

namespace kproxy::tracker {
namespace {

bool externallyAccessibleByType(const api::Service& service) {
  // upstream apiservice.ExternallyAccessible
  return service.type == "LoadBalancer" || service.type == "NodePort" ||
         (service.type == "ClusterIP" && !service.external_ips.empty());
}

std::vector<IpAddress> addressesOfFamily(const std::vector<std::string>& texts, IpFamily family) {
  std::vector<IpAddress> out;
  for (const auto& text : texts) {
    auto ip = IpAddress::parseSloppy(text);
    if (ip.ok() && ip->family() == family) out.push_back(*ip);
  }
  return out;
}

}  // namespace

std::string clusterIpForFamily(const api::Service& service, IpFamily family) {
  // Objects written before dual-stack have no ipFamilies: use clusterIP if its family matches.
  if (service.ip_families.empty()) {
    if (service.cluster_ip.empty() || service.cluster_ip == "None") return "";
    auto ip = IpAddress::parseSloppy(service.cluster_ip);
    bool is_v6 = ip.ok() && ip->isV6();
    return is_v6 == (family == IpFamily::kIPv6) ? service.cluster_ip : "";
  }
  for (size_t i = 0; i < service.ip_families.size(); ++i) {
    if (service.ip_families[i] == ipFamilyName(family) && i < service.cluster_ips.size()) {
      return service.cluster_ips[i];
    }
  }
  return "";
}

bool shouldProxyService(const api::Service& service) {
  if (service.cluster_ip.empty() || service.cluster_ip == "None") return false;
  return service.type != "ExternalName";
}

std::vector<ServicePortInfoPtr> buildServicePorts(const api::Service& service, IpFamily family) {
  std::vector<ServicePortInfoPtr> out;
  if (!shouldProxyService(service)) return out;
  auto cluster_ip_text = clusterIpForFamily(service, family);
  if (cluster_ip_text.empty()) return out;
  auto cluster_ip = IpAddress::parseSloppy(cluster_ip_text);
  if (!cluster_ip.ok()) return out;

  const bool external_policy_local =
      externallyAccessibleByType(service) && service.external_traffic_policy == "Local";
  const bool internal_policy_local = service.internal_traffic_policy == "Local";
  const bool client_ip_affinity = service.session_affinity == "ClientIP";

  std::vector<IpAddress> external_ips = addressesOfFamily(service.external_ips, family);

  std::vector<Cidr> source_ranges;
  for (const auto& text : service.load_balancer_source_ranges) {
    auto cidr = Cidr::parseSloppy(text);
    if (cidr.ok() && cidr->family() == family) source_ranges.push_back(*cidr);
  }
  // A zero-length prefix allows everything: no firewall at all (upstream).
  for (const auto& cidr : source_ranges) {
    if (cidr.prefixLength() == 0) {
      source_ranges.clear();
      break;
    }
  }

  // upstream: hostname-only ingress entries and ipMode Proxy entries are not VIPs
  // (LoadBalancerIPMode is GA, so the gate is always on).
  std::vector<std::string> vip_texts;
  for (const auto& ingress : service.load_balancer_ingress) {
    if (ingress.ip.empty() || ingress.ip_mode == "Proxy") continue;
    vip_texts.push_back(ingress.ip);
  }
  std::vector<IpAddress> vips = addressesOfFamily(vip_texts, family);

  int health_check_node_port = 0;
  if (service.type == "LoadBalancer" && external_policy_local) {
    health_check_node_port = service.health_check_node_port;
  }

  for (const auto& port : service.ports) {
    auto info = std::make_shared<ServicePortInfo>();
    info->name = ServicePortName{service.meta.namespacedName(), port.name, port.protocol};
    info->name_string = info->name.toString();
    info->cluster_ip = *cluster_ip;
    info->port = port.port;
    info->protocol = port.protocol;
    info->node_port = port.node_port;
    info->session_affinity_client_ip = client_ip_affinity;
    info->sticky_max_age_seconds = client_ip_affinity ? service.session_affinity_timeout : 0;
    info->external_ips = external_ips;
    info->load_balancer_source_ranges = source_ranges;
    info->load_balancer_vips = vips;
    info->external_policy_local = external_policy_local;
    info->internal_policy_local = internal_policy_local;
    info->health_check_node_port = health_check_node_port;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace kproxy::tracker
