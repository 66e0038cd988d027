#include "modes/ipvs/planner.h"

#include <algorithm>
#include <fmt/format.h>
#include <map>
#include <set>

#include "src/tracker/topology.h"
#include "src/util/line_buffer.h"

namespace kproxy::ipvs {
namespace {

using tracker::EndpointInfo;
using tracker::EndpointRefs;
using tracker::ServicePortInfo;

// Indexes into ipSetTable(), same order.
enum SetId : size_t {
  kLoopBack,
  kClusterIp,
  kExternalIp,
  kExternalIpLocal,
  kLoadBalancer,
  kLoadBalancerFw,
  kLoadBalancerLocal,
  kLoadBalancerSourceIp,
  kLoadBalancerSourceCidr,
  kNodePortTcp,
  kNodePortLocalTcp,
  kNodePortUdp,
  kNodePortLocalUdp,
  kNodePortSctp,
  kNodePortLocalSctp,
  kHealthCheckNodePort,
  kIpvsIps,
  kSetCount,
};

constexpr std::string_view kServicesChain = "KUBE-SERVICES";
constexpr std::string_view kPostroutingChain = "KUBE-POSTROUTING";
constexpr std::string_view kNodePortChain = "KUBE-NODE-PORT";
constexpr std::string_view kLoadBalancerChain = "KUBE-LOAD-BALANCER";
constexpr std::string_view kMarkMasqChain = "KUBE-MARK-MASQ";
constexpr std::string_view kForwardChain = "KUBE-FORWARD";
constexpr std::string_view kProxyFirewallChain = "KUBE-PROXY-FIREWALL";
constexpr std::string_view kSourceRangesFirewallChain = "KUBE-SOURCE-RANGES-FIREWALL";
constexpr std::string_view kIpvsFilterChain = "KUBE-IPVS-FILTER";
constexpr std::string_view kIpvsOutFilterChain = "KUBE-IPVS-OUT-FILTER";

// upstream ipsetWithIptablesChain: rules written only when their set has members, in this order.
// The NodePort -LOCAL sets come before their masquerading counterparts (RETURN first).
struct SetRule {
  SetId set;
  bool filter;  // filter table (else nat)
  std::string_view from;
  std::string_view to;
  std::string_view match;
  std::string_view protocol;  // "-p" match, "" for none
};
constexpr SetRule kSetRules[] = {
    {kLoopBack, false, kPostroutingChain, "MASQUERADE", "dst,dst,src", ""},
    {kLoadBalancer, false, kServicesChain, kLoadBalancerChain, "dst,dst", ""},
    {kLoadBalancerLocal, false, kLoadBalancerChain, "RETURN", "dst,dst", ""},
    {kNodePortLocalTcp, false, kNodePortChain, "RETURN", "dst", "tcp"},
    {kNodePortTcp, false, kNodePortChain, kMarkMasqChain, "dst", "tcp"},
    {kNodePortLocalUdp, false, kNodePortChain, "RETURN", "dst", "udp"},
    {kNodePortUdp, false, kNodePortChain, kMarkMasqChain, "dst", "udp"},
    {kNodePortLocalSctp, false, kNodePortChain, "RETURN", "dst,dst", "sctp"},
    {kNodePortSctp, false, kNodePortChain, kMarkMasqChain, "dst,dst", "sctp"},
    {kLoadBalancerFw, true, kProxyFirewallChain, kSourceRangesFirewallChain, "dst,dst", ""},
    {kLoadBalancerSourceCidr, true, kSourceRangesFirewallChain, "RETURN", "dst,dst,src", ""},
    {kLoadBalancerSourceIp, true, kSourceRangesFirewallChain, "RETURN", "dst,dst,src", ""},
};

// A load-balancer VIP the node itself must not reach (KUBE-IPVS-OUT-FILTER).
struct BlockedFromNode {
  IpAddress vip;
  std::string_view protocol;
  int port;
};

// "IP,proto:PORT"
std::string ipPortEntry(const IpAddress& ip, std::string_view protocol, int port) {
  std::string out = ip.toString();
  out.push_back(',');
  out += protocol;
  out.push_back(':');
  out += std::to_string(port);
  return out;
}

// A hash:ip,port,net member's net as the kernel lists it: a host prefix (/32, /128) without its
// length. upstream adds "1.2.3.4,tcp:80,10.0.0.1/32", reads back "...,10.0.0.1" and so deletes and
// re-adds the member on every sync (spec §1.5, inferred); the kernel state is the same either way.
std::string netMember(const Cidr& cidr) {
  const int host = cidr.family() == IpFamily::kIPv4 ? 32 : 128;
  return cidr.prefixLength() == host ? cidr.address().toString() : cidr.toString();
}

class Planner {
 public:
  explicit Planner(const IpvsPlanInput& input)
      : snap_(*input.snapshot), s_(*input.settings), ipvs_(*input.ipvs), family_(s_.family) {
    if (input.kube_ipvs0_addresses != nullptr) {
      kube_ipvs0_.insert(input.kube_ipvs0_addresses->begin(), input.kube_ipvs0_addresses->end());
    }
  }

