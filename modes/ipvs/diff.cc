#include "modes/ipvs/diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>
#include <tuple>

namespace kproxy::ipvs {
namespace {

using DestKey = std::pair<IpAddress, uint16_t>;

VirtualServer withoutRealServers(const VirtualServer& vs) {
  VirtualServer out;
  out.address = vs.address;
  out.protocol = vs.protocol;
  out.port = vs.port;
  out.scheduler = vs.scheduler;
  out.flags = vs.flags & ~kFlagHashed;
  out.timeout = vs.timeout;
  out.netmask = vs.netmask;
  return out;
}

IpSet definitionOf(const IpSet& set) {
  IpSet out = set;
  out.members.clear();
  return out;
}

// upstream lists kube-ipvs0's addresses through isValidForSet, so it never sees (or removes)
// loopback or IPv6 link-local addresses there.
bool ownedAddress(const IpAddress& ip, IpFamily family) {
  if (ip.family() != family || ip.isLoopback()) return false;
  return !(ip.isV6() && ip.isLinkLocalUnicast());
}

bool excluded(const IpAddress& ip, const std::vector<Cidr>& cidrs) {
  return std::any_of(cidrs.begin(), cidrs.end(), [&](const Cidr& c) { return c.contains(ip); });
}

std::string hostPrefix(const IpAddress& ip) { return ip.toString() + (ip.isV4() ? "/32" : "/128"); }

}  // namespace

std::string IpvsChange::toString() const {
  const std::string vs = virtual_server.key().toString();
  switch (kind) {
    case IpvsChangeKind::kCreateIpSet:
      return "create set " + ipset.name + " " + std::string(ipSetTypeName(ipset.type));
    case IpvsChangeKind::kDeleteIpSetMember:
      return "delete " + member + " from set " + ipset.name;
    case IpvsChangeKind::kAddIpSetMember:
      return "add " + member + " to set " + ipset.name;
    case IpvsChangeKind::kAddVirtualServer:
      return "add virtual server " + describe(virtual_server);
    case IpvsChangeKind::kUpdateVirtualServer:
      return "update virtual server " + describe(virtual_server);
    case IpvsChangeKind::kAddRealServer:
      return "add real server " + real_server.toString() + " to " + vs + " (weight " +
             std::to_string(real_server.weight) + ")";
    case IpvsChangeKind::kUpdateRealServer:
      return "set weight " + std::to_string(real_server.weight) + " on real server " + real_server.toString() +
             " of " + vs;
    case IpvsChangeKind::kRemoveRealServer:
      return "remove real server " + real_server.toString() + " from " + vs + " (" +
             std::to_string(real_server.active_connections) + " active, " +
             std::to_string(real_server.inactive_connections) + " inactive connections)";
    case IpvsChangeKind::kBindAddress:
      return "bind " + hostPrefix(address) + " to " + kDummyDevice;
    case IpvsChangeKind::kUnbindAddress:
      return "unbind " + hostPrefix(address) + " from " + kDummyDevice;
    case IpvsChangeKind::kDeleteVirtualServer:
      return "delete virtual server " + vs;
  }
  return "";
}

size_t IpvsChangeList::count(IpvsChangeKind kind) const {
  return static_cast<size_t>(
      std::count_if(changes.begin(), changes.end(), [&](const IpvsChange& c) { return c.kind == kind; }));
}

std::string IpvsChangeList::toString() const {
  std::string out;
  for (size_t i = 0; i < changes.size(); ++i) {
    if (i == cleanup_begin) out += "-- after the iptables rules --\n";
    out += changes[i].toString();
    out.push_back('\n');
  }
  return out;
}

IpvsChangeList diff(const IpvsState& observed, const IpvsState& desired) {
  IpvsChangeList out;
  auto& changes = out.changes;
  const IpFamily family = desired.family;

  // 1. IP sets.
  std::map<std::string_view, const IpSet*> observed_sets;
  for (const auto& set : observed.ipsets) observed_sets.emplace(set.name, &set);
  for (const auto& set : desired.ipsets) {
    auto it = observed_sets.find(set.name);
    // A set with other create parameters cannot be fixed in place; the create reports it (upstream:
    // "ipset create -exist" fails and the sync stops).
    if (it == observed_sets.end() || !it->second->sameDefinition(set)) {
      changes.push_back({.kind = IpvsChangeKind::kCreateIpSet, .ipset = definitionOf(set)});
    }
  }
  for (const auto& set : desired.ipsets) {
    auto it = observed_sets.find(set.name);
    std::set<std::string_view> have;
    if (it != observed_sets.end()) have.insert(it->second->members.begin(), it->second->members.end());
    std::set<std::string_view> want(set.members.begin(), set.members.end());
    const IpSet def = definitionOf(set);
    for (std::string_view m : have) {
      if (want.count(m) == 0) {
        changes.push_back({.kind = IpvsChangeKind::kDeleteIpSetMember, .ipset = def, .member = std::string(m)});
      }
    }
    for (const auto& m : set.members) {
      if (have.count(m) == 0) changes.push_back({.kind = IpvsChangeKind::kAddIpSetMember, .ipset = def, .member = m});
    }
  }

  // 2. Virtual servers and their real servers.
  std::map<VirtualServerKey, const VirtualServer*> observed_vs;
  for (const auto& vs : observed.virtual_servers) observed_vs.emplace(vs.key(), &vs);
  std::set<VirtualServerKey> desired_keys;
  std::vector<const VirtualServer*> wanted;
  wanted.reserve(desired.virtual_servers.size());
  for (const auto& vs : desired.virtual_servers) wanted.push_back(&vs);
  std::sort(wanted.begin(), wanted.end(), [](const VirtualServer* a, const VirtualServer* b) { return a->key() < b->key(); });
  for (const VirtualServer* vs : wanted) {
    desired_keys.insert(vs->key());
    const VirtualServer bare = withoutRealServers(*vs);
    auto it = observed_vs.find(vs->key());
    const VirtualServer* have = it == observed_vs.end() ? nullptr : it->second;
    if (have == nullptr) {
      changes.push_back({.kind = IpvsChangeKind::kAddVirtualServer, .virtual_server = bare});
    } else if (!have->sameServiceAttributes(*vs)) {
      changes.push_back({.kind = IpvsChangeKind::kUpdateVirtualServer, .virtual_server = bare});
    }

    std::map<DestKey, const RealServer*> have_rs;
    if (have != nullptr) {
      for (const auto& rs : have->real_servers) have_rs.emplace(DestKey{rs.address, rs.port}, &rs);
    }
    std::set<DestKey> want_rs;
    for (const auto& rs : vs->real_servers) {
      want_rs.insert({rs.address, rs.port});
      auto r = have_rs.find({rs.address, rs.port});
      if (r == have_rs.end()) {
        changes.push_back({.kind = IpvsChangeKind::kAddRealServer, .virtual_server = bare, .real_server = rs});
      } else if (r->second->weight != rs.weight) {
        changes.push_back({.kind = IpvsChangeKind::kUpdateRealServer, .virtual_server = bare, .real_server = rs});
      }
    }
    for (const auto& [key, rs] : have_rs) {
      if (want_rs.count(key) == 0) {
        changes.push_back({.kind = IpvsChangeKind::kRemoveRealServer, .virtual_server = bare, .real_server = *rs});
      }
    }
  }

  // 3. Addresses to bind.
  std::set<IpAddress> have_addrs(observed.kube_ipvs0_addresses.begin(), observed.kube_ipvs0_addresses.end());
  std::set<IpAddress> want_addrs(desired.kube_ipvs0_addresses.begin(), desired.kube_ipvs0_addresses.end());
  for (const auto& ip : want_addrs) {
    if (have_addrs.count(ip) == 0) changes.push_back({.kind = IpvsChangeKind::kBindAddress, .address = ip});
  }

  out.cleanup_begin = changes.size();

  // 4. Addresses to unbind.
  for (const auto& ip : have_addrs) {
    if (want_addrs.count(ip) == 0 && ownedAddress(ip, family)) {
      changes.push_back({.kind = IpvsChangeKind::kUnbindAddress, .address = ip});
    }
  }

  // 5. Stale virtual servers (upstream cleanLegacyService).
  for (const auto& [key, vs] : observed_vs) {
    if (desired_keys.count(key) != 0) continue;
    if (vs->family() != family || excluded(vs->address, desired.exclude_cidrs)) continue;
    changes.push_back({.kind = IpvsChangeKind::kDeleteVirtualServer, .virtual_server = withoutRealServers(*vs)});
  }
  return out;
}

}  // namespace kproxy::ipvs

