#include "modes/nftables/tracer.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "modes/nftables/chain_names.h"

namespace kproxy::nftables {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

// How a chain ended.
enum class ChainEnd : uint8_t {
  kFellOff,  // ran out of rules, or `return`: the caller goes on
  kEndHook,  // a NAT statement (or accept) ended this hook's evaluation; the next hook runs
  kDrop,     // drop or reject: the packet is gone
};

// What a rule asks of its chain.
enum class RuleEnd : uint8_t { kNext, kReturn, kEndHook, kDrop };

api::Protocol parseProtocol(std::string_view text) {
  if (text == "udp") return api::Protocol::kUDP;
  if (text == "sctp") return api::Protocol::kSCTP;
  return api::Protocol::kTCP;
}

class Tracer {
 public:
  Tracer(const Ruleset& ruleset, const std::vector<IpAddress>& local, const tracing::TracePacket& packet)
      : r_(ruleset), local_(local.begin(), local.end()), packet_(packet), protocol_(parseProtocol(packet.protocol)) {
    table_ = std::string(ruleset.family == IpFamily::kIPv4 ? "ip " : "ip6 ") + std::string(kTableName);
    for (const auto& c : ruleset.chains) chains_.emplace(c.name, &c);
    for (const auto& s : ruleset.sets) sets_.emplace(s.name, &s);
    result_.masquerade_mechanism = "set the masquerade mark";
  }

  tracing::TraceResult run();

 private:
  ChainEnd runChain(std::string_view name, int depth, std::optional<size_t> parent, double probability);
  RuleEnd runRule(const Chain& chain, const Rule& rule, size_t visit, int depth, double probability);
  RuleEnd runVerdict(const Chain& chain, const Rule& rule, const Verdict& verdict, size_t visit, int depth,
                     double probability, std::string target_prefix);
  bool holds(const Statement& statement) const;
  ElementKey keyOf(const std::vector<Field>& fields) const;
  const Element* lookup(std::string_view set, const std::vector<Field>& fields) const;
  bool isLocal(const IpAddress& ip) const { return local_.count(ip) != 0; }
  const IpAddress& fieldAddress(Field f) const { return f == Field::kSaddr ? packet_.source : destination_; }

  void record(size_t visit, const Chain& chain, const Rule& rule, std::string target, std::string dnat_to = {},
              std::optional<double> probability = std::nullopt);

  const Ruleset& r_;
  std::set<IpAddress> local_;
  tracing::TracePacket packet_;
  api::Protocol protocol_;
  std::string table_;
  std::unordered_map<std::string_view, const Chain*> chains_;
  std::unordered_map<std::string_view, const Set*> sets_;

  // The packet as the current hook sees it.
  IpAddress destination_;
  int destination_port_ = 0;
  uint32_t mark_ = 0;
  bool dnat_done_ = false;
  bool masqueraded_ = false;
  bool recording_ = true;
  std::vector<DnatTarget> dnat_targets_;       // where DNAT sent the packet, in output order
  bool masqueraded_by_mark_ = false;           // the postrouting rule that masqueraded tests the mark
  std::vector<tracing::TraceMatch> mark_rules_;
  std::vector<tracing::TraceMatch> masquerade_rules_;

