#include "modes/nftables/planner.h"

#include <cstdlib>
#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "modes/nftables/chain_names.h"
#include "src/tracker/topology.h"

namespace kproxy::nftables {
namespace {

using tracker::EndpointInfo;
using tracker::EndpointRefs;
using tracker::ServicePortInfo;

struct BaseChainDef {
  std::string_view name;
  BaseChainSpec spec;
};

// upstream: the filter chains that must see the destination before DNAT run just before it
// (dstnat - 10); the others run at the filter priority, after DNAT.
constexpr BaseChainDef kBaseChains[] = {
    {kFilterPreroutingPreDnatChain, {"filter", "prerouting", -110}},
    {kFilterOutputPreDnatChain, {"filter", "output", -110}},
    {kFilterForwardChain, {"filter", "forward", 0}},
    {kFilterInputChain, {"filter", "input", 0}},
    {kFilterOutputChain, {"filter", "output", 0}},
    {kNatPreroutingChain, {"nat", "prerouting", -100}},
    {kNatOutputChain, {"nat", "output", -100}},
    {kNatPostroutingChain, {"nat", "postrouting", 100}},
};

struct JumpDef {
  std::string_view to;
  std::string_view from;
  bool new_connections_only;
};

// upstream nftablesJumpChains, in order (the order of the rules within each base chain).
// The endpoint checks cannot run in prerouting: reject is only valid in input, forward and
// output on kernels before 5.9.
constexpr JumpDef kJumps[] = {
    {kNodePortEndpointsCheckChain, kFilterInputChain, true},
    {kServiceEndpointsCheckChain, kFilterInputChain, true},
    {kServiceEndpointsCheckChain, kFilterForwardChain, true},
    {kServiceEndpointsCheckChain, kFilterOutputChain, true},
    {kFirewallCheckChain, kFilterPreroutingPreDnatChain, true},
    {kFirewallCheckChain, kFilterOutputPreDnatChain, true},
    {kServicesChain, kNatOutputChain, false},
    {kServicesChain, kNatPreroutingChain, false},
    {kMasqueradingChain, kNatPostroutingChain, false},
    {kClusterIPsCheckChain, kFilterForwardChain, true},
    {kClusterIPsCheckChain, kFilterOutputChain, true},
};

// The sets and maps whose elements each sync keeps in step with the services (upstream
// nftElementStorage); nodeport-ips is rewritten by full syncs only.
constexpr std::string_view kTrackedContainers[] = {kClusterIPsSet,          kServiceIPsMap,         kFirewallIPsMap,
                                                   kNoEndpointServicesMap,  kNoEndpointNodePortsMap, kServiceNodePortsMap,
                                                   kHairpinConnectionsSet};

const std::vector<Field> kDestKey = {Field::kDaddr, Field::kL4Proto, Field::kDport};
const std::vector<Field> kPortKey = {Field::kL4Proto, Field::kDport};

Verdict gotoChain(std::string chain) { return Verdict{Verdict::Kind::kGoto, std::move(chain)}; }
Verdict jumpChain(std::string chain) { return Verdict{Verdict::Kind::kJump, std::move(chain)}; }

uint32_t parseMark(const std::string& text) {
  return static_cast<uint32_t>(std::strtoul(text.c_str(), nullptr, 0));
}

MatchAddress singleAddress(Field field, bool negate, const Cidr& cidr) {
  return MatchAddress{.field = field, .negate = negate, .style = ListStyle::kSingle, .values = {AddressValue{cidr, false}}};
}

Cidr hostCidr(const IpAddress& ip) { return Cidr(ip, ip.isV4() ? 32 : 128); }

// upstream LocalTrafficDetector.IfLocalNFT / IfNotLocalNFT.
std::optional<Statement> localMatch(const config::LocalTrafficDetector& detector, IpFamily family, bool negate) {
  using Kind = config::LocalTrafficDetector::Kind;
  switch (detector.kind) {
    case Kind::kCidr: {
      auto cidr = Cidr::parse(detector.value);
      if (!cidr.ok() || cidr->family() != family) return std::nullopt;
      return singleAddress(Field::kSaddr, negate, *cidr);
    }
    case Kind::kBridgeInterface:
      return MatchInterface{negate, detector.value};
    case Kind::kInterfaceNamePrefix:
      return MatchInterface{negate, detector.value + "*"};
    case Kind::kNone:
      break;
  }
  return std::nullopt;
}

// Lets the name indexes be searched with a string_view (no temporary string per rule).
struct NameHash {
  using is_transparent = void;
  size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
};
using NameIndex = std::unordered_map<std::string, size_t, NameHash, std::equal_to<>>;

class Planner {
 public:
  explicit Planner(const PlanInput& input) : in_(input), snap_(*input.snapshot), s_(*input.settings) {}