  IpvsPlan run();

 private:
  void computeNodeAddresses();
  void planServicePort(const ServicePortInfo& port, const tracker::EndpointList& endpoints);
  VirtualServer makeVirtualServer(const ServicePortInfo& port, const IpAddress& address, int vport) const;
  // upstream syncEndpoint's choice of endpoints for one virtual server, with the IPVS fallback to
  // the cluster-wide endpoints when a Local policy finds none on this node.
  const EndpointRefs& realServersFor(const ServicePortInfo& port, const tracker::CategorizedEndpoints& eps,
                                     bool only_local);
  void addVirtualServer(VirtualServer vs, const EndpointRefs& endpoints);
  void addMember(SetId set, std::string member) { members_[set].push_back(std::move(member)); }
  std::string setName(SetId set) const { return ipSetName(ipSetTable()[set].name, family_); }
  std::string quotedComment(SetId set) const { return fmt::format("\"{}\"", ipSetTable()[set].comment); }
  void writeIptables(IpvsPlan& plan);

  const tracker::ProxySnapshot& snap_;
  const config::ProxierSettings& s_;
  const IpvsSettings& ipvs_;
  const IpFamily family_;

  std::set<IpAddress> kube_ipvs0_;
  std::set<IpAddress> node_addresses_;  // this family, other interfaces, no loopback / v6 link-local
  std::vector<IpAddress> node_port_ips_;

