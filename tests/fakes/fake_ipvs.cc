#include "tests/fakes/fake_ipvs.h"

#include <algorithm>
#include <cerrno>

#include "netlink/errors.h"

namespace kproxy::fakes {

// ----- FakeIpvs -----

FakeIpvs::Entry* FakeIpvs::find(const netlink::IpvsService& key) {
  for (auto& e : entries_) {
    if (e.service.sameKey(key)) return &e;
  }
  return nullptr;
}

Result<std::vector<netlink::IpvsService>> FakeIpvs::listServices() {
  ++list_services_calls_;
  std::vector<netlink::IpvsService> out;
  for (const auto& e : entries_) out.push_back(e.service);
  return out;
}

Result<netlink::IpvsService> FakeIpvs::getService(const netlink::IpvsService& key) {
  if (Entry* e = find(key)) return e->service;
  return netlink::errnoError("get service " + key.toString(), ESRCH);
}

Result<std::vector<netlink::IpvsDestination>> FakeIpvs::listDestinations(const netlink::IpvsService& service) {
  ++list_destinations_calls_;
  if (Entry* e = find(service)) return e->destinations;
  return netlink::errnoError("list destinations of " + service.toString(), ESRCH);
}

Result<std::vector<netlink::IpvsServiceWithDestinations>> FakeIpvs::listAll() {
  ++list_all_calls_;
  std::vector<netlink::IpvsServiceWithDestinations> out;
  for (const auto& e : entries_) out.push_back({e.service, e.destinations});
  return out;
}

Status FakeIpvs::run(const netlink::IpvsOperation& op) {
  const std::string what = op.toString();
  Entry* e = find(op.service);
  if (op.command == netlink::IpvsCommand::kNewService) {
    if (e != nullptr) return netlink::errnoError(what, EEXIST);
    netlink::IpvsService s = op.service;
    s.flags |= netlink::kIpvsFlagHashed;  // the kernel reports every service hashed
    entries_.push_back({s, {}});
    return okStatus();
  }
  if (e == nullptr) return netlink::errnoError(what, ESRCH);
  auto dest = std::find_if(e->destinations.begin(), e->destinations.end(),
                           [&](const netlink::IpvsDestination& d) { return d.sameKey(op.destination); });
  switch (op.command) {
    case netlink::IpvsCommand::kSetService:
      e->service.scheduler = op.service.scheduler;
      e->service.flags = op.service.flags | netlink::kIpvsFlagHashed;
      e->service.timeout = op.service.timeout;
      e->service.netmask = op.service.netmask;
      return okStatus();
    case netlink::IpvsCommand::kDelService:
      entries_.erase(entries_.begin() + (e - entries_.data()));
      return okStatus();
    case netlink::IpvsCommand::kNewDest:
      if (dest != e->destinations.end()) return netlink::errnoError(what, EEXIST);
      e->destinations.push_back(op.destination);
      e->destinations.back().active_connections = e->destinations.back().inactive_connections = 0;
      return okStatus();
    case netlink::IpvsCommand::kSetDest:
      if (dest == e->destinations.end()) return netlink::errnoError(what, ENOENT);
      dest->weight = op.destination.weight;
      return okStatus();
    case netlink::IpvsCommand::kDelDest:
      if (dest == e->destinations.end()) return netlink::errnoError(what, ENOENT);
      e->destinations.erase(dest);
      return okStatus();
    case netlink::IpvsCommand::kNewService:
      break;
  }
  return okStatus();
}

std::vector<Status> FakeIpvs::execute(const std::vector<netlink::IpvsOperation>& operations) {
  std::vector<Status> out;
  out.reserve(operations.size());
  for (const auto& op : operations) {
    ++operations_;
    out.push_back(run(op));
  }
  return out;
}

Status FakeIpvs::setTimeouts(const netlink::IpvsTimeouts& timeouts) {
  if (timeouts.tcp != 0) timeouts_.tcp = timeouts.tcp;
  if (timeouts.tcp_fin != 0) timeouts_.tcp_fin = timeouts.tcp_fin;
  if (timeouts.udp != 0) timeouts_.udp = timeouts.udp;
  return okStatus();
}

Status FakeIpvs::flush() {
  entries_.clear();
  return okStatus();
}

bool FakeIpvs::setCounts(const netlink::IpvsService& key, const IpAddress& address, uint16_t port, uint32_t active,
                         uint32_t inactive) {
  Entry* e = find(key);
  if (e == nullptr) return false;
  for (auto& d : e->destinations) {
    if (d.address == address && d.port == port) {
      d.active_connections = active;
      d.inactive_connections = inactive;
      return true;
    }
  }
  return false;
}

std::string FakeIpvs::dump() const {
  std::vector<std::string> lines;
  for (const auto& e : entries_) {
    netlink::IpvsOperation add{.command = netlink::IpvsCommand::kNewService, .service = e.service};
    add.service.flags &= ~netlink::kIpvsFlagHashed;
    lines.push_back(add.toString());
    for (const auto& d : e.destinations) {
      lines.push_back(netlink::IpvsOperation{.command = netlink::IpvsCommand::kNewDest, .service = e.service, .destination = d}
                          .toString());
    }
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out.append(l).append("\n");
  return out;
}

// ----- FakeLinks -----

Result<netlink::LinkInfo> FakeLinks::getLink(std::string_view name) {
  auto it = links_.find(name);
  if (it == links_.end()) return netlink::errnoError("link " + std::string(name), ENODEV);
  return netlink::LinkInfo{.name = it->first, .index = 100, .kind = "dummy", .up = false};
}

Result<netlink::LinkInfo> FakeLinks::ensureDummyLink(std::string_view name) {
  links_.try_emplace(std::string(name));
  return getLink(name);
}

Status FakeLinks::deleteDummyLink(std::string_view name) {
  if (auto it = links_.find(name); it != links_.end()) links_.erase(it);
  return okStatus();
}

Result<std::vector<IpAddress>> FakeLinks::listAddresses(std::string_view name, IpFamily family) {
  ++list_addresses_calls_;
  auto it = links_.find(name);
  if (it == links_.end()) return netlink::errnoError("link " + std::string(name), ENODEV);
  std::vector<IpAddress> out;
  for (const auto& a : it->second) {
    if (a.family() == family) out.push_back(a);
  }
  return out;
}

Result<std::vector<netlink::LinkAddress>> FakeLinks::listAllAddresses(IpFamily family) {
  std::vector<netlink::LinkAddress> out;
  for (const auto& [name, addresses] : links_) {
    for (const auto& a : addresses) {
      if (a.family() != family) continue;
      netlink::LinkAddress la;
      la.link = name;
      la.link_index = 100;
      la.address.ip = a;
      la.address.prefix_length = a.isV4() ? 32 : 128;
      out.push_back(la);
    }
  }
  return out;
}

std::vector<Status> FakeLinks::addAddresses(std::string_view name, const std::vector<IpAddress>& addresses) {
  auto it = links_.find(name);
  std::vector<Status> out;
  for (const auto& a : addresses) {
    if (it == links_.end()) {
      out.push_back(netlink::errnoError("link " + std::string(name), ENODEV));
      continue;
    }
    it->second.insert(a);
    out.push_back(okStatus());
  }
  return out;
}

std::vector<Status> FakeLinks::deleteAddresses(std::string_view name, const std::vector<IpAddress>& addresses) {
  auto it = links_.find(name);
  std::vector<Status> out;
  for (const auto& a : addresses) {
    if (it != links_.end()) it->second.erase(a);
    out.push_back(okStatus());
  }
  return out;
}

// ----- FakeIpSets -----

Status FakeIpSets::create(const netlink::IpSetSpec& spec) {
  auto it = sets_.find(spec.name);
  if (it == sets_.end()) {
    sets_.emplace(spec.name, Set{spec, {}});
    return okStatus();
  }
  if (it->second.spec.type != spec.type || it->second.spec.family != spec.family) {
    return netlink::errnoError("create set " + spec.name, EEXIST);
  }
  return okStatus();
}

Status FakeIpSets::destroy(std::string_view name) {
  auto it = sets_.find(name);
  if (it == sets_.end()) return netlink::errnoError("destroy set " + std::string(name), ENOENT);
  sets_.erase(it);
  return okStatus();
}

Status FakeIpSets::flush(std::string_view name) {
  auto it = sets_.find(name);
  if (it == sets_.end()) return netlink::errnoError("flush set " + std::string(name), ENOENT);
  it->second.members.clear();
  return okStatus();
}

Status FakeIpSets::swap(std::string_view a, std::string_view b) {
  auto ia = sets_.find(a);
  auto ib = sets_.find(b);
  if (ia == sets_.end() || ib == sets_.end()) return netlink::errnoError("swap sets", ENOENT);
  std::swap(ia->second.members, ib->second.members);
  return okStatus();
}

std::vector<Status> FakeIpSets::addMembers(std::string_view set, const std::vector<std::string>& members) {
  auto it = sets_.find(set);
  std::vector<Status> out;
  for (const auto& m : members) {
    if (it == sets_.end()) {
      out.push_back(netlink::errnoError("add to set " + std::string(set), ENOENT));
      continue;
    }
    it->second.members.insert(m);
    out.push_back(okStatus());
  }
  return out;
}

std::vector<Status> FakeIpSets::deleteMembers(std::string_view set, const std::vector<std::string>& members) {
  auto it = sets_.find(set);
  std::vector<Status> out;
  for (const auto& m : members) {
    if (it == sets_.end()) {
      out.push_back(netlink::errnoError("delete from set " + std::string(set), ENOENT));
      continue;
    }
    it->second.members.erase(m);
    out.push_back(okStatus());
  }
  return out;
}

Result<bool> FakeIpSets::test(std::string_view set, std::string_view member) {
  auto it = sets_.find(set);
  if (it == sets_.end()) return netlink::errnoError("test set " + std::string(set), ENOENT);
  return it->second.members.count(std::string(member)) != 0;
}

Result<netlink::IpSetContent> FakeIpSets::list(std::string_view name) {
  ++list_calls_;
  auto it = sets_.find(name);
  if (it == sets_.end()) return netlink::errnoError("list set " + std::string(name), ENOENT);
  return netlink::IpSetContent{it->second.spec, {it->second.members.begin(), it->second.members.end()}};
}

Result<std::vector<std::string>> FakeIpSets::listNames() {
  std::vector<std::string> out;
  for (const auto& [name, set] : sets_) out.push_back(name);
  return out;
}

}  // namespace kproxy::fakes
