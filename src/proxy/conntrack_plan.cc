#include "src/proxy/conntrack_plan.h"

#include <cstring>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace kproxy::proxy {
namespace {

// IP:port as a hashable key. Iteration order of the containers below never reaches the output:
// the result follows the order of the dumped flows.
struct HostPort {
  IpAddress ip;
  uint16_t port = 0;

  bool operator==(const HostPort&) const = default;
};

struct HostPortHash {
  size_t operator()(const HostPort& hp) const {
    char key[19];
    std::memcpy(key, hp.ip.bytes(), 16);
    key[16] = static_cast<char>(hp.ip.family());
    std::memcpy(key + 17, &hp.port, 2);
    return std::hash<std::string_view>()(std::string_view(key, sizeof key));
  }
};

using EndpointSet = std::unordered_set<HostPort, HostPortHash>;

}  // namespace

std::vector<netlink::ConntrackFlow> staleFlows(const tracker::ProxySnapshot& snapshot,
                                               const std::vector<netlink::ConntrackFlow>& udp_flows) {
  // upstream: serviceIPEndpoints (frontend IP:port -> serving endpoints) and
  // serviceNodePortEndpoints (node port -> serving endpoints).
  std::unordered_map<HostPort, EndpointSet, HostPortHash> frontends;
  std::unordered_map<uint16_t, EndpointSet> node_ports;

  for (const auto& [name, service] : snapshot.services) {
    if (service->protocol != api::Protocol::kUDP) continue;
    EndpointSet serving;
    for (const auto& endpoint : snapshot.endpointsOf(name)) {
      // upstream: changes to the service must not break existing flows, so traffic policies,
      // topology and terminating state are ignored: every serving endpoint is a valid backend.
      if (endpoint->serving) serving.insert({endpoint->ip, static_cast<uint16_t>(endpoint->port)});
    }
    // upstream: "a Service without endpoints does not require to clean the conntrack entries".
    if (serving.empty()) continue;

    const auto port = static_cast<uint16_t>(service->port);
    auto map_frontend = [&](const IpAddress& ip) { frontends[{ip, port}].insert(serving.begin(), serving.end()); };
    map_frontend(service->cluster_ip);
    for (const auto& vip : service->load_balancer_vips) map_frontend(vip);
    for (const auto& external_ip : service->external_ips) map_frontend(external_ip);
    if (service->node_port != 0) {
      node_ports[static_cast<uint16_t>(service->node_port)].insert(serving.begin(), serving.end());
    }
  }

  std::vector<netlink::ConntrackFlow> stale;
  if (frontends.empty() && node_ports.empty()) return stale;
  for (const auto& flow : udp_flows) {
    if (flow.protocol != netlink::kIpProtoUdp || flow.family != snapshot.family) continue;
    const HostPort reply_source{flow.reply_src, flow.reply_sport};

    // --orig-dst/--orig-port-dst is a service frontend and --reply-src/--reply-port-src is not one
    // of its serving endpoints.
    auto frontend = frontends.find({flow.orig_dst, flow.orig_dport});
    if (frontend != frontends.end() && frontend->second.count(reply_source) == 0) {
      stale.push_back(flow);
      continue;
    }
    // upstream checks the node port even when the frontend matched with a valid endpoint (the
    // frontend test above only short-circuits on "stale"): --orig-port-dst is a node port, on any
    // destination address, and the reply source is not one of its serving endpoints.
    auto node_port = node_ports.find(flow.orig_dport);
    if (node_port != node_ports.end() && node_port->second.count(reply_source) == 0) {
      stale.push_back(flow);
    }
  }
  return stale;
}

}  // namespace kproxy::proxy
