#include "modes/ipvs/applier.h"

#include <map>
#include <optional>
#include <set>

#include "netlink/errors.h"

namespace kproxy::ipvs {
namespace {

std::optional<api::Protocol> protocolOf(uint16_t number) {
  switch (number) {
    case netlink::kIpvsProtoTcp:
      return api::Protocol::kTCP;
    case netlink::kIpvsProtoUdp:
      return api::Protocol::kUDP;
    case netlink::kIpvsProtoSctp:
      return api::Protocol::kSCTP;
    default:
      return std::nullopt;
  }
}

std::optional<IpSetType> ipSetTypeOf(std::string_view name) {
  for (IpSetType t : {IpSetType::kHashIp, IpSetType::kHashIpPort, IpSetType::kHashIpPortIp, IpSetType::kHashIpPortNet,
                      IpSetType::kBitmapPort}) {
    if (ipSetTypeName(t) == name) return t;
  }
  return std::nullopt;
}

netlink::IpSetSpec toSpec(const IpSet& set) {
  netlink::IpSetSpec spec;
  spec.name = set.name;
  spec.type = std::string(ipSetTypeName(set.type));
  spec.family = set.family;
  spec.hash_size = set.hash_size;
  spec.max_elem = set.max_elem;
  spec.port_range = set.port_range;
  return spec;
}

DestinationRef refOf(const VirtualServer& vs, const RealServer& rs) {
  return {.virtual_server = vs.key(), .address = rs.address, .port = rs.port};
}

// The service key of a DestinationRef, for netlink commands that name it.
netlink::IpvsService serviceKeyOf(const VirtualServerKey& key) {
  VirtualServer vs;
  vs.address = key.address;
  vs.protocol = key.protocol;
  vs.port = key.port;
  vs.netmask = defaultNetmask(key.address.family());
  return toNetlinkService(vs);
}

netlink::IpvsDestination destinationOf(const DestinationRef& ref, uint32_t weight) {
  netlink::IpvsDestination d;
  d.address = ref.address;
  d.port = ref.port;
  d.weight = weight;
  return d;
}

// Keeps the known state in step with the sweep's deletions.
void dropDestinations(IpvsState& state, const std::set<DestinationRef>& gone) {
  if (gone.empty()) return;
  for (auto& vs : state.virtual_servers) {
    std::erase_if(vs.real_servers, [&](const RealServer& rs) { return gone.count(refOf(vs, rs)) != 0; });
  }
}

}  // namespace

netlink::IpvsService toNetlinkService(const VirtualServer& vs) {
  netlink::IpvsService s;
  s.address = vs.address;
  s.protocol = static_cast<uint16_t>(protocolNumber(vs.protocol));
  s.port = vs.port;
  s.scheduler = vs.scheduler;
  s.flags = vs.flags & ~kFlagHashed;
  s.timeout = vs.timeout;
  s.netmask = vs.netmask;
  return s;
}

netlink::IpvsDestination toNetlinkDestination(const RealServer& rs) {
  netlink::IpvsDestination d;
  d.address = rs.address;
  d.port = rs.port;
  d.weight = static_cast<uint32_t>(rs.weight);
  return d;
}

std::optional<VirtualServer> fromNetlinkService(const netlink::IpvsService& service) {
  auto protocol = protocolOf(service.protocol);
  if (!protocol) return std::nullopt;
  VirtualServer vs;
  vs.address = service.address;
  vs.protocol = *protocol;
  vs.port = service.port;
  vs.scheduler = service.scheduler;
  vs.flags = service.flags & ~kFlagHashed;
  vs.timeout = service.timeout;
  vs.netmask = service.netmask;
  return vs;
}

Result<IpvsState> readObservedState(netlink::IpvsClient& ipvs, netlink::LinkClient& links,
                                    netlink::IpSetClient& ipsets, IpFamily family,
                                    const std::vector<IpSet>& desired_sets) {
  IpvsState out;
  out.family = family;
  // One dump of the services, then the destinations of this family's only: the other family's
  // proxier reads its own (a dual-stack IPv6 sync must not walk every IPv4 virtual server).
  auto services = ipvs.listServices();
  if (!services.ok()) return services.error();
  for (const auto& service : *services) {
    if (service.address.family() != family) continue;
    auto vs = fromNetlinkService(service);
    if (!vs) continue;
    auto destinations = ipvs.listDestinations(service);
    if (!destinations.ok()) {
      if (destinations.error().code == ESRCH) continue;  // deleted between the two dumps
      return destinations.error();
    }
    for (const auto& d : *destinations) {
      RealServer rs;
      rs.address = d.address;
      rs.port = d.port;
      rs.weight = static_cast<int>(d.weight);
      rs.active_connections = d.active_connections;
      rs.inactive_connections = d.inactive_connections;
      vs->real_servers.push_back(rs);
    }
    out.virtual_servers.push_back(std::move(*vs));
  }
  for (const auto& want : desired_sets) {
    auto content = ipsets.list(want.name);
    if (!content.ok()) {
      if (content.error().code == ENOENT) continue;
      return content.error();
    }
    IpSet set;
    set.name = content->spec.name;
    auto type = ipSetTypeOf(content->spec.type);
    // A set of a type IPVS mode never creates: diff sees another definition and re-creates it,
    // which the kernel refuses with a clear error.
    set.type = type.value_or(want.type == IpSetType::kHashIp ? IpSetType::kHashIpPort : IpSetType::kHashIp);
    set.family = content->spec.family;
    // The kernel grows a hash set's table as members come (hashsize 1024 -> 2048 -> ...) and
    // ignores the size when `create -exist` compares sets; so does this comparison.
    set.hash_size = content->spec.hash_size >= want.hash_size ? want.hash_size : content->spec.hash_size;
    set.max_elem = content->spec.max_elem;
    set.port_range = content->spec.port_range;
    set.members = content->members;
    out.ipsets.push_back(std::move(set));
  }
  auto addresses = links.listAddresses(kDummyDevice, family);
  if (addresses.ok()) {
    out.kube_ipvs0_addresses = *addresses;
  } else if (addresses.error().code != ENODEV) {
    return addresses.error();
  }
  out.normalize();
  return out;
}

Status IpvsApplier::ensureChainJumps(IpFamily family) {
  // One iptables-save and, when jumps are missing, one restore of "-I FROM 1 ..." lines: the
  // same rules in the same order as upstream's one `iptables -C` / `-I` per jump, in two
  // processes instead of up to eighteen.
  auto saved = deps_.iptables->save(family, "");
  if (!saved.ok()) return saved.error();
  std::set<std::string> present;  // "table\n-A FROM ... -j TO"
  std::string table;
  size_t pos = 0;
  const std::string& text = *saved;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line[0] == '*') table = line.substr(1);
    if (line.rfind("-A ", 0) == 0) present.insert(table + "\n" + line);
  }
  std::map<std::string, std::string> inserts;  // table -> "-I ..." lines
  for (const auto& jump : ipvsChainJumps()) {
    const std::string rule = " -m comment --comment \"" + std::string(jump.comment) + "\" -j " + std::string(jump.to);
    if (present.count(std::string(jump.table) + "\n-A " + std::string(jump.from) + rule) != 0) continue;
    inserts[std::string(jump.table)] += "-I " + std::string(jump.from) + " 1" + rule + "\n";
  }
  if (inserts.empty()) return okStatus();
  std::string input;
  for (const auto& [t, lines] : inserts) input += "*" + t + "\n" + lines + "COMMIT\n";
  return deps_.iptables->restore(family, {input});
}