  std::vector<std::string> members_[kSetCount];
  std::map<VirtualServerKey, VirtualServer> virtual_servers_;
  std::set<IpAddress> bind_addresses_;
  std::vector<BlockedFromNode> blocked_from_node_;
  std::set<api::NamespacedName> no_local_internal_;
  std::set<api::NamespacedName> no_local_external_;
};

// upstream netlinkHandle.isValidForSet: the family's addresses, no loopback, and for IPv6 no
// link-local unicast (IPv4 link-local 169.254/16 counts).
bool validNodeAddress(const IpAddress& ip, IpFamily family) {
  if (ip.family() != family) return false;
  if (ip.isV6() && ip.isLinkLocalUnicast()) return false;
  return !ip.isLoopback();
}

void Planner::computeNodeAddresses() {
  // upstream GetAllLocalAddressesExcept(kube-ipvs0) (spec §1.3 step 6).
  for (const auto& addr : s_.facts.local_addresses) {
    if (validNodeAddress(addr.ip, family_) && kube_ipvs0_.count(addr.ip) == 0) node_addresses_.insert(addr.ip);
  }

  bool has_node_port = false;
  for (const auto& [name, port] : snap_.services) {
    if (port->node_port != 0) {
      has_node_port = true;
      break;
    }
  }
  if (!has_node_port) return;
  // spec §1.3 step 7: all node addresses when nodePortAddresses matches everything; otherwise the
  // addresses of every interface (kube-ipvs0 included: upstream's interface lister is not told to
  // skip it) inside the family's CIDRs, minus loopback.
  if (s_.node_port_addresses.match_all) {
    node_port_ips_.assign(node_addresses_.begin(), node_addresses_.end());
    return;
  }
  std::vector<InterfaceAddress> all = s_.facts.local_addresses;
  for (const auto& ip : kube_ipvs0_) all.push_back({ip, ip.isV4() ? 32 : 128});
  for (const auto& ip : s_.node_port_addresses.nodeIps(all)) {
    if (ip.family() == family_ && !ip.isLoopback()) node_port_ips_.push_back(ip);
  }
}

VirtualServer Planner::makeVirtualServer(const ServicePortInfo& port, const IpAddress& address, int vport) const {
  VirtualServer vs;
  vs.address = address;
  vs.protocol = port.protocol;
  vs.port = static_cast<uint16_t>(vport);
  vs.scheduler = ipvs_.scheduler;
  vs.netmask = defaultNetmask(address.family());
  // Session affinity is persistence on every virtual server of the port (upstream
  // TestSessionAffinity).
  if (port.session_affinity_client_ip) {
    vs.flags |= kFlagPersistent;
    vs.timeout = static_cast<uint32_t>(port.sticky_max_age_seconds);
  }
  // upstream: the mh scheduler needs its port flag (FlagSourceHash = IP_VS_SVC_F_SCHED2).
  if (ipvs_.scheduler == "mh") vs.flags |= kFlagMhPort;
  return vs;
}

const EndpointRefs& Planner::realServersFor(const ServicePortInfo& port, const tracker::CategorizedEndpoints& eps,
                                            bool only_local) {
  if (!only_local) return eps.cluster;
  if (!eps.local.empty()) return eps.local;
  // upstream PR 97081: no local endpoint, so fall back to the cluster-wide ones (for a pure
  // iTP=Local ClusterIP service that set is empty too). Every such virtual server counts the
  // service under each Local policy it has.
  if (eps.has_any_endpoints && port.internal_policy_local) no_local_internal_.insert(port.name.service);
  if (eps.has_any_endpoints && port.external_policy_local) no_local_external_.insert(port.name.service);
  return eps.cluster;
}

void Planner::addVirtualServer(VirtualServer vs, const EndpointRefs& endpoints) {
  vs.real_servers.reserve(endpoints.size());
  for (const EndpointInfo* ep : endpoints) {
    vs.real_servers.push_back(RealServer{.address = ep->ip, .port = static_cast<uint16_t>(ep->port), .weight = 1});
  }
  std::sort(vs.real_servers.begin(), vs.real_servers.end(), [](const RealServer& a, const RealServer& b) {
    return a.address != b.address ? a.address < b.address : a.port < b.port;
  });
  vs.real_servers.erase(std::unique(vs.real_servers.begin(), vs.real_servers.end(),
                                    [](const RealServer& a, const RealServer& b) { return a.sameDestination(b); }),
                        vs.real_servers.end());
  // Two service ports claiming one virtual server: upstream syncs it once per claim, the last
  // one's real servers stay.
  VirtualServerKey key = vs.key();
  virtual_servers_.insert_or_assign(key, std::move(vs));
}

void Planner::planServicePort(const ServicePortInfo& port, const tracker::EndpointList& endpoints) {
  const std::string_view protocol = api::protocolLowerName(port.protocol);

  // Hairpin: every endpoint on this node, whatever its conditions.
  for (const auto& ep : endpoints) {
    if (!ep->is_local || ep->port == 0) continue;
    addMember(kLoopBack, ipPortEntry(ep->ip, protocol, ep->port) + "," + std::string(ep->ipText()));
  }

  const tracker::CategorizedEndpoints eps =
      tracker::categorizeEndpoints(endpoints, port, s_.node_name, s_.node_labels, s_.prefer_same_node);

  // Cluster IP: bound on kube-ipvs0; internalTrafficPolicy picks the endpoints.
  addMember(kClusterIp, ipPortEntry(port.cluster_ip, protocol, port.port));
  addVirtualServer(makeVirtualServer(port, port.cluster_ip, port.port),
                   realServersFor(port, eps, port.internal_policy_local));
  bind_addresses_.insert(port.cluster_ip);

  // External IPs: bound unless the node has the address on another interface.
  for (const auto& eip : port.external_ips) {
    addMember(port.external_policy_local ? kExternalIpLocal : kExternalIp, ipPortEntry(eip, protocol, port.port));
    addVirtualServer(makeVirtualServer(port, eip, port.port), realServersFor(port, eps, port.external_policy_local));
    if (node_addresses_.count(eip) == 0) bind_addresses_.insert(eip);
  }

  // Load-balancer VIPs (ipMode VIP or unset; the tracker drops ipMode Proxy).
  for (const auto& vip : port.load_balancer_vips) {
    std::string entry = ipPortEntry(vip, protocol, port.port);
    addMember(kLoadBalancer, entry);
    if (port.external_policy_local) addMember(kLoadBalancerLocal, entry);
    if (!port.load_balancer_source_ranges.empty()) {
      addMember(kLoadBalancerFw, entry);
      bool allow_from_node = false;
      for (const auto& cidr : port.load_balancer_source_ranges) {
        addMember(kLoadBalancerSourceCidr, entry + "," + netMember(cidr));
        if (cidr.contains(s_.node_ip)) allow_from_node = true;
      }
      if (allow_from_node) {
        // Lets the node reach the VIP: with IPVS its source address is the VIP itself.
        addMember(kLoadBalancerSourceIp, entry + "," + vip.toString());
      } else {
        blocked_from_node_.push_back({vip, protocol, port.port});
      }
    }
    addVirtualServer(makeVirtualServer(port, vip, port.port), realServersFor(port, eps, port.external_policy_local));
    if (node_addresses_.count(vip) == 0) bind_addresses_.insert(vip);
  }

  if (port.node_port != 0) {
    // upstream quirk (spec §1.13): without a usable node IP the rest of the port is skipped,
    // the health-check node port included.
    if (node_port_ips_.empty()) return;
    std::vector<std::string> entries;
    SetId set = kNodePortTcp, local_set = kNodePortLocalTcp;
    switch (port.protocol) {
      case api::Protocol::kTCP:
        entries.push_back(std::to_string(port.node_port));
        break;
      case api::Protocol::kUDP:
        set = kNodePortUdp;
        local_set = kNodePortLocalUdp;
        entries.push_back(std::to_string(port.node_port));
        break;
      case api::Protocol::kSCTP:
        // SCTP has no bitmap set: one hash:ip,port entry per node IP.
        set = kNodePortSctp;
        local_set = kNodePortLocalSctp;
        for (const auto& ip : node_port_ips_) entries.push_back(ipPortEntry(ip, protocol, port.node_port));
        break;
    }
    for (const auto& e : entries) addMember(set, e);
    if (port.external_policy_local) {
      for (const auto& e : entries) addMember(local_set, e);
    }
    // Node IPs are never bound on kube-ipvs0.
    for (const auto& ip : node_port_ips_) {
      addVirtualServer(makeVirtualServer(port, ip, port.node_port),
                       realServersFor(port, eps, port.external_policy_local));
    }
  }

  // Only LoadBalancer services with externalTrafficPolicy Local have one (the tracker sees to it).
  if (port.health_check_node_port != 0) addMember(kHealthCheckNodePort, std::to_string(port.health_check_node_port));
}

void Planner::writeIptables(IpvsPlan& plan) {
  const std::string& mark = s_.masquerade_mark;
  auto empty = [&](SetId set) { return members_[set].empty(); };

  LineBuffer nat, filter;
  nat.reserve(4096 + blocked_from_node_.size() * 16);
  filter.reserve(4096 + blocked_from_node_.size() * 120);
  nat.line("*nat");
  filter.line("*filter");
  for (const auto& tc : ipvsChains()) (tc.table == "nat" ? nat : filter).joined(":", tc.chain, " - [0:0]").endLine();

  // Connections from localhost never go through a service.
  nat.words("-A", kServicesChain, "-s", family_ == IpFamily::kIPv4 ? "127.0.0.0/8" : "::1/128", "-j", "RETURN")
      .endLine();

  for (const SetRule& rule : kSetRules) {
    if (empty(rule.set)) continue;
    LineBuffer& buf = rule.filter ? filter : nat;
    buf.words("-A", rule.from);
    if (!rule.protocol.empty()) buf.words("-p", rule.protocol);
    buf.words("-m", "comment", "--comment", quotedComment(rule.set), "-m", "set", "--match-set", setName(rule.set),
              rule.match, "-j", rule.to)
        .endLine();
  }

  if (!empty(kClusterIp)) {
    nat.words("-A", kServicesChain, "-m", "comment", "--comment", quotedComment(kClusterIp), "-m", "set",
              "--match-set", setName(kClusterIp));
    if (s_.masquerade_all) {
      nat.word("dst,dst");
    } else if (s_.local_detector.implemented()) {
      // Off-cluster traffic to a VIP may bounce off-node: masquerade it.
      nat.word("dst,dst");
      for (const auto& w : s_.local_detector.ifNotLocal()) nat.word(w);
    } else {
      // Node-originated traffic picks a VIP on kube-ipvs0 as its source: masquerade that.
      nat.word("src,dst");
    }
    nat.words("-j", kMarkMasqChain).endLine();
  }

  // External IPs: accept traffic from off the machine, and traffic to addresses that are local.
  auto external_accepts = [&](SetId set) {
    nat.words("-A", kServicesChain, "-m", "comment", "--comment", quotedComment(set), "-m", "set", "--match-set",
              setName(set), "dst,dst", "-m", "physdev", "!", "--physdev-is-in", "-m", "addrtype", "!", "--src-type",
              "LOCAL", "-j", "ACCEPT")
        .endLine();
    nat.words("-A", kServicesChain, "-m", "comment", "--comment", quotedComment(set), "-m", "set", "--match-set",
              setName(set), "dst,dst", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "ACCEPT")
        .endLine();
  };
  if (!empty(kExternalIp)) {
    nat.words("-A", kServicesChain, "-m", "comment", "--comment", quotedComment(kExternalIp), "-m", "set",
              "--match-set", setName(kExternalIp), "dst,dst", "-j", kMarkMasqChain)
        .endLine();
    external_accepts(kExternalIp);
  }
  if (!empty(kExternalIpLocal)) external_accepts(kExternalIpLocal);

  nat.words("-A", kServicesChain, "-m", "addrtype", "--dst-type", "LOCAL", "-j", kNodePortChain).endLine();
  nat.words("-A", kLoadBalancerChain, "-j", kMarkMasqChain).endLine();
  filter.words("-A", kSourceRangesFirewallChain, "-j", "DROP").endLine();

  // upstream issue 119656: source ranges that leave out the node also keep the node out.
  for (const auto& b : blocked_from_node_) {
    filter.words("-A", kIpvsOutFilterChain, "-s").ip(b.vip).words("-m", "ipvs", "--vaddr").ip(b.vip);
    filter.words("--vproto", b.protocol, "--vport").decimal(b.port).words("-j", "DROP").endLine();
  }

  // Accept IPVS traffic in case other rules would drop it; last in KUBE-SERVICES.
  for (SetId set : {kClusterIp, kLoadBalancer}) {
    if (empty(set)) continue;
    nat.words("-A", kServicesChain, "-m", "set", "--match-set", setName(set), "dst,dst", "-j", "ACCEPT").endLine();
  }

  filter.words("-A", kForwardChain, "-m", "comment", "--comment", "\"kubernetes forwarding rules\"", "-m", "mark",
               "--mark")
      .joined(mark, "/", mark)
      .words("-j", "ACCEPT")
      .endLine();
  filter.words("-A", kForwardChain, "-m", "comment", "--comment", "\"kubernetes forwarding conntrack rule\"", "-m",
               "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
      .endLine();
  filter.words("-A", kNodePortChain, "-m", "comment", "--comment", quotedComment(kHealthCheckNodePort), "-m", "set",
               "--match-set", setName(kHealthCheckNodePort), "dst", "-j", "ACCEPT")
      .endLine();

  // upstream issue 72236: VIPs on kube-ipvs0 must not expose the node's own ports.
  for (SetId set : {kLoadBalancer, kClusterIp, kExternalIp, kExternalIpLocal}) {
    filter.words("-A", kIpvsFilterChain, "-m", "set", "--match-set", setName(set), "dst,dst", "-j", "RETURN").endLine();
  }
  filter.words("-A", kIpvsFilterChain, "-m", "set", "--match-set", setName(kHealthCheckNodePort), "dst", "-j", "RETURN")
      .endLine();
  filter.words("-A", kIpvsFilterChain, "-m", "conntrack", "--ctstate", "NEW", "-m", "set", "--match-set",
               setName(kIpvsIps), "dst", "-j", "REJECT")
      .endLine();

  nat.words("-A", kPostroutingChain, "-m", "mark", "!", "--mark").joined(mark, "/", mark).words("-j", "RETURN").endLine();
  nat.words("-A", kPostroutingChain, "-j", "MARK", "--xor-mark", mark).endLine();
  nat.words("-A", kPostroutingChain, "-m", "comment", "--comment", "\"kubernetes service traffic requiring SNAT\"", "-j",
            "MASQUERADE");
  if (s_.facts.random_fully) nat.word("--random-fully");
  nat.endLine();
  nat.words("-A", kMarkMasqChain, "-j", "MARK", "--or-mark", mark).endLine();

  filter.line("COMMIT");
  nat.line("COMMIT");
  plan.iptables_payload = nat.release();
  plan.iptables_payload += filter.bytes();
}

IpvsPlan Planner::run() {
  IpvsPlan plan;
  computeNodeAddresses();

  static const tracker::EndpointList kNoEndpoints;
  auto ep_it = snap_.endpoints.begin();
  for (const auto& [name, port] : snap_.services) {
    while (ep_it != snap_.endpoints.end() && ep_it->first < name) ++ep_it;
    const bool found = ep_it != snap_.endpoints.end() && ep_it->first == name;
    planServicePort(*port, found ? *ep_it->second : kNoEndpoints);
  }
  // KUBE-IPVS-IPS holds exactly what kube-ipvs0 should hold.
  for (const auto& ip : bind_addresses_) members_[kIpvsIps].push_back(ip.toString());

  IpvsState& state = plan.state;
  state.family = family_;
  state.exclude_cidrs = ipvs_.exclude_cidrs;
  state.virtual_servers.reserve(virtual_servers_.size());
  for (auto& [key, vs] : virtual_servers_) {
    plan.real_server_count += vs.real_servers.size();
    state.virtual_servers.push_back(std::move(vs));
  }
  state.kube_ipvs0_addresses.assign(bind_addresses_.begin(), bind_addresses_.end());
  const auto& table = ipSetTable();
  for (size_t i = 0; i < kSetCount; ++i) {
    IpSet set{.name = ipSetName(table[i].name, family_), .type = table[i].type, .family = family_};
    set.members = members_[i];
    sortMembers(set);
    state.ipsets.push_back(std::move(set));
  }
  state.normalize();

  writeIptables(plan);

  plan.sysctls = ipvsSysctls(ipvs_);
  plan.no_local_endpoints_internal = static_cast<int>(no_local_internal_.size());
  plan.no_local_endpoints_external = static_cast<int>(no_local_external_.size());
  return plan;
}

}  // namespace

const std::vector<ChainJump>& ipvsChainJumps() {
  static const std::vector<ChainJump> kJumps = {
      {"nat", "OUTPUT", kServicesChain, "kubernetes service portals"},
      {"nat", "PREROUTING", kServicesChain, "kubernetes service portals"},
      {"nat", "POSTROUTING", kPostroutingChain, "kubernetes postrouting rules"},
      {"filter", "FORWARD", kForwardChain, "kubernetes forwarding rules"},
      {"filter", "INPUT", kNodePortChain, "kubernetes health check rules"},
      {"filter", "INPUT", kProxyFirewallChain, "kube-proxy firewall rules"},
      {"filter", "FORWARD", kProxyFirewallChain, "kube-proxy firewall rules"},
      {"filter", "INPUT", kIpvsFilterChain, "kubernetes ipvs access filter"},
      {"filter", "OUTPUT", kIpvsOutFilterChain, "kubernetes ipvs access filter"},
  };
  return kJumps;
}

const std::vector<TableChain>& ipvsChains() {
  static const std::vector<TableChain> kChains = {
      {"nat", kServicesChain},         {"nat", kPostroutingChain},         {"nat", kNodePortChain},
      {"nat", kLoadBalancerChain},     {"nat", kMarkMasqChain},            {"filter", kForwardChain},
      {"filter", kNodePortChain},      {"filter", kProxyFirewallChain},    {"filter", kSourceRangesFirewallChain},
      {"filter", kIpvsFilterChain},    {"filter", kIpvsOutFilterChain},
  };
  return kChains;
}

std::vector<Sysctl> ipvsSysctls(const IpvsSettings& ipvs) {
  std::vector<Sysctl> out = {{"net/ipv4/vs/conntrack", 1},
                             {"net/ipv4/vs/expire_nodest_conn", 1},
                             {"net/ipv4/vs/expire_quiescent_template", 1},
                             {"net/ipv4/ip_forward", 1}};
  if (ipvs.strict_arp) {
    out.push_back({"net/ipv4/conf/all/arp_ignore", 1});
    out.push_back({"net/ipv4/conf/all/arp_announce", 2});
  }
  return out;
}

Result<IpvsSettings> ipvsSettingsFrom(const config::KubeProxyConfiguration& config, IpFamily family) {
  IpvsSettings out;
  if (!config.ipvs.scheduler.empty()) out.scheduler = config.ipvs.scheduler;
  out.strict_arp = config.ipvs.strict_arp;
  auto seconds = [](config::Duration d) {
    return static_cast<uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
  };
  out.tcp_timeout = seconds(config.ipvs.tcp_timeout);
  out.tcp_fin_timeout = seconds(config.ipvs.tcp_fin_timeout);
  out.udp_timeout = seconds(config.ipvs.udp_timeout);
  out.full_sync_period = config.ipvs.sync_period;
  for (size_t i = 0; i < config.ipvs.exclude_cidrs.size(); ++i) {
    const std::string& text = config.ipvs.exclude_cidrs[i];
    auto cidr = Cidr::parseSloppy(text);
    if (!cidr.ok()) {
      return Error("ipvs.excludeCIDRs[" + std::to_string(i) + "]: \"" + text + "\" is not a valid CIDR");
    }
    // upstream filterCIDRs: each family's proxier gets its own.
    if (cidr->family() == family) out.exclude_cidrs.push_back(*cidr);
  }
  return out;
}

IpvsPlan planIpvs(const IpvsPlanInput& input) { return Planner(input).run(); }

}  // namespace kproxy::ipvs