namespace kproxy::ipvs {

IpvsState stateAfter(const IpvsState& observed, const IpvsState& desired, const IpvsChangeList& list,
                     const TerminationList& terminating) {
  IpvsState out;
  out.family = desired.family;
  out.exclude_cidrs = desired.exclude_cidrs;
  out.ipsets = desired.ipsets;  // created where missing, members changed in place

  // Virtual servers: the desired ones; the observed ones the diff left alone (other family,
  // excludeCIDRs) as they are.
  std::set<VirtualServerKey> deleted;
  for (const auto& c : list.changes) {
    if (c.kind == IpvsChangeKind::kDeleteVirtualServer) deleted.insert(c.virtual_server.key());
  }
  std::map<VirtualServerKey, VirtualServer> servers;
  for (const auto& vs : desired.virtual_servers) {
    VirtualServer copy = vs;
    copy.flags &= ~kFlagHashed;
    for (auto& rs : copy.real_servers) rs.active_connections = rs.inactive_connections = 0;
    servers.emplace(vs.key(), std::move(copy));
  }
  std::map<VirtualServerKey, const VirtualServer*> observed_vs;
  for (const auto& vs : observed.virtual_servers) {
    observed_vs.emplace(vs.key(), &vs);
    if (servers.count(vs.key()) != 0 || deleted.count(vs.key()) != 0) continue;
    servers.emplace(vs.key(), vs);
  }
  // Quiesced destinations stay in the kernel at weight 0 until the sweep deletes them.
  for (const auto& ref : terminating.entries()) {
    auto it = servers.find(ref.virtual_server);
    if (it == servers.end()) continue;
    auto& reals = it->second.real_servers;
    const bool present = std::any_of(reals.begin(), reals.end(), [&](const RealServer& rs) {
      return rs.address == ref.address && rs.port == ref.port;
    });
    if (!present) reals.push_back({.address = ref.address, .port = ref.port, .weight = 0});
  }
  out.virtual_servers.reserve(servers.size());
  for (auto& [key, vs] : servers) out.virtual_servers.push_back(std::move(vs));

  // kube-ipvs0: what was there, plus the bound, minus the unbound.
  std::set<IpAddress> addresses(observed.kube_ipvs0_addresses.begin(), observed.kube_ipvs0_addresses.end());
  for (const auto& c : list.changes) {
    if (c.kind == IpvsChangeKind::kBindAddress) addresses.insert(c.address);
    if (c.kind == IpvsChangeKind::kUnbindAddress) addresses.erase(c.address);
  }
  out.kube_ipvs0_addresses.assign(addresses.begin(), addresses.end());
  out.normalize();
  return out;
}

}  // namespace kproxy::ipvs