Result<ApplyReport> IpvsApplier::apply(const IpvsPlan& plan, ApplyKind kind) {
  const IpvsState& desired = plan.state;
  const IpFamily family = desired.family;
  ApplyReport report;
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();

  // Whatever happens below, the kernel may no longer hold the known state: only a clean finish
  // keeps one again.
  std::optional<IpvsState> known = std::move(known_);
  std::optional<std::string> restored_payload = std::move(restored_payload_);
  known_.reset();
  restored_payload_.reset();
  const bool partial = kind == ApplyKind::kPartial && known && known->family == family;

  // Step 4: kube-ipvs0 (failure aborts the sync). A partial apply trusts it is there, as it
  // trusts the rest of the known state.
  if (!partial) {
    if (auto link = deps_.links.ensureDummyLink(kDummyDevice); !link.ok()) return link.error();
  }

  IpvsState observed;
  if (partial) {
    observed = std::move(*known);
  } else {
    auto read = readObservedState(deps_.ipvs, deps_.links, deps_.ipsets, family, desired.ipsets);
    if (!read.ok()) return read.error();
    observed = std::move(*read);
    report.read_kernel_state = true;
  }
  IpvsChangeList list = diff(observed, desired);
  if (partial) {
    if (auto s = fillRemovalCounts(list); !s.ok()) return s.error();
  }
  report.changes = list.toString();

  // Sets: creates first (failure aborts, as upstream's ensure step), then members per set in
  // as few batches as libipset allows.
  std::map<std::string, std::vector<std::string>> add_members, del_members;
  std::vector<std::string> set_order;
  auto note_set = [&](const std::string& name) {
    if (add_members.count(name) == 0 && del_members.count(name) == 0) set_order.push_back(name);
  };
  std::vector<netlink::IpvsOperation> ops;
  std::vector<std::string> bind, unbind;
  std::vector<netlink::IpvsOperation> cleanup_ops;
  const bool any_terminating = !terminating_.empty();

  for (size_t i = 0; i < list.changes.size(); ++i) {
    const IpvsChange& c = list.changes[i];
    switch (c.kind) {
      case IpvsChangeKind::kCreateIpSet: {
        if (auto s = deps_.ipsets.create(toSpec(c.ipset)); !s.ok()) return s.error();
        ++report.sets_created;
        break;
      }
      case IpvsChangeKind::kDeleteIpSetMember:
        note_set(c.ipset.name);
        del_members[c.ipset.name].push_back(c.member);
        break;
      case IpvsChangeKind::kAddIpSetMember:
        note_set(c.ipset.name);
        add_members[c.ipset.name].push_back(c.member);
        break;
      case IpvsChangeKind::kAddVirtualServer:
        ops.push_back({.command = netlink::IpvsCommand::kNewService, .service = toNetlinkService(c.virtual_server)});
        ++report.virtual_servers_added;
        break;
      case IpvsChangeKind::kUpdateVirtualServer:
        ops.push_back({.command = netlink::IpvsCommand::kSetService, .service = toNetlinkService(c.virtual_server)});
        ++report.virtual_servers_updated;
        break;
      case IpvsChangeKind::kAddRealServer:
        ops.push_back({.command = netlink::IpvsCommand::kNewDest,
                       .service = toNetlinkService(c.virtual_server),
                       .destination = toNetlinkDestination(c.real_server)});
        ++report.real_servers_added;
        break;
      case IpvsChangeKind::kUpdateRealServer: {
        const DestinationRef ref = refOf(c.virtual_server, c.real_server);
        if (any_terminating && terminating_.remove(ref)) {
          // Back while terminating: upstream deletes it and adds it fresh.
          ops.push_back({.command = netlink::IpvsCommand::kDelDest,
                         .service = toNetlinkService(c.virtual_server),
                         .destination = toNetlinkDestination(c.real_server)});
          ops.push_back({.command = netlink::IpvsCommand::kNewDest,
                         .service = toNetlinkService(c.virtual_server),
                         .destination = toNetlinkDestination(c.real_server)});
          ++report.real_servers_added;
        } else {
          ops.push_back({.command = netlink::IpvsCommand::kSetDest,
                         .service = toNetlinkService(c.virtual_server),
                         .destination = toNetlinkDestination(c.real_server)});
          ++report.real_servers_updated;
        }
        break;
      }
      case IpvsChangeKind::kRemoveRealServer: {
        const DestinationRef ref = refOf(c.virtual_server, c.real_server);
        // Quiesced by an earlier sync: the sweep deletes it once it is idle.
        if (partial && c.real_server.weight == 0 && terminating_.contains(ref)) break;
        const RemovalDecision decision = decideRemoval(c.virtual_server.protocol, c.real_server.active_connections,
                                                       c.real_server.inactive_connections);
        netlink::IpvsDestination dest = toNetlinkDestination(c.real_server);
        if (decision == RemovalDecision::kDeleteNow) {
          ops.push_back({.command = netlink::IpvsCommand::kDelDest,
                         .service = toNetlinkService(c.virtual_server),
                         .destination = dest});
          terminating_.remove(ref);
          ++report.real_servers_deleted;
        } else {
          if (c.real_server.weight != 0) {
            dest.weight = 0;
            ops.push_back({.command = netlink::IpvsCommand::kSetDest,
                           .service = toNetlinkService(c.virtual_server),
                           .destination = dest});
          }
          if (terminating_.add(ref) || c.real_server.weight != 0) ++report.real_servers_quiesced;
        }
        break;
      }
      case IpvsChangeKind::kBindAddress:
        bind.push_back(c.address.toString());
        break;
      case IpvsChangeKind::kUnbindAddress:
        unbind.push_back(c.address.toString());
        break;
      case IpvsChangeKind::kDeleteVirtualServer: {
        netlink::IpvsService svc = toNetlinkService(c.virtual_server);
        cleanup_ops.push_back({.command = netlink::IpvsCommand::kDelService, .service = svc});
        ++report.virtual_servers_deleted;
        break;
      }
    }
  }

  // Set members, per set: deletions then additions.
  const auto sets_started = Clock::now();
  for (const auto& name : set_order) {
    if (auto it = del_members.find(name); it != del_members.end()) {
      auto statuses = deps_.ipsets.deleteMembers(name, it->second);
      for (const auto& s : statuses) {
        if (!s.ok()) report.errors.push_back(s.error().message);
      }
      report.set_members_deleted += it->second.size();
    }
    if (auto it = add_members.find(name); it != add_members.end()) {
      auto statuses = deps_.ipsets.addMembers(name, it->second);
      for (const auto& s : statuses) {
        if (!s.ok()) report.errors.push_back(s.error().message);
      }
      report.set_members_added += it->second.size();
    }
  }

  report.ipset_duration = Clock::now() - sets_started;

  // Virtual and real servers: one batch. A destination whose service failed fails with ESRCH.
  if (!ops.empty()) {
    const auto ipvs_started = Clock::now();
    auto statuses = deps_.ipvs.execute(ops);
    report.ipvs_duration += Clock::now() - ipvs_started;
    report.ipvs_operations += ops.size();
    for (size_t i = 0; i < statuses.size(); ++i) {
      if (statuses[i].ok()) continue;
      // An add that finds the object there is what we wanted (a concurrent writer, a retry).
      if (ops[i].command == netlink::IpvsCommand::kNewService || ops[i].command == netlink::IpvsCommand::kNewDest) {
        if (netlink::isAlreadyExists(statuses[i].error())) continue;
      }
      if (ops[i].command == netlink::IpvsCommand::kDelDest && netlink::isNotFound(statuses[i].error())) continue;
      report.errors.push_back(statuses[i].error().message);
    }
  }

  // Addresses to bind (upstream binds them in the virtual server's sync).
  if (!bind.empty()) {
    std::vector<IpAddress> addresses;
    for (const auto& c : list.changes) {
      if (c.kind == IpvsChangeKind::kBindAddress) addresses.push_back(c.address);
    }
    for (const auto& s : deps_.links.addAddresses(kDummyDevice, addresses)) {
      if (!s.ok()) report.errors.push_back(s.error().message);
    }
    report.addresses_bound = addresses.size();
  }

  // The rules of IPVS mode; a failure stops the sync before anything is removed. A partial
  // apply skips an unchanged payload (the last restore put exactly these rules in place).
  if (deps_.iptables != nullptr && !(partial && restored_payload == plan.iptables_payload)) {
    const auto restore_started = Clock::now();
    if (auto s = deps_.iptables->restore(family, {plan.iptables_payload}); !s.ok()) return s.error();
    if (auto s = ensureChainJumps(family); !s.ok()) report.errors.push_back(s.error().message);
    report.iptables_duration = Clock::now() - restore_started;
    report.iptables_restored = true;
  }

  // After the rules: stale addresses, then stale virtual servers (with their destinations).
  if (!unbind.empty()) {
    std::vector<IpAddress> addresses;
    for (const auto& c : list.changes) {
      if (c.kind == IpvsChangeKind::kUnbindAddress) addresses.push_back(c.address);
    }
    for (const auto& s : deps_.links.deleteAddresses(kDummyDevice, addresses)) {
      if (!s.ok()) report.errors.push_back(s.error().message);
    }
    report.addresses_unbound = addresses.size();
  }
  if (!cleanup_ops.empty()) {
    const auto ipvs_started = Clock::now();
    auto statuses = deps_.ipvs.execute(cleanup_ops);
    report.ipvs_duration += Clock::now() - ipvs_started;
    report.ipvs_operations += cleanup_ops.size();
    for (size_t i = 0; i < statuses.size(); ++i) {
      if (!statuses[i].ok() && !netlink::isNotFound(statuses[i].error())) {
        report.errors.push_back(statuses[i].error().message);
      }
    }
    // Their destinations are gone with them.
    std::set<VirtualServerKey> gone;
    for (const auto& c : list.changes) {
      if (c.kind == IpvsChangeKind::kDeleteVirtualServer) gone.insert(c.virtual_server.key());
    }
    for (const auto& ref : terminating_.entries()) {
      if (gone.count(ref.virtual_server) != 0) terminating_.remove(ref);
    }
  }
  if (report.errors.empty()) {
    known_ = stateAfter(observed, desired, list, terminating_);
    if (deps_.iptables != nullptr) restored_payload_ = plan.iptables_payload;
  }
  report.total_duration = Clock::now() - started;
  return report;
}