  NftablesPlan run();

 private:
  struct Container {
    std::string name;
    bool is_map = false;
    std::unordered_map<ElementKey, Element, ElementKeyHash> previous;  // what the table holds (partial sync)
    std::unordered_map<ElementKey, Element, ElementKeyHash> current;   // what this sync wants
  };

  // The ruleset under construction.
  Chain& chain(std::string_view name);
  Set& declareSet(std::string_view name, bool is_map, std::string type, std::string comment,
                  std::vector<std::string_view> flags = {}, std::optional<int64_t> timeout = std::nullopt);
  void addSetOp(const Set& set);

  // Objects and the operations that write them (`emit`: whether this sync writes them).
  void ensureChain(std::string_view name, bool emit, const std::optional<BaseChainSpec>& base = std::nullopt,
                   std::string_view comment = {});
  void addRule(std::string_view chain, Rule rule, bool emit);
  void ensureElement(std::string_view container, Element element);

  void writeSetup(bool emit);
  bool setupMatchesExisting() const;
  void writeServicePort(const ServicePortInfo& port, const tracker::EndpointList& endpoints);
  void writeServiceToEndpointRules(const ServicePortInfo& port, const std::string& chain, const EndpointRefs& endpoints,
                                   bool emit);
  void finishContainers();
  void handleStaleObjects();

  std::string_view family() const { return s_.family == IpFamily::kIPv4 ? "ip" : "ip6"; }
  std::string addrType() const { return s_.family == IpFamily::kIPv4 ? "ipv4_addr" : "ipv6_addr"; }
  ElementKey destKey(const IpAddress& ip, api::Protocol protocol, int port) const {
    return ElementKey{.address = ip, .address2 = std::nullopt, .protocol = protocol,
                      .port = static_cast<uint16_t>(port)};
  }

  const PlanInput& in_;
  const tracker::ProxySnapshot& snap_;
  const config::ProxierSettings& s_;
  uint32_t mark_ = 0;
  bool full_ = true;

