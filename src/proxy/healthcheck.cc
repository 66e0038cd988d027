#include "src/proxy/healthcheck.h"

#include <algorithm>

namespace kproxy::proxy {
namespace {

size_t indexOf(IpFamily family) { return family == IpFamily::kIPv4 ? 0 : 1; }

class HttpListener final : public HealthCheckListener {
 public:
  explicit HttpListener(server::HttpHandler handler) : server_(std::move(handler), 1) {}
  server::HttpServer& server() { return server_; }

 private:
  server::HttpServer server_;
};

// The address a request reached, as an IP: "::ffff:10.0.0.1" (dual-stack socket) is IPv4.
std::optional<IpAddress> localIp(const std::string& local_addr) {
  std::string_view s = local_addr;
  constexpr std::string_view kMapped = "::ffff:";
  if (s.size() > kMapped.size() && s.substr(0, kMapped.size()) == kMapped &&
      s.find('.') != std::string_view::npos) {
    s.remove_prefix(kMapped.size());
  }
  auto ip = IpAddress::parse(s);
  if (!ip.ok()) return std::nullopt;
  return *ip;
}

}  // namespace

std::map<api::NamespacedName, uint16_t> healthCheckNodePorts(const tracker::ProxySnapshot& snapshot) {
  std::map<api::NamespacedName, uint16_t> ports;
  for (const auto& [name, info] : snapshot.services) {
    if (info->health_check_node_port != 0) {
      ports[name.service] = static_cast<uint16_t>(info->health_check_node_port);
    }
  }
  return ports;
}

std::map<api::NamespacedName, int> localReadyEndpoints(const tracker::ProxySnapshot& snapshot) {
  std::map<api::NamespacedName, std::set<std::string>> eps;
  for (const auto& [name, list] : snapshot.endpoints) {
    if (!list) continue;
    for (const auto& ep : *list) {
      if (ep->is_local && ep->ready) eps[name.service].insert(ep->endpoint);
    }
  }
  std::map<api::NamespacedName, int> out;
  for (const auto& [name, set] : eps) out[name] = static_cast<int>(set.size());
  return out;
}

std::string serviceHealthBody(const api::NamespacedName& service, int local_endpoints, bool proxy_healthy) {
  return "{\n\t\"service\": {\n\t\t\"namespace\": \"" + service.namespace_ + "\",\n\t\t\"name\": \"" + service.name +
         "\"\n\t},\n\t\"localEndpoints\": " + std::to_string(local_endpoints) +
         ",\n\t\"serviceProxyHealthy\": " + (proxy_healthy ? "true" : "false") + "\n}";
}

HealthCheckListenerFactory httpHealthCheckListeners() {
  return [](const std::string& host, int port,
            server::HttpHandler handler) -> Result<std::unique_ptr<HealthCheckListener>> {
    auto listener = std::make_unique<HttpListener>(std::move(handler));
    auto bound = listener->server().bind(host, port);
    if (!bound.ok()) return bound.error();
    listener->server().start();
    return std::unique_ptr<HealthCheckListener>(std::move(listener));
  };
}

ServiceHealthServer::ServiceHealthServer(const ProxyHealthState& health, Options options)
    : health_(health), options_(std::move(options)) {
  if (!options_.listeners) options_.listeners = httpHealthCheckListeners();
}

ServiceHealthServer::~ServiceHealthServer() {
  std::map<Key, std::unique_ptr<HealthCheckListener>> closing;
  {
    std::lock_guard lock(mu_);
    closing.swap(listeners_);
  }
  // Destroyed outside the lock: a listener's stop waits for its handlers, which take the lock.
}

void ServiceHealthServer::setListenSpec(IpFamily family, HealthCheckListenSpec spec) {
  std::lock_guard lock(mu_);
  specs_[indexOf(family)] = std::move(spec);
}

std::set<ServiceHealthServer::Key> ServiceHealthServer::desiredLocked() const {
  std::set<int> wildcard_ports;
  for (size_t f = 0; f < 2; ++f) {
    if (!specs_[f].all) continue;
    for (const auto& [name, port] : services_[f]) wildcard_ports.insert(port);
  }
  std::set<Key> desired;
  for (int port : wildcard_ports) desired.insert(Key{options_.wildcard_host, port});
  for (size_t f = 0; f < 2; ++f) {
    if (specs_[f].all) continue;
    for (const auto& [name, port] : services_[f]) {
      // A wildcard listener on the port already receives these addresses (and would make a
      // second bind fail).
      if (wildcard_ports.count(port) != 0) continue;
      for (const IpAddress& ip : specs_[f].ips) desired.insert(Key{ip.toString(), port});
    }
  }
  return desired;
}

std::vector<std::string> ServiceHealthServer::syncServices(IpFamily family,
                                                           const std::map<api::NamespacedName, uint16_t>& services) {
  std::lock_guard sync_lock(sync_mu_);
  std::vector<Key> to_open;
  std::vector<std::unique_ptr<HealthCheckListener>> to_close;
  {
    std::lock_guard lock(mu_);
    services_[indexOf(family)] = services;
    const std::set<Key> desired = desiredLocked();
    for (auto it = listeners_.begin(); it != listeners_.end();) {
      if (desired.count(it->first) == 0) {
        to_close.push_back(std::move(it->second));
        it = listeners_.erase(it);
      } else {
        ++it;
      }
    }
    for (const Key& k : desired) {
      if (listeners_.count(k) == 0) to_open.push_back(k);
    }
  }
  to_close.clear();  // closes, outside the lock

  std::vector<std::string> errors;
  for (const Key& k : to_open) {
    auto listener = options_.listeners(k.host, k.port, [this](const server::HttpRequest& req) {
      return answer(req.local_addr, req.local_port);
    });
    std::lock_guard lock(mu_);
    if (!listener.ok()) {
      // upstream's message, once per service of this family on that port.
      for (const auto& [name, port] : services_[indexOf(family)]) {
        if (port != k.port) continue;
        errors.push_back("node " + options_.node_name + " failed to start healthcheck \"" + name.namespace_ + "/" +
                         name.name + "\" on port " + std::to_string(port) + ": " + listener.error().message);
      }
      continue;
    }
    listeners_[k] = std::move(*listener);
  }
  return errors;
}

void ServiceHealthServer::syncEndpoints(IpFamily family, const std::map<api::NamespacedName, int>& endpoints) {
  std::lock_guard lock(mu_);
  endpoints_[indexOf(family)] = endpoints;
}

server::HttpResponse ServiceHealthServer::answer(const std::string& local_addr, int port) const {
  const std::optional<IpAddress> ip = localIp(local_addr);
  std::optional<api::NamespacedName> found;
  int count = 0;
  {
    std::lock_guard lock(mu_);
    // The family of the address the request reached first, then the other one (a single-stack
    // service reached over the other family on a dual-stack wildcard socket).
    std::vector<size_t> order = {0, 1};
    if (ip && ip->isV6()) order = {1, 0};
    for (size_t f : order) {
      const HealthCheckListenSpec& spec = specs_[f];
      if (!spec.all && ip && std::find(spec.ips.begin(), spec.ips.end(), *ip) == spec.ips.end()) continue;
      for (const auto& [name, p] : services_[f]) {
        if (p != port) continue;
        found = name;
        auto it = endpoints_[f].find(name);
        count = it == endpoints_[f].end() ? 0 : it->second;
        break;
      }
      if (found) break;
    }
  }
  server::HttpResponse r;
  r.content_type = "application/json";
  r.headers = {{"X-Content-Type-Options", "nosniff"}};
  if (!found) {
    // upstream logs "Received request for closed healthcheck" and writes nothing.
    r.status = 503;
    return r;
  }
  const bool healthy = health_.isHealthy();
  r.status = count != 0 && healthy ? 200 : 503;
  r.body = serviceHealthBody(*found, count, healthy);
  return r;
}

std::vector<std::string> ServiceHealthServer::listening() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, l] : listeners_) out.push_back(server::joinHostPort(k.host, k.port));
  return out;
}

}  // namespace kproxy::proxy