Status IpvsApplier::fillRemovalCounts(IpvsChangeList& list) {
  // Graceful termination decides with the kernel's counts, which the known state does not keep:
  // one destination dump per virtual server that loses a destination (not the quiesced ones the
  // sweep already watches).
  std::map<VirtualServerKey, std::vector<IpvsChange*>> wanted;
  for (auto& c : list.changes) {
    if (c.kind != IpvsChangeKind::kRemoveRealServer) continue;
    if (c.real_server.weight == 0 && terminating_.contains(refOf(c.virtual_server, c.real_server))) continue;
    wanted[c.virtual_server.key()].push_back(&c);
  }
  for (auto& [key, changes] : wanted) {
    auto dests = deps_.ipvs.listDestinations(serviceKeyOf(key));
    if (!dests.ok()) {
      if (netlink::isNotFound(dests.error())) continue;  // gone behind our back: the delete finds nothing
      return dests.error();
    }
    for (IpvsChange* c : changes) {
      for (const auto& d : *dests) {
        if (d.address != c->real_server.address || d.port != c->real_server.port) continue;
        c->real_server.active_connections = d.active_connections;
        c->real_server.inactive_connections = d.inactive_connections;
        c->real_server.weight = static_cast<int>(d.weight);
      }
    }
  }
  return okStatus();
}