  NftablesPlan plan_;
  Ruleset& r_ = plan_.ruleset;
  Transaction& tx_ = plan_.transaction;
  NameIndex chain_index_;
  NameIndex set_index_;
  std::unordered_set<std::string> ensured_;  // chains added+flushed by this transaction
  std::vector<Container> containers_;
  std::set<std::string, std::less<>> active_affinity_sets_;
  std::set<std::string, std::less<>> deleted_stale_;  // removed by stale_chain_deletion
};

Chain& Planner::chain(std::string_view name) {
  if (auto it = chain_index_.find(name); it != chain_index_.end()) return r_.chains[it->second];
  chain_index_.emplace(std::string(name), r_.chains.size());
  r_.chains.push_back(Chain{.name = std::string(name), .base = std::nullopt, .comment = {}, .rules = {}});
  return r_.chains.back();
}

Set& Planner::declareSet(std::string_view name, bool is_map, std::string type, std::string comment,
                         std::vector<std::string_view> flags, std::optional<int64_t> timeout) {
  if (auto it = set_index_.find(name); it != set_index_.end()) return r_.sets[it->second];
  set_index_.emplace(std::string(name), r_.sets.size());
  r_.sets.push_back(Set{.name = std::string(name),
                        .is_map = is_map,
                        .type = std::move(type),
                        .flags = std::move(flags),
                        .timeout_seconds = timeout,
                        .comment = std::move(comment),
                        .elements = {}});
  return r_.sets.back();
}

void Planner::addSetOp(const Set& set) {
  tx_.operations.push_back(AddSet{.name = set.name,
                                  .is_map = set.is_map,
                                  .type = set.type,
                                  .flags = set.flags,
                                  .timeout_seconds = set.timeout_seconds,
                                  .comment = set.comment});
}

// upstream ensureChain: add and flush the chain once per transaction, so that it exists and
// holds nothing from before; later rules of this transaction are then appended to it.
void Planner::ensureChain(std::string_view name, bool emit, const std::optional<BaseChainSpec>& base,
                          std::string_view comment) {
  Chain& c = chain(name);
  c.base = base;
  c.comment = std::string(comment);
  if (!emit || !ensured_.insert(std::string(name)).second) return;
  tx_.operations.push_back(AddChain{.name = std::string(name), .base = base, .comment = std::string(comment)});
  tx_.operations.push_back(FlushChain{std::string(name)});
}

void Planner::addRule(std::string_view chain_name, Rule rule, bool emit) {
  if (emit) tx_.operations.push_back(AddRule{std::string(chain_name), rule});
  chain(chain_name).rules.push_back(std::move(rule));
}

// upstream nftElementStorage.ensureElem: only what differs from the table is sent (a changed
// value is deleted and added again); one key is written once per sync.
void Planner::ensureElement(std::string_view container, Element element) {
  for (auto& c : containers_) {
    if (c.name != container) continue;
    if (c.current.count(element.key) != 0) return;
    auto prev = c.previous.find(element.key);
    if (prev == c.previous.end()) {
      tx_.operations.push_back(AddElement{c.name, element});
    } else if (prev->second.value != element.value) {
      tx_.operations.push_back(DeleteElement{c.name, element.key});
      tx_.operations.push_back(AddElement{c.name, element});
    }
    c.current.emplace(element.key, std::move(element));
    return;
  }
}

void Planner::writeSetup(bool emit) {
  const IpFamily fam = s_.family;
  const bool v6 = fam == IpFamily::kIPv6;
  if (emit) tx_.operations.push_back(AddTable{r_.comment});

  if (emit && in_.first_sync) {
    for (const auto& bc : kBaseChains) {
      tx_.operations.push_back(AddChain{.name = std::string(bc.name), .base = std::nullopt, .comment = {}});
      tx_.operations.push_back(DeleteChain{std::string(bc.name)});
    }
  }
  for (const auto& bc : kBaseChains) {
    Chain& c = chain(bc.name);
    c.base = bc.spec;
    if (emit) {
      tx_.operations.push_back(AddChain{.name = std::string(bc.name), .base = bc.spec, .comment = {}});
      tx_.operations.push_back(FlushChain{std::string(bc.name)});
    }
  }

  // Sets the fixed rules look up are declared before the rules.
  // (Each declareSet() may move the earlier sets: use its result before the next one.)
  const Set& cluster_ips = declareSet(kClusterIPsSet, false, addrType(), "Active ClusterIPs");
  if (emit) addSetOp(cluster_ips);
  const Set& hairpin = declareSet(kHairpinConnectionsSet, false,
                                  addrType() + " . " + addrType() + " . inet_proto . inet_service",
                                  "service hairpin connections");
  if (emit) addSetOp(hairpin);

  for (const auto& j : kJumps) {
    ensureChain(j.to, emit);
    Rule rule;
    if (j.new_connections_only) rule.statements.emplace_back(CtStateNew{});
    rule.statements.emplace_back(jumpChain(std::string(j.to)));
    addRule(j.from, std::move(rule), emit);
  }

  // Masquerade what was marked, clearing the mark so that a packet forwarded again (e.g.
  // re-encapsulated by a tunnel) is not masqueraded twice; and a pod that reaches itself through
  // a service (hairpin) must come back from another address.
  addRule(kMasqueradingChain,
          Rule{{MatchMark{mark_}, SetMarkXor{mark_}, Masquerade{}}, ""}, emit);
  addRule(kMasqueradingChain,
          Rule{{CtStatusDnat{},
                MatchSet{{Field::kSaddr, Field::kDaddr, Field::kL4Proto, Field::kDport}, std::string(kHairpinConnectionsSet)},
                Masquerade{}},
               ""},
          emit);

  addRule(kClusterIPsCheckChain,
          Rule{{MatchSet{{Field::kDaddr}, std::string(kClusterIPsSet)}, Verdict{Verdict::Kind::kReject, {}}},
               "Reject traffic to invalid ports of ClusterIPs"},
          emit);
  if (!in_.service_cidrs.empty()) {
    MatchAddress cidrs{.field = Field::kDaddr, .negate = false, .style = ListStyle::kCompact, .values = {}};
    for (const auto& c : in_.service_cidrs) cidrs.values.push_back(AddressValue{c, false});
    addRule(kClusterIPsCheckChain, Rule{{cidrs, Verdict{Verdict::Kind::kDrop, {}}}, "Drop traffic to unallocated ClusterIPs"},
            emit);
  }

  // Node-port addresses: a set of them, or (when every address is allowed) "any local address".
  const bool match_all = s_.node_port_addresses.match_all;
  const Cidr loopback = v6 ? *Cidr::parse("::1/128") : *Cidr::parse("127.0.0.0/8");
  if (!match_all) {
    Set& node_ips = declareSet(kNodePortIPsSet, false, addrType(), "IPs that accept NodePort traffic");
    if (emit) {
      addSetOp(node_ips);
      tx_.operations.push_back(FlushSet{std::string(kNodePortIPsSet), false});
    }
    for (const auto& ip : s_.node_port_addresses.nodeIps(s_.facts.local_addresses)) {
      // upstream logs that localhost node ports are not supported and skips the address.
      if (ip.isLoopback() || ip.family() != fam) continue;
      Element e{.key = ElementKey{.address = ip, .address2 = {}, .protocol = {}, .port = {}}, .value = {}, .comment = {}};
      if (emit) tx_.operations.push_back(AddElement{std::string(kNodePortIPsSet), e});
      node_ips.elements.push_back(std::move(e));
    }
  } else if (emit) {
    // upstream: add then delete, which succeeds whether or not the set exists.
    tx_.operations.push_back(AddSet{.name = std::string(kNodePortIPsSet),
                                    .is_map = false,
                                    .type = addrType(),
                                    .flags = {},
                                    .timeout_seconds = {},
                                    .comment = "IPs that accept NodePort traffic"});
    tx_.operations.push_back(DeleteSet{std::string(kNodePortIPsSet), false});
  }

  const Set& no_ep_services = declareSet(kNoEndpointServicesMap, true,
                                         addrType() + " . inet_proto . inet_service : verdict",
                                         "vmap to drop or reject packets to services with no endpoints");
  if (emit) addSetOp(no_ep_services);
  const Set& no_ep_nodeports = declareSet(kNoEndpointNodePortsMap, true, "inet_proto . inet_service : verdict",
                                          "vmap to drop or reject packets to service nodeports with no endpoints");
  if (emit) addSetOp(no_ep_nodeports);
  ensureChain(kRejectChain, emit, std::nullopt, "helper for @no-endpoint-services / @no-endpoint-nodeports");
  addRule(kRejectChain, Rule{{Verdict{Verdict::Kind::kReject, {}}}, ""}, emit);
  addRule(kServiceEndpointsCheckChain,
          Rule{{VmapLookup{kDestKey, std::string(kNoEndpointServicesMap)}}, ""}, emit);
  {
    Rule r;
    if (match_all) {
      r.statements.emplace_back(singleAddress(Field::kDaddr, true, loopback));
    } else {
      r.statements.emplace_back(MatchSet{{Field::kDaddr}, std::string(kNodePortIPsSet)});
    }
    r.statements.emplace_back(VmapLookup{kPortKey, std::string(kNoEndpointNodePortsMap)});
    addRule(kNodePortEndpointsCheckChain, std::move(r), emit);
  }

  const Set& firewall_ips = declareSet(kFirewallIPsMap, true, addrType() + " . inet_proto . inet_service : verdict",
                                 "destinations that are subject to LoadBalancerSourceRanges");
  if (emit) addSetOp(firewall_ips);
  ensureChain(kFirewallCheckChain, emit);
  addRule(kFirewallCheckChain, Rule{{VmapLookup{kDestKey, std::string(kFirewallIPsMap)}}, ""}, emit);

  const Set& service_ips = declareSet(kServiceIPsMap, true, addrType() + " . inet_proto . inet_service : verdict",
                                      "ClusterIP, ExternalIP and LoadBalancer IP traffic");
  if (emit) addSetOp(service_ips);
  const Set& service_nodeports =
      declareSet(kServiceNodePortsMap, true, "inet_proto . inet_service : verdict", "NodePort traffic");
  if (emit) addSetOp(service_nodeports);

  // Traffic to a cluster IP from outside the cluster (routed to this node) may leave through
  // another node: masquerade it. With masqueradeAll, all of it.
  if (s_.masquerade_all) {
    addRule(kServicesChain,
            Rule{{MatchSet{{Field::kDaddr}, std::string(kClusterIPsSet)}, SetMarkOr{mark_}},
                 "masquerade all clusterIP traffic"},
            emit);
  } else if (auto not_local = localMatch(s_.local_detector, fam, true)) {
    addRule(kServicesChain,
            Rule{{MatchSet{{Field::kDaddr}, std::string(kClusterIPsSet)}, *not_local, SetMarkOr{mark_}},
                 "masquerade clusterIP traffic from outside cluster"},
            emit);
  }
  addRule(kServicesChain, Rule{{VmapLookup{kDestKey, std::string(kServiceIPsMap)}}, ""}, emit);
  {
    Rule r;
    if (match_all) {
      r.statements.emplace_back(MatchFibLocal{Field::kDaddr});
      r.statements.emplace_back(singleAddress(Field::kDaddr, true, loopback));
    } else {
      r.statements.emplace_back(MatchSet{{Field::kDaddr}, std::string(kNodePortIPsSet)});
    }
    r.statements.emplace_back(VmapLookup{kPortKey, std::string(kServiceNodePortsMap)});
    addRule(kServicesChain, std::move(r), emit);
  }

  // upstream reset(): a full sync empties the tracked sets and maps and adds every element.
  if (emit) {
    for (auto name : kTrackedContainers) {
      const bool is_map = name != kClusterIPsSet && name != kHairpinConnectionsSet;
      tx_.operations.push_back(FlushSet{std::string(name), is_map});
    }
  }
}

// Whether the fixed part of the table (everything but the per-service objects and the tracked
// elements) is already what writeSetup() produced into r_.
bool Planner::setupMatchesExisting() const {
  const Ruleset& old = *in_.existing;
  if (old.comment != r_.comment) return false;
  for (const auto& c : r_.chains) {
    const Chain* o = old.findChain(c.name);
    if (o == nullptr || o->base.has_value() != c.base.has_value() || o->comment != c.comment ||
        o->rules.size() != c.rules.size()) {
      return false;
    }
    if (c.base && (o->base->type != c.base->type || o->base->hook != c.base->hook ||
                   o->base->priority != c.base->priority)) {
      return false;
    }
    for (size_t i = 0; i < c.rules.size(); ++i) {
      if (ruleText(r_.family, o->rules[i]) != ruleText(r_.family, c.rules[i])) return false;
    }
  }
  for (const auto& s : r_.sets) {
    const Set* o = old.findSet(s.name);
    if (o == nullptr || o->is_map != s.is_map || o->type != s.type || o->comment != s.comment) return false;
    if (s.name == kNodePortIPsSet) {
      if (o->elements.size() != s.elements.size()) return false;
      for (size_t i = 0; i < s.elements.size(); ++i) {
        if (o->elements[i].key != s.elements[i].key) return false;
      }
    }
  }
  // A node-port set left from a configuration that had one.
  if (s_.node_port_addresses.match_all && old.findSet(kNodePortIPsSet) != nullptr) return false;
  return true;
}

NftablesPlan Planner::run() {
  plan_.family = s_.family;
  r_.family = s_.family;
  tx_.family = s_.family;
  plan_.stale_chain_deletion.family = s_.family;
  mark_ = parseMark(s_.masquerade_mark);

  // Stale chains that have waited long enough go in a transaction of their own, first.
  if (in_.stale_chains != nullptr) {
    for (const auto& [name, since] : *in_.stale_chains) {
      if (since < in_.now - kStaleChainDelay) {
        plan_.stale_chain_deletion.operations.push_back(DeleteChain{name});
        deleted_stale_.insert(name);
      } else {
        plan_.stale_chains.emplace(name, since);
      }
    }
  }

  // The fixed part; a partial sync is only possible when the table already holds it as is.
  full_ = in_.full_sync || in_.existing == nullptr;
  writeSetup(false);
  if (!full_ && !setupMatchesExisting()) full_ = true;
  if (full_) {
    r_.chains.clear();
    r_.sets.clear();
    chain_index_.clear();
    set_index_.clear();
    ensured_.clear();
    writeSetup(true);
  }
  plan_.full_sync = full_;

  for (auto name : kTrackedContainers) {
    Container c{.name = std::string(name), .is_map = name != kClusterIPsSet && name != kHairpinConnectionsSet,
                .previous = {}, .current = {}};
    if (!full_ && in_.existing != nullptr) {
      if (const Set* old = in_.existing->findSet(name)) {
        for (const auto& e : old->elements) c.previous.emplace(e.key, e);
      }
    }
    containers_.push_back(std::move(c));
  }

  // Total endpoints (over service ports that exist), walking both sorted maps together.
  std::vector<const tracker::EndpointList*> endpoints_of;
  endpoints_of.reserve(snap_.services.size());
  static const tracker::EndpointList kNoEndpoints;
  auto ep_it = snap_.endpoints.begin();
  for (const auto& [name, port] : snap_.services) {
    while (ep_it != snap_.endpoints.end() && ep_it->first < name) ++ep_it;
    const tracker::EndpointList* list =
        ep_it != snap_.endpoints.end() && ep_it->first == name ? ep_it->second.get() : &kNoEndpoints;
    endpoints_of.push_back(list);
    plan_.total_endpoints += list->size();
  }
  // Rough sizes (a full sync writes ~8 operations and ~2 chains a service port) so that the
  // vectors grow at most once or twice.
  r_.chains.reserve(r_.chains.size() + snap_.services.size() * 2);
  if (full_) tx_.operations.reserve(tx_.operations.size() + snap_.services.size() * 8 + plan_.total_endpoints);
  size_t index = 0;
  for (const auto& [name, port] : snap_.services) writeServicePort(*port, *endpoints_of[index++]);

  handleStaleObjects();
  finishContainers();
  r_.normalize();
  return std::move(plan_);
}

void Planner::writeServicePort(const ServicePortInfo& port, const tracker::EndpointList& all_endpoints) {
  const IpFamily fam = s_.family;
  const api::Protocol proto = port.protocol;
  const std::string protocol = api::protocolLowerName(proto);
  const std::string& spn = port.name_string;
  const std::string comment(truncateComment(spn));
  const bool affinity = port.session_affinity_client_ip;

  auto cat = tracker::categorizeEndpoints(all_endpoints, port, snap_.node_name, snap_.node_labels, s_.prefer_same_node);

  // skip: the service and its endpoints are unchanged, so a partial sync leaves its chains as
  // they are (they are still active). Its elements are checked either way.
  const bool emit = full_ || in_.changes == nullptr || in_.changes->serviceUpdated(port.name.service);

  const std::string base = servicePortChainNameBase(port.name.service.namespace_, port.name.service.name, protocol,
                                                    port.name.port);
  const ServicePortChainNames names = servicePortChainNames(base);

  // Endpoint chains exist only for ClientIP affinity; every locally reachable endpoint on this
  // node is a possible hairpin.
  std::unordered_map<const EndpointInfo*, std::string> endpoint_bases;
  for (const EndpointInfo* ep : cat.reachable) {
    if (affinity) {
      auto [it, inserted] = endpoint_bases.try_emplace(
          ep, servicePortEndpointChainNameBase(port.name.service.namespace_, port.name.service.name, protocol,
                                               port.name.port, ep->endpoint));
      ensureChain(endpointChainName(it->second), emit);
      active_affinity_sets_.insert(affinitySetName(it->second));
    }
    if (ep->is_local) {
      ensureElement(kHairpinConnectionsSet,
                    Element{.key = ElementKey{.address = ep->ip, .address2 = ep->ip, .protocol = proto,
                                              .port = static_cast<uint16_t>(ep->port)},
                            .value = {},
                            .comment = {}});
    }
  }

  const bool uses_cluster_chain = !cat.cluster.empty() && port.usesClusterEndpoints();
  if (uses_cluster_chain) ensureChain(names.cluster, emit);
  const bool uses_local_chain = !cat.local.empty() && port.usesLocalEndpoints();
  if (uses_local_chain) ensureChain(names.local, emit);

  const bool has_endpoints = cat.has_any_endpoints;
  const std::string* internal_chain = &names.cluster;
  bool has_internal = has_endpoints;
  if (port.internal_policy_local) {
    internal_chain = &names.local;
    if (cat.local.empty()) has_internal = false;
  }
  const std::string* external_policy_chain = &names.cluster;
  bool has_external = has_endpoints;
  if (port.external_policy_local) {
    external_policy_chain = &names.local;
    if (cat.local.empty()) has_external = false;
  }
  // The external chain is needed even without external endpoints: its short-circuit rules for
  // pod and node traffic still apply.
  const bool uses_external_chain = has_endpoints && port.externallyAccessible();
  if (uses_external_chain) ensureChain(names.external, emit);

  Verdict internal_verdict, external_verdict;
  if (!has_endpoints) {
    internal_verdict = external_verdict = gotoChain(std::string(kRejectChain));
  } else {
    if (!has_internal) {
      internal_verdict = Verdict{Verdict::Kind::kDrop, {}};
      ++plan_.no_local_endpoints_internal;
    }
    if (!has_external) {
      external_verdict = Verdict{Verdict::Kind::kDrop, {}};
      ++plan_.no_local_endpoints_external;
    }
  }

  // Elements.
  ensureElement(kClusterIPsSet,
                Element{.key = ElementKey{.address = port.cluster_ip, .address2 = {}, .protocol = {}, .port = {}},
                        .value = {},
                        .comment = {}});
  if (has_internal) {
    ensureElement(kServiceIPsMap,
                  Element{.key = destKey(port.cluster_ip, proto, port.port), .value = gotoChain(*internal_chain), .comment = {}});
  } else {
    ensureElement(kNoEndpointServicesMap,
                  Element{.key = destKey(port.cluster_ip, proto, port.port), .value = internal_verdict, .comment = comment});
  }
  for (const auto& ip : port.external_ips) {
    if (has_endpoints) {
      ensureElement(kServiceIPsMap,
                    Element{.key = destKey(ip, proto, port.port), .value = gotoChain(names.external), .comment = {}});
    }
    if (!has_external) {
      ensureElement(kNoEndpointServicesMap,
                    Element{.key = destKey(ip, proto, port.port), .value = external_verdict, .comment = comment});
    }
  }
  const bool uses_firewall_chain = !port.load_balancer_vips.empty() && !port.load_balancer_source_ranges.empty();
  if (uses_firewall_chain) ensureChain(names.firewall, emit);
  for (const auto& vip : port.load_balancer_vips) {
    if (has_endpoints) {
      ensureElement(kServiceIPsMap,
                    Element{.key = destKey(vip, proto, port.port), .value = gotoChain(names.external), .comment = {}});
    }
    if (uses_firewall_chain) {
      ensureElement(kFirewallIPsMap,
                    Element{.key = destKey(vip, proto, port.port), .value = gotoChain(names.firewall), .comment = {}});
    }
  }
  if (!has_external) {
    for (const auto& vip : port.load_balancer_vips) {
      ensureElement(kNoEndpointServicesMap,
                    Element{.key = destKey(vip, proto, port.port), .value = external_verdict, .comment = comment});
    }
  }
  if (port.node_port != 0) {
    const ElementKey key{.address = {}, .address2 = {}, .protocol = proto, .port = static_cast<uint16_t>(port.node_port)};
    // Node ports are not subject to loadBalancerSourceRanges (upstream: cannot be changed now).
    if (has_endpoints) {
      ensureElement(kServiceNodePortsMap, Element{.key = key, .value = gotoChain(names.external), .comment = {}});
    }
    if (!has_external) {
      ensureElement(kNoEndpointNodePortsMap, Element{.key = key, .value = external_verdict, .comment = comment});
    }
  }

  // Chains: written into the ruleset always, sent only when the service changed.
  if (uses_external_chain) {
    if (!port.external_policy_local) {
      // Endpoints may be on other nodes: masquerade so that replies come back through this node.
      addRule(names.external, Rule{{SetMarkOr{mark_}}, "masquerade"}, emit);
    } else {
      // Pods reaching an external address of the service get every endpoint, as if the packet had
      // gone out to the load balancer and come back.
      if (auto local = localMatch(s_.local_detector, fam, false)) {
        addRule(names.external, Rule{{*local, gotoChain(names.cluster)}, "short-circuit pod traffic"}, emit);
      }
      // The node itself: its source is a local address, which the endpoint cannot answer, so
      // masquerade it, and use every endpoint.
      addRule(names.external, Rule{{MatchFibLocal{Field::kSaddr}, SetMarkOr{mark_}}, "masquerade local traffic"}, emit);
      addRule(names.external, Rule{{MatchFibLocal{Field::kSaddr}, gotoChain(names.cluster)}, "short-circuit local traffic"},
              emit);
    }
    if (has_external) addRule(names.external, Rule{{gotoChain(*external_policy_chain)}, ""}, emit);
  }

  if (uses_firewall_chain) {
    MatchAddress sources{.field = Field::kSaddr, .negate = true, .style = ListStyle::kSpaced, .values = {}};
    bool allow_from_node = false;
    for (const auto& cidr : port.load_balancer_source_ranges) {
      sources.values.push_back(AddressValue{cidr, false});
      if (cidr.contains(s_.node_ip)) allow_from_node = true;
    }
    // A VIP that is also a local address makes the node's own requests to it arrive with the VIP
    // as their source: let those through too.
    if (allow_from_node) {
      for (const auto& vip : port.load_balancer_vips) sources.values.push_back(AddressValue{hostCidr(vip), true});
    }
    addRule(names.firewall, Rule{{std::move(sources), Verdict{Verdict::Kind::kDrop, {}}}, ""}, emit);
  }

  if (affinity) {
    // upstream: affinity is per client IP and service port, whichever service IP was used.
    for (const EndpointInfo* ep : cat.reachable) {
      Set& set = declareSet(affinitySetName(endpoint_bases[ep]), false, addrType(), "", {"dynamic", "timeout"},
                            port.sticky_max_age_seconds);
      if (emit) addSetOp(set);
    }
  }

  if (uses_cluster_chain) writeServiceToEndpointRules(port, names.cluster, cat.cluster, emit);
  if (uses_local_chain) writeServiceToEndpointRules(port, names.local, cat.local, emit);

  if (affinity) {
    for (const EndpointInfo* ep : cat.reachable) {
      const std::string& ep_base = endpoint_bases[ep];
      const std::string endpoint_chain = endpointChainName(ep_base);
      addRule(endpoint_chain, Rule{{UpdateSet{affinitySetName(ep_base), Field::kSaddr}}, ""}, emit);
      addRule(endpoint_chain, Rule{{MatchL4Proto{proto}, Dnat{DnatTarget{ep->ip, ep->port}}}, ""}, emit);
    }
  }
}

void Planner::writeServiceToEndpointRules(const ServicePortInfo& port, const std::string& chain_name,
                                          const EndpointRefs& endpoints, bool emit) {
  const std::string protocol = api::protocolLowerName(port.protocol);
  if (port.session_affinity_client_ip) {
    NumgenVmap pick;
    for (const EndpointInfo* ep : endpoints) {
      const std::string ep_base = servicePortEndpointChainNameBase(port.name.service.namespace_, port.name.service.name,
                                                                   protocol, port.name.port, ep->endpoint);
      addRule(chain_name,
              Rule{{MatchSet{{Field::kSaddr}, affinitySetName(ep_base)}, gotoChain(endpointChainName(ep_base))}, ""},
              emit);
      pick.chains.push_back(endpointChainName(ep_base));
    }
    addRule(chain_name, Rule{{std::move(pick)}, ""}, emit);
    return;
  }
  NumgenDnat dnat;
  dnat.targets.reserve(endpoints.size());
  for (const EndpointInfo* ep : endpoints) dnat.targets.push_back(DnatTarget{ep->ip, ep->port});
  addRule(chain_name, Rule{{MatchL4Proto{port.protocol}, std::move(dnat)}, ""}, emit);
}

// upstream: per-service chains the table holds but this sync does not use are flushed now and
// deleted by a later sync (see planner.h); affinity sets no longer used are deleted at once.
// Other objects the table holds that kproxy does not manage stay as they are.
void Planner::handleStaleObjects() {
  if (in_.existing == nullptr) return;
  for (const auto& old : in_.existing->chains) {
    if (deleted_stale_.count(old.name) != 0) continue;
    if (chain_index_.count(old.name) != 0) {
      plan_.stale_chains.erase(old.name);
      continue;
    }
    Chain& kept = chain(old.name);
    kept.base = old.base;
    kept.comment = old.comment;
    if (!isServiceChainName(old.name)) {
      kept.rules = old.rules;  // not kproxy's: left alone
      continue;
    }
    if (plan_.stale_chains.count(old.name) == 0) {
      tx_.operations.push_back(FlushChain{old.name});
      plan_.stale_chains.emplace(old.name, in_.now);
    }
  }
  for (const auto& old : in_.existing->sets) {
    if (set_index_.count(old.name) != 0) continue;
    // A full sync with every address accepting node ports deletes the node-port set.
    if (old.name == kNodePortIPsSet && full_) continue;
    if (isAffinitySetName(old.name)) {
      if (active_affinity_sets_.count(old.name) == 0) {
        tx_.operations.push_back(DeleteSet{old.name, old.is_map});
        continue;
      }
    }
    // A set kproxy does not manage.
    set_index_.emplace(old.name, r_.sets.size());
    r_.sets.push_back(old);
  }
}

// upstream cleanupLeftoverKeys: elements the table holds that no service wanted are deleted;
// the ruleset gets what this sync wants.
void Planner::finishContainers() {
  for (auto& c : containers_) {
    // In key order, so that the transaction does not depend on hashing.
    std::vector<const ElementKey*> leftover;
    for (const auto& [key, e] : c.previous) {
      if (c.current.count(key) == 0) leftover.push_back(&key);
    }
    std::sort(leftover.begin(), leftover.end(), [](const ElementKey* a, const ElementKey* b) { return *a < *b; });
    for (const ElementKey* key : leftover) tx_.operations.push_back(DeleteElement{c.name, *key});
    auto it = set_index_.find(c.name);
    if (it == set_index_.end()) continue;
    Set* set = &r_.sets[it->second];
    set->elements.reserve(c.current.size());
    for (auto& [key, e] : c.current) set->elements.push_back(std::move(e));  // normalize() sorts them
  }
}

}  // namespace

NftablesPlan planNftables(const PlanInput& input) { return Planner(input).run(); }

}  // namespace kproxy::nftables
