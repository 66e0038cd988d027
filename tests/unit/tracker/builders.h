// Test builders for api objects (designated initialisers, design.md convention 12).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/api/objects.h"

namespace kproxy::testing {

struct PortSpec {
  std::string name = "p80";
  api::Protocol protocol = api::Protocol::kTCP;
  int32_t port = 80;
  int32_t node_port = 0;
};

inline api::Service makeService(std::string ns, std::string name, std::string cluster_ip,
                                std::vector<PortSpec> ports = {PortSpec{}}) {
  api::Service svc;
  svc.meta.namespace_ = std::move(ns);
  svc.meta.name = std::move(name);
  svc.cluster_ip = cluster_ip;
  svc.cluster_ips = {cluster_ip};
  for (const auto& p : ports) svc.ports.push_back({p.name, p.protocol, p.port, p.node_port});
  return svc;
}

struct EndpointSpec {
  std::string ip;
  std::optional<bool> ready;
  std::optional<bool> serving;
  std::optional<bool> terminating;
  std::optional<std::string> node;
  std::vector<std::string> zones;
  std::vector<std::string> nodes;
};

inline std::shared_ptr<const api::EndpointSlice> makeSlice(std::string ns, std::string service, std::string slice_name,
                                                           std::vector<EndpointSpec> endpoints,
                                                           std::vector<PortSpec> ports = {PortSpec{}},
                                                           std::string address_type = "IPv4") {
  auto slice = std::make_shared<api::EndpointSlice>();
  slice->meta.namespace_ = std::move(ns);
  slice->meta.name = std::move(slice_name);
  slice->meta.labels[api::kLabelServiceName] = std::move(service);
  slice->address_type = std::move(address_type);
  for (const auto& e : endpoints) {
    api::Endpoint ep;
    ep.addresses = {e.ip};
    ep.conditions = {e.ready, e.serving, e.terminating};
    ep.node_name = e.node;
    ep.hints_for_zones = e.zones;
    ep.hints_for_nodes = e.nodes;
    slice->endpoints.push_back(std::move(ep));
  }
  for (const auto& p : ports) slice->ports.push_back({p.name, p.port, p.protocol});
  return slice;
}

}  // namespace kproxy::testing