Result<size_t> IpvsApplier::sweep() {
  if (terminating_.empty()) return size_t{0};
  std::map<DestinationRef, ConnectionCounts> counts;
  std::set<VirtualServerKey> services;
  for (const auto& ref : terminating_.entries()) services.insert(ref.virtual_server);
  for (const auto& key : services) {
    auto dests = deps_.ipvs.listDestinations(serviceKeyOf(key));
    if (!dests.ok()) {
      if (netlink::isNotFound(dests.error())) continue;  // the service is gone: its entries vanished
      return dests.error();
    }
    for (const auto& d : *dests) {
      counts[{.virtual_server = key, .address = d.address, .port = d.port}] = {d.active_connections,
                                                                               d.inactive_connections};
    }
  }
  const SweepResult result = ipvs::sweep(terminating_, counts);
  std::vector<netlink::IpvsOperation> ops;
  for (const auto& ref : result.delete_now) {
    ops.push_back({.command = netlink::IpvsCommand::kDelDest,
                   .service = serviceKeyOf(ref.virtual_server),
                   .destination = destinationOf(ref, 0)});
  }
  auto statuses = deps_.ipvs.execute(ops);
  size_t deleted = 0;
  std::set<DestinationRef> gone(result.vanished.begin(), result.vanished.end());
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (statuses[i].ok() || netlink::isNotFound(statuses[i].error())) {
      terminating_.remove(result.delete_now[i]);
      gone.insert(result.delete_now[i]);
      ++deleted;
    }
  }
  for (const auto& ref : result.vanished) terminating_.remove(ref);
  if (known_) dropDestinations(*known_, gone);
  return deleted;
}

}  // namespace kproxy::ipvs