  tracing::TraceResult result_;
};

void Tracer::record(size_t visit, const Chain& chain, const Rule& rule, std::string target, std::string dnat_to,
                    std::optional<double> probability) {
  tracing::TraceMatch m{.table = table_,
                      .chain = chain.name,
                      .rule = ruleText(r_.family, rule),
                      .comment = rule.comment,
                      .target = std::move(target),
                      .dnat_to = std::move(dnat_to),
                      .probability = probability,
                      .implied = false};
  if (recording_) result_.visits[visit].matches.push_back(m);
  bool marks = false;
  for (const auto& st : rule.statements) marks = marks || std::holds_alternative<SetMarkOr>(st);
  if (marks && recording_) mark_rules_.push_back(m);
  for (const auto& st : rule.statements) {
    if (std::holds_alternative<Masquerade>(st)) masquerade_rules_.push_back(m);
  }
}

ElementKey Tracer::keyOf(const std::vector<Field>& fields) const {
  ElementKey key;
  for (Field f : fields) {
    switch (f) {
      case Field::kSaddr:
      case Field::kDaddr:
        (key.address ? key.address2 : key.address) = fieldAddress(f);
        break;
      case Field::kL4Proto:
        key.protocol = protocol_;
        break;
      case Field::kDport:
        key.port = static_cast<uint16_t>(destination_port_);
        break;
    }
  }
  return key;
}

const Element* Tracer::lookup(std::string_view set_name, const std::vector<Field>& fields) const {
  auto it = sets_.find(set_name);
  if (it == sets_.end()) return nullptr;
  const ElementKey key = keyOf(fields);
  const auto& elements = it->second->elements;
  auto found = std::lower_bound(elements.begin(), elements.end(), key,
                                [](const Element& e, const ElementKey& k) { return e.key < k; });
  return found != elements.end() && found->key == key ? &*found : nullptr;
}

bool Tracer::holds(const Statement& statement) const {
  return std::visit(Overloaded{
                        [&](const CtStateNew&) { return true; },  // the first packet of a connection
                        [&](const CtStatusDnat&) { return dnat_done_; },
                        [&](const MatchAddress& m) {
                          const IpAddress& ip = fieldAddress(m.field);
                          bool in = false;
                          for (const auto& v : m.values) in = in || v.cidr.contains(ip);
                          return in != m.negate;
                        },
                        [&](const MatchSet& m) { return lookup(m.set, m.key) != nullptr; },
                        [&](const MatchFibLocal& m) { return isLocal(fieldAddress(m.field)); },
                        [&](const MatchInterface& m) {
                          if (packet_.in_interface.empty()) return false;
                          std::string_view name = m.name;
                          bool match = !name.empty() && name.back() == '*'
                                           ? std::string_view(packet_.in_interface).substr(0, name.size() - 1) ==
                                                 name.substr(0, name.size() - 1)
                                           : packet_.in_interface == name;
                          return match != m.negate;
                        },
                        [&](const MatchL4Proto& m) { return m.protocol == protocol_; },
                        [&](const MatchMark& m) { return (mark_ & m.mask) != 0; },
                        [&](const auto&) { return true; },  // statements, not matches
                    },
                    statement);
}

RuleEnd Tracer::runVerdict(const Chain& chain, const Rule& rule, const Verdict& verdict, size_t visit, int depth,
                           double probability, std::string target_prefix) {
  switch (verdict.kind) {
    case Verdict::Kind::kDrop:
    case Verdict::Kind::kReject: {
      // The verdict itself is the target (the text form finds the deciding rule by it).
      const std::string word = verdict.kind == Verdict::Kind::kDrop ? "DROP" : "REJECT";
      record(visit, chain, rule, word);
      result_.outputs.push_back(tracing::TraceOutput{word, false, probability});
      return RuleEnd::kDrop;
    }
    case Verdict::Kind::kAccept:
      record(visit, chain, rule, target_prefix + "accept");
      return RuleEnd::kEndHook;
    case Verdict::Kind::kReturn:
      record(visit, chain, rule, target_prefix + "return");
      return RuleEnd::kReturn;
    case Verdict::Kind::kJump:
    case Verdict::Kind::kGoto: {
      const bool is_goto = verdict.kind == Verdict::Kind::kGoto;
      record(visit, chain, rule, target_prefix + (is_goto ? "goto " : "jump ") + verdict.chain);
      const ChainEnd end = runChain(verdict.chain, depth + 1, visit, probability);
      if (end == ChainEnd::kDrop) return RuleEnd::kDrop;
      if (end == ChainEnd::kEndHook) return RuleEnd::kEndHook;
      return is_goto ? RuleEnd::kReturn : RuleEnd::kNext;
    }
  }
  return RuleEnd::kNext;
}

RuleEnd Tracer::runRule(const Chain& chain, const Rule& rule, size_t visit, int depth, double probability) {
  bool recorded = false;
  for (const Statement& st : rule.statements) {
    if (!holds(st)) return RuleEnd::kNext;
    if (const auto* v = std::get_if<Verdict>(&st)) return runVerdict(chain, rule, *v, visit, depth, probability, "");
    if (const auto* m = std::get_if<VmapLookup>(&st)) {
      const Element* e = lookup(m->map, m->key);
      if (e == nullptr || !e->value) return RuleEnd::kNext;
      return runVerdict(chain, rule, *e->value, visit, depth, probability, "@" + m->map + ": ");
    }
    if (const auto* m = std::get_if<SetMarkOr>(&st)) {
      mark_ |= m->bits;
      if (!recorded) record(visit, chain, rule, "mark for masquerade");
      recorded = true;
      continue;
    }
    if (const auto* m = std::get_if<SetMarkXor>(&st)) {
      mark_ ^= m->bits;
      continue;
    }
    if (std::holds_alternative<Masquerade>(st)) {
      masqueraded_ = true;
      for (const auto& other : rule.statements) masqueraded_by_mark_ |= std::holds_alternative<MatchMark>(other);
      if (!recorded) record(visit, chain, rule, "MASQUERADE");
      return RuleEnd::kEndHook;
    }
    if (const auto* d = std::get_if<Dnat>(&st)) {
      const std::string to = joinHostPort(d->target.ip, d->target.port);
      record(visit, chain, rule, "DNAT", to);
      result_.outputs.push_back(tracing::TraceOutput{to, true, probability});
      dnat_targets_.push_back(d->target);
      return RuleEnd::kEndHook;
    }
    if (const auto* d = std::get_if<NumgenDnat>(&st)) {
      std::string to;
      for (const auto& t : d->targets) {
        const std::string ep = joinHostPort(t.ip, t.port);
        to += (to.empty() ? "" : ", ") + ep;
        result_.outputs.push_back(
            tracing::TraceOutput{ep, true, probability / static_cast<double>(d->targets.size())});
        dnat_targets_.push_back(t);
      }
      record(visit, chain, rule, "DNAT", to);
      return RuleEnd::kEndHook;
    }
    if (const auto* g = std::get_if<NumgenVmap>(&st)) {
      // A random choice of endpoint chain: follow every branch, in map order.
      const double share = probability / static_cast<double>(g->chains.size());
      for (const auto& target : g->chains) {
        record(visit, chain, rule, "goto " + target, {}, 1.0 / static_cast<double>(g->chains.size()));
        (void)runChain(target, depth + 1, visit, share);
      }
      return RuleEnd::kEndHook;
    }
    // UpdateSet and the matches that held: go on with the next statement.
  }
  return RuleEnd::kNext;
}

ChainEnd Tracer::runChain(std::string_view name, int depth, std::optional<size_t> parent, double probability) {
  auto it = chains_.find(name);
  if (it == chains_.end()) return ChainEnd::kFellOff;
  const Chain& chain = *it->second;
  size_t visit = result_.visits.size();
  if (recording_) {
    result_.visits.push_back(tracing::TraceVisit{.table = table_, .chain = chain.name, .depth = depth, .parent = parent,
                                               .matches = {}});
  }
  for (const Rule& rule : chain.rules) {
    switch (runRule(chain, rule, visit, depth, probability)) {
      case RuleEnd::kNext:
        break;
      case RuleEnd::kReturn:
        return ChainEnd::kFellOff;
      case RuleEnd::kEndHook:
        return ChainEnd::kEndHook;
      case RuleEnd::kDrop:
        return ChainEnd::kDrop;
    }
  }
  return ChainEnd::kFellOff;
}

tracing::TraceResult Tracer::run() {
  destination_ = packet_.destination;
  destination_port_ = packet_.destination_port;
  const bool from_node = isLocal(packet_.source);

  auto runHook = [&](std::string_view chain) { return runChain(chain, 0, std::nullopt, 1.0); };

  // Before DNAT: the firewall.
  if (runHook(from_node ? kFilterOutputPreDnatChain : kFilterPreroutingPreDnatChain) == ChainEnd::kDrop) {
    result_.filter_destination = destination_;
    return std::move(result_);
  }
  // DNAT.
  (void)runHook(from_node ? kNatOutputChain : kNatPreroutingChain);
  std::vector<DnatTarget> endpoints = dnat_targets_;
  if (!endpoints.empty()) {
    dnat_done_ = true;
    destination_ = endpoints.front().ip;
    destination_port_ = endpoints.front().port;
  }
  result_.filter_destination = destination_;

  // After DNAT: the endpoint and cluster-IP checks.
  std::string_view filter = from_node ? kFilterOutputChain : (isLocal(destination_) ? kFilterInputChain : kFilterForwardChain);
  if (runHook(filter) == ChainEnd::kDrop) return std::move(result_);

  // Postrouting, once for every endpoint the packet may go to (only the first is shown).
  if (endpoints.empty()) endpoints.push_back(DnatTarget{destination_, destination_port_});
  const uint32_t mark = mark_;
  bool masquerade = false;
  bool by_mark = false;
  std::vector<tracing::TraceMatch> masquerade_rules;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    recording_ = i == 0;
    destination_ = endpoints[i].ip;
    destination_port_ = endpoints[i].port;
    mark_ = mark;
    masqueraded_ = false;
    masqueraded_by_mark_ = false;
    masquerade_rules_.clear();
    (void)runHook(kNatPostroutingChain);
    if (masqueraded_ && !masquerade) {
      masquerade = true;
      by_mark = masqueraded_by_mark_;
      masquerade_rules = masquerade_rules_;
    }
  }
  recording_ = true;
  result_.masquerade = masquerade;
  if (masquerade) {
    // The rules that set the mark explain a mark-based masquerade; the hairpin rule explains
    // itself.
    result_.masquerade_rules = by_mark && !mark_rules_.empty() ? mark_rules_ : masquerade_rules;
  }
  return std::move(result_);
}

}  // namespace

tracing::TraceResult tracePacket(const Ruleset& ruleset, const std::vector<IpAddress>& local_addresses,
                               const tracing::TracePacket& packet) {
  return Tracer(ruleset, local_addresses, packet).run();
}

}  // namespace kproxy::nftables
