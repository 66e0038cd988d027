// ServiceHealthServer: the health-check node ports of LoadBalancer services with
// externalTrafficPolicy: Local (upstream pkg/proxy/healthcheck/service_health.go; spec
// ipvs-and-runtime.md §3.8). After every sync each family hands over its services' health-check
// ports and local ready endpoint counts; servers are opened and closed to match. Any request to a
// port answers 200 when the service has local ready endpoints and the proxy is healthy, else 503,
// with upstream's JSON body.
//
// Listening: a family whose nodePortAddresses match everything listens on the wildcard address,
// otherwise on each of its node IPs in nodePortAddresses. One listener serves a port for both
// families: on a dual-stack wildcard socket the local address tells the families apart, so IPv4
// clients get the IPv4 proxier's answer and IPv6 clients the IPv6 one (what upstream reaches since
// its 2026 fix with one socket per family; before that the second family's bind failed).
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "src/api/objects.h"
#include "src/proxy/health_state.h"
#include "src/server/http_server.h"
#include "src/tracker/snapshot.h"
#include "src/util/ip.h"

namespace kproxy::proxy {

// upstream ServicePortMap.HealthCheckNodePorts(): services with a health-check node port.
std::map<api::NamespacedName, uint16_t> healthCheckNodePorts(const tracker::ProxySnapshot& snapshot);
// upstream EndpointsMap.LocalReadyEndpoints(): per service, the distinct local ready endpoints
// (IP:port) over all its ports.
std::map<api::NamespacedName, int> localReadyEndpoints(const tracker::ProxySnapshot& snapshot);

// Where one family's health-check servers listen.
struct HealthCheckListenSpec {
  bool all = true;              // nodePortAddresses match everything: the wildcard address
  std::vector<IpAddress> ips;   // otherwise these node IPs
};

// An open listener; destroying it closes the socket.
class HealthCheckListener {
 public:
  virtual ~HealthCheckListener() = default;
};
using HealthCheckListenerFactory = std::function<Result<std::unique_ptr<HealthCheckListener>>(
    const std::string& host, int port, server::HttpHandler handler)>;

// Real listeners: server::HttpServer, one worker thread each.
HealthCheckListenerFactory httpHealthCheckListeners();

class ServiceHealthServer {
 public:
  struct Options {
    std::string node_name;              // for messages
    std::string wildcard_host = "::";   // "0.0.0.0" on a node without IPv6
    HealthCheckListenerFactory listeners;  // default: httpHealthCheckListeners()
  };
  ServiceHealthServer(const ProxyHealthState& health, Options options);
  ~ServiceHealthServer();

  void setListenSpec(IpFamily family, HealthCheckListenSpec spec);

  // upstream SyncServices for one family: the new set of services and their ports. Listeners
  // that cannot be opened are reported (one message per service, upstream's wording) and tried
  // again on the next call.
  std::vector<std::string> syncServices(IpFamily family, const std::map<api::NamespacedName, uint16_t>& services);
  // upstream SyncEndpoints: local endpoint counts; services not listed have 0.
  void syncEndpoints(IpFamily family, const std::map<api::NamespacedName, int>& endpoints);

  // The answer to a request that arrived at local address `local_addr`, port `port`.
  server::HttpResponse answer(const std::string& local_addr, int port) const;

  // Open listeners as "host:port", sorted (tests, logs).
  std::vector<std::string> listening() const;

 private:
  struct Key {
    std::string host;
    int port;
    auto operator<=>(const Key&) const = default;
  };
  std::set<Key> desiredLocked() const;

  const ProxyHealthState& health_;
  Options options_;
  std::mutex sync_mu_;  // serialises syncServices (the families' runner threads)
  mutable std::mutex mu_;
  std::array<HealthCheckListenSpec, 2> specs_;
  std::array<std::map<api::NamespacedName, uint16_t>, 2> services_;
  std::array<std::map<api::NamespacedName, int>, 2> endpoints_;
  std::map<Key, std::unique_ptr<HealthCheckListener>> listeners_;
};

// upstream's body, tab-indented, no trailing newline.
std::string serviceHealthBody(const api::NamespacedName& service, int local_endpoints, bool proxy_healthy);

}  // namespace kproxy::proxy
