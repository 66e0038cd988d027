#include "modes/ipvs/tracer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include "modes/common/rule_match.h"
#include "modes/ipvs/planner.h"
#include "modes/ipvs/set_match.h"

namespace kproxy::ipvs {
namespace {

using tracing::TraceMatch;
using tracing::TraceOutput;
using tracing::TracePacket;
using tracing::TraceResult;
using tracing::TraceVisit;
using tracing::AddressCondition;
using tracing::addressMatches;
using tracing::InterfaceCondition;
using tracing::interfaceMatches;
using tracing::listHas;
using tracing::lowerCase;
using tracing::parseAddresses;
using tracing::parsePort;
using tracing::parsePorts;
using tracing::PortCondition;
using tracing::protocolName;
using tracing::TypeCondition;
using tracing::parseCidrOrAddress;

constexpr int kMaxDepth = 64;
constexpr std::string_view kMarkMasq = "KUBE-MARK-MASQ";

struct SetCondition {
  bool negate = false;
  std::string name;
  std::vector<bool> src_flags;
};
struct MarkCondition {
  bool negate = false;
  uint32_t value = 0;
  uint32_t mask = 0xffffffff;
};
struct IpvsCondition {
  bool negate_ipvs = false;
  bool ipvs = false;  // --ipvs given
  std::optional<std::pair<bool, Cidr>> vaddr;
  std::optional<std::pair<bool, std::string>> vproto;
  std::optional<std::pair<bool, int>> vport;
};
struct MarkAction {
  // new = (mark & ~clear) ^ flip
  uint32_t clear = 0;
  uint32_t flip = 0;
};

struct CompiledRule {
  std::string raw;
  std::string comment;
  std::string target;
  bool is_goto = false;
  std::optional<AddressCondition> source, destination;
  std::optional<TypeCondition> source_type, destination_type;
  std::optional<std::pair<bool, std::string>> protocol;
  std::vector<PortCondition> destination_ports;
  std::optional<InterfaceCondition> in_interface;
  bool has_out_interface = false;
  bool checks_history = false;
  std::vector<SetCondition> sets;
  std::vector<MarkCondition> marks;
  std::optional<std::pair<bool, bool>> ctstate;  // (negate, the list names NEW)
  std::optional<IpvsCondition> ipvs;
  std::optional<MarkAction> mark_action;
  bool implied = false;
};

struct CompiledChain {
  std::string name;
  std::vector<CompiledRule> rules;
};

struct CompiledTable {
  std::string name;
  std::map<std::string, CompiledChain, std::less<>> chains;
  const CompiledChain* find(std::string_view chain) const {
    auto it = chains.find(chain);
    return it == chains.end() ? nullptr : &it->second;
  }
};

Result<uint32_t> parseNumber(std::string_view text) {
  std::string s(text);
  char* end = nullptr;
  unsigned long v = std::strtoul(s.c_str(), &end, 0);
  if (s.empty() || end != s.c_str() + s.size() || v > 0xffffffffUL) return Error("bad number \"" + s + "\"");
  return static_cast<uint32_t>(v);
}

// "V" or "V/M".
Result<std::pair<uint32_t, uint32_t>> parseValueMask(std::string_view text) {
  size_t slash = text.find('/');
  auto v = parseNumber(text.substr(0, slash));
  if (!v.ok()) return v.error();
  uint32_t mask = 0xffffffff;
  if (slash != std::string_view::npos) {
    auto m = parseNumber(text.substr(slash + 1));
    if (!m.ok()) return m.error();
    mask = *m;
  }
  return std::make_pair(*v, mask);
}

Result<CompiledRule> compileRule(std::string_view raw) {
  CompiledRule rule;
  rule.raw = std::string(raw);
  rule.comment = restore::ruleComment(raw);
  const auto words = restore::splitRuleWords(raw);
  bool negate_next = false;
  bool after_target = false;
  for (size_t i = 2; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "!") {
      negate_next = true;
      continue;
    }
    bool negate = negate_next;
    negate_next = false;
    if (w.empty() || w[0] != '-') continue;
    auto value = [&]() -> Result<std::string> {
      if (i + 1 < words.size() && words[i + 1] == "!") {
        negate = !negate;
        ++i;
      }
      if (i + 1 >= words.size()) return Error("option " + w + " needs a value");
      return words[++i];
    };
#define KP_VALUE(v)                 \
  auto v = value();                 \
  if (!v.ok()) return v.error();
    if (after_target) {
      if (rule.target == "MARK") {
        if (w == "--or-mark" || w == "--xor-mark" || w == "--and-mark" || w == "--set-mark" || w == "--set-xmark") {
          KP_VALUE(v);
          auto vm = parseValueMask(*v);
          if (!vm.ok()) return vm.error();
          MarkAction a;
          if (w == "--or-mark") {
            a = {.clear = vm->first, .flip = vm->first};
          } else if (w == "--xor-mark") {
            a = {.clear = 0, .flip = vm->first};
          } else if (w == "--and-mark") {
            a = {.clear = ~vm->first, .flip = 0};
          } else if (w == "--set-mark") {
            a = {.clear = vm->second, .flip = vm->first};
          } else {
            a = {.clear = vm->second, .flip = vm->first};
          }
          rule.mark_action = a;
        }
      }
      continue;
    }
    if (w == "-j" || w == "--jump" || w == "-g" || w == "--goto") {
      KP_VALUE(v);
      rule.target = *v;
      rule.is_goto = w == "-g" || w == "--goto";
      after_target = true;
    } else if (w == "-m" || w == "--match" || w == "--comment") {
      KP_VALUE(v);
    } else if (w == "-s" || w == "--source" || w == "--src" || w == "-d" || w == "--destination" || w == "--dst") {
      KP_VALUE(v);
      auto cond = parseAddresses(*v, negate);
      if (!cond.ok()) return cond.error();
      (w == "-s" || w == "--source" || w == "--src" ? rule.source : rule.destination) = *cond;
    } else if (w == "--src-type" || w == "--dst-type") {
      KP_VALUE(v);
      (w == "--src-type" ? rule.source_type : rule.destination_type) =
          TypeCondition{.negate = negate, .local = listHas(*v, "LOCAL")};
    } else if (w == "-p" || w == "--protocol") {
      KP_VALUE(v);
      rule.protocol = std::make_pair(negate, protocolName(*v));
    } else if (w == "--dport" || w == "--destination-port" || w == "--dports" || w == "--destination-ports") {
      KP_VALUE(v);
      auto cond = parsePorts(*v, negate);
      if (!cond.ok()) return cond.error();
      rule.destination_ports.push_back(*cond);
    } else if (w == "-i" || w == "--in-interface") {
      KP_VALUE(v);
      rule.in_interface = InterfaceCondition{.negate = negate, .name = *v};
    } else if (w == "-o" || w == "--out-interface") {
      KP_VALUE(v);
      rule.has_out_interface = true;
    } else if (w == "--match-set" || w == "--set") {
      KP_VALUE(name);
      if (i + 1 >= words.size()) return Error("--match-set " + *name + " needs flags");
      auto flags = parseSetFlags(words[++i]);
      if (!flags.ok()) return flags.error();
      rule.sets.push_back(SetCondition{.negate = negate, .name = *name, .src_flags = *flags});
    } else if (w == "--mark") {
      KP_VALUE(v);
      auto vm = parseValueMask(*v);
      if (!vm.ok()) return vm.error();
      rule.marks.push_back(MarkCondition{.negate = negate, .value = vm->first, .mask = vm->second});
    } else if (w == "--ctstate" || w == "--state") {
      KP_VALUE(v);
      rule.ctstate = std::make_pair(negate, listHas(*v, "NEW"));
    } else if (w == "--ipvs") {
      if (!rule.ipvs) rule.ipvs = IpvsCondition{};
      rule.ipvs->ipvs = true;
      rule.ipvs->negate_ipvs = negate;
    } else if (w == "--vaddr") {
      KP_VALUE(v);
      auto cidr = parseCidrOrAddress(*v);
      if (!cidr.ok()) return cidr.error();
      if (!rule.ipvs) rule.ipvs = IpvsCondition{};
      rule.ipvs->vaddr = std::make_pair(negate, *cidr);
    } else if (w == "--vproto") {
      KP_VALUE(v);
      if (!rule.ipvs) rule.ipvs = IpvsCondition{};
      rule.ipvs->vproto = std::make_pair(negate, protocolName(*v));
    } else if (w == "--vport") {
      KP_VALUE(v);
      auto port = parsePort(*v);
      if (!port.ok()) return port.error();
      if (!rule.ipvs) rule.ipvs = IpvsCondition{};
      rule.ipvs->vport = std::make_pair(negate, *port);
    } else if (w == "--rcheck" || w == "--update") {
      rule.checks_history = true;
    }
#undef KP_VALUE
  }
  if (rule.target == "MARK" && !rule.mark_action) return Error("MARK without a mark option");
  return rule;
}

std::string vsProtocol(api::Protocol p) { return lowerCase(api::protocolName(p)); }

// The `ipvsadm -S -n` line of one virtual server.
std::string vsSaveLine(const VirtualServer& vs) {
  IpvsState one;
  one.family = vs.family();
  VirtualServer copy = vs;
  copy.real_servers.clear();
  one.virtual_servers.push_back(copy);
  std::string text = formatIpvsadmSave(one);
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

std::string vsComment(const VirtualServer& vs) {
  std::string s = "virtual server " + vs.key().toString() + ", scheduler " + vs.scheduler;
  if ((vs.flags & kFlagPersistent) != 0) {
    s += fmt::format(", persistence {}s (a client's later connections go to the same real server)", vs.timeout);
  } else {
    s += ", no persistence";
  }
  return s;
}

}  // namespace

struct IpvsTracer::Impl {
  CompiledTable nat{.name = "nat", .chains = {}};
  CompiledTable filter{.name = "filter", .chains = {}};
  std::map<std::string, SetMatcher, std::less<>> sets;
  std::vector<VirtualServer> virtual_servers;
  std::set<IpAddress> local;

  const CompiledTable& table(std::string_view name) const { return name == "nat" ? nat : filter; }
  bool isLocal(const IpAddress& ip) const { return local.count(ip) != 0; }

  const VirtualServer* findVirtualServer(const IpAddress& address, const std::string& protocol, int port) const {
    for (const auto& vs : virtual_servers) {
      if (vs.address == address && vs.port == port && vsProtocol(vs.protocol) == protocol) return &vs;
    }
    return nullptr;
  }
};

namespace {

enum class End { kNone, kAccept, kFinal };

struct Walk {
  const IpvsTracer::Impl& impl;
  const TracePacket& packet;
  TraceResult& result;
  IpAddress destination;
  uint32_t mark = 0;
  const VirtualServer* ipvs = nullptr;  // the virtual server that took the packet, once it did
  bool masquerade = false;
  std::vector<TraceMatch> masquerade_rules;
  std::optional<TraceMatch> accepted;  // the last filter ACCEPT

  bool matches(const CompiledRule& rule) const {
    if (rule.source && !addressMatches(*rule.source, packet.source)) return false;
    if (rule.source_type && (rule.source_type->local && impl.isLocal(packet.source)) == rule.source_type->negate) {
      return false;
    }
    if (rule.protocol && rule.protocol->second != "all" &&
        (rule.protocol->second == packet.protocol) == rule.protocol->first) {
      return false;
    }
    if (rule.destination && !addressMatches(*rule.destination, destination)) return false;
    if (rule.destination_type &&
        (rule.destination_type->local && impl.isLocal(destination)) == rule.destination_type->negate) {
      return false;
    }
    for (const auto& ports : rule.destination_ports) {
      bool m = std::any_of(ports.ranges.begin(), ports.ranges.end(), [&](const auto& r) {
        return packet.destination_port >= r.first && packet.destination_port <= r.second;
      });
      if (m == ports.negate) return false;
    }
    if (rule.in_interface && (packet.in_interface.empty() || !interfaceMatches(*rule.in_interface, packet.in_interface))) {
      return false;
    }
    if (rule.has_out_interface || rule.checks_history) return false;
    const SetPacket sp{.source = packet.source,
                       .destination = destination,
                       .destination_port = packet.destination_port,
                       .protocol = packet.protocol};
    for (const auto& s : rule.sets) {
      auto it = impl.sets.find(s.name);
      const bool m = it != impl.sets.end() && it->second.matches(s.src_flags, sp);
      if (m == s.negate) return false;
    }
    for (const auto& m : rule.marks) {
      if (((mark & m.mask) == m.value) == m.negate) return false;
    }
    if (rule.ctstate && rule.ctstate->second == rule.ctstate->first) return false;
    if (rule.ipvs) {
      const auto& c = *rule.ipvs;
      if (c.ipvs && (ipvs != nullptr) == c.negate_ipvs) return false;
      if ((c.vaddr || c.vproto || c.vport) && ipvs == nullptr) return false;
      if (c.vaddr && c.vaddr->second.contains(ipvs->address) == c.vaddr->first) return false;
      if (c.vproto && (c.vproto->second == vsProtocol(ipvs->protocol)) == c.vproto->first) return false;
      if (c.vport && (c.vport->second == ipvs->port) == c.vport->first) return false;
    }
    return true;
  }

  End runChain(const CompiledTable& table, std::string_view chain_name, int depth, std::optional<size_t> parent) {
    const CompiledChain* chain = table.find(chain_name);
    if (chain == nullptr || depth > kMaxDepth) return End::kNone;
    const size_t visit = result.visits.size();
    result.visits.push_back(
        TraceVisit{.table = table.name, .chain = chain->name, .depth = depth, .parent = parent, .matches = {}});
    for (const auto& rule : chain->rules) {
      if (rule.target.empty() || !matches(rule)) continue;
      TraceMatch m{.table = table.name,
                   .chain = chain->name,
                   .rule = rule.raw,
                   .comment = rule.comment,
                   .target = rule.target,
                   .dnat_to = "",
                   .probability = std::nullopt,
                   .implied = rule.implied};
      result.visits[visit].matches.push_back(m);
      if (rule.target == kMarkMasq) masquerade_rules.push_back(m);
      if (rule.target == "ACCEPT") {
        if (table.name == "filter") accepted = m;
        return End::kAccept;
      }
      if (rule.target == "DROP" || rule.target == "REJECT") {
        result.outputs.push_back(TraceOutput{.value = rule.target, .is_endpoint = false, .probability = 1.0});
        return End::kFinal;
      }
      if (rule.target == "RETURN") return End::kNone;
      if (rule.target == "MASQUERADE") {
        masquerade = true;
        masquerade_rules.push_back(m);
        return End::kAccept;
      }
      if (rule.target == "MARK") {
        mark = (mark & ~rule.mark_action->clear) ^ rule.mark_action->flip;
        continue;
      }
      if (table.find(rule.target) == nullptr) continue;  // LOG, ...: no effect here
      const End end = runChain(table, rule.target, depth + 1, visit);
      if (end != End::kNone || rule.is_goto) return end;
    }
    return End::kNone;
  }

  // A built-in chain; its absence is no rule at all.
  End runHook(std::string_view table, std::string_view chain) {
    return runChain(impl.table(table), chain, 0, std::nullopt);
  }
};

void addIpvsVisit(TraceResult& result, const VirtualServer& vs, std::string_view target) {
  TraceMatch m{.table = "ipvs",
               .chain = vs.key().toString(),
               .rule = vsSaveLine(vs),
               .comment = vsComment(vs),
               .target = std::string(target),
               .dnat_to = "",
               .probability = std::nullopt,
               .implied = false};
  result.visits.push_back(
      TraceVisit{.table = "ipvs", .chain = vs.key().toString(), .depth = 0, .parent = std::nullopt, .matches = {m}});
}

}  // namespace

IpvsTracer::IpvsTracer() : impl_(std::make_unique<Impl>()) {}
IpvsTracer::~IpvsTracer() = default;
IpvsTracer::IpvsTracer(IpvsTracer&&) noexcept = default;
IpvsTracer& IpvsTracer::operator=(IpvsTracer&&) noexcept = default;

Result<IpvsTracer> IpvsTracer::create(const restore::RestoreText& rules, const IpvsState& state,
                                      const std::vector<IpAddress>& local_addresses) {
  IpvsTracer tracer;
  Impl& impl = *tracer.impl_;
  for (const char* table_name : {"nat", "filter"}) {
    const restore::Table* table = rules.find(table_name);
    CompiledTable& compiled = std::string_view(table_name) == "nat" ? impl.nat : impl.filter;
    if (table != nullptr) {
      for (const auto& chain : table->chains) {
        if (chain.deleted) continue;
        CompiledChain& out = compiled.chains[chain.name];
        out.name = chain.name;
        for (size_t i = 0; i < chain.rules.size(); ++i) {
          auto rule = compileRule(chain.rules[i]);
          if (!rule.ok()) {
            return Error(std::string(table_name) + " " + chain.name + " rule " + std::to_string(i + 1) + " (\"" +
                         chain.rules[i] + "\"): " + rule.error().message);
          }
          out.rules.push_back(std::move(*rule));
        }
      }
    }
  }
  // The jumps IPVS mode inserts from built-in chains, each at position 1: the last one ends up first.
  const auto& jumps = ipvsChainJumps();
  for (const auto& jump : jumps) {
    CompiledTable& compiled = jump.table == "nat" ? impl.nat : impl.filter;
    CompiledChain& from = compiled.chains[std::string(jump.from)];
    from.name = jump.from;
    const bool present = std::any_of(from.rules.begin(), from.rules.end(), [&](const CompiledRule& r) {
      return r.target == jump.to && !r.implied;
    });
    if (present) continue;
    const std::string raw = fmt::format("-A {} -m comment --comment \"{}\" -j {}", jump.from, jump.comment, jump.to);
    auto rule = compileRule(raw);
    rule->implied = true;
    from.rules.insert(from.rules.begin(), std::move(*rule));
  }
  for (const auto& set : state.ipsets) {
    auto matcher = SetMatcher::compile(set);
    if (!matcher.ok()) return matcher.error();
    impl.sets.emplace(set.name, std::move(*matcher));
  }
  impl.virtual_servers = state.virtual_servers;
  impl.local.insert(*IpAddress::parse("127.0.0.1"));
  impl.local.insert(*IpAddress::parse("::1"));
  impl.local.insert(local_addresses.begin(), local_addresses.end());
  impl.local.insert(state.kube_ipvs0_addresses.begin(), state.kube_ipvs0_addresses.end());
  return tracer;
}

TraceResult IpvsTracer::trace(const TracePacket& packet) const {
  TraceResult result;
  result.masquerade_mechanism = "set the masquerade mark (KUBE-MARK-MASQ) or matched MASQUERADE in nat POSTROUTING";
  result.implied_prerouting_jump = false;
  Walk walk{.impl = *impl_, .packet = packet, .result = result, .destination = packet.destination};
  result.filter_destination = packet.destination;
  const bool from_node = impl_->isLocal(packet.source) && packet.in_interface.empty();
  const VirtualServer* vs = impl_->findVirtualServer(packet.destination, packet.protocol, packet.destination_port);
  auto finish = [&]() {
    result.masquerade = walk.masquerade;
    if (walk.masquerade) result.masquerade_rules = walk.masquerade_rules;
    for (const auto& v : result.visits) {
      for (const auto& m : v.matches) result.implied_prerouting_jump |= m.implied;
    }
    return result;
  };

  if (walk.runHook("nat", from_node ? "OUTPUT" : "PREROUTING") == End::kFinal) return finish();
  if (!from_node) {
    if (!impl_->isLocal(packet.destination)) {
      // Routed through: IPVS does not see it.
      if (walk.runHook("filter", "FORWARD") == End::kFinal) return finish();
      if (walk.accepted) result.outputs.push_back(TraceOutput{.value = "ACCEPT", .is_endpoint = false, .probability = 1.0});
      return finish();
    }
    if (walk.runHook("filter", "INPUT") == End::kFinal) return finish();
  }
  if (vs == nullptr) {
    // Delivered to (or sent from) the node itself; IPVS mode's rules decided nothing more.
    if (from_node) (void)walk.runHook("filter", "OUTPUT");
    if (walk.accepted && result.verdict().empty()) {
      result.outputs.push_back(TraceOutput{.value = "ACCEPT", .is_endpoint = false, .probability = 1.0});
    }
    return finish();
  }
  uint64_t total = 0;
  for (const auto& rs : vs->real_servers) total += rs.weight > 0 ? static_cast<uint64_t>(rs.weight) : 0;
  if (total == 0) {
    addIpvsVisit(result, *vs, "REJECT");
    result.outputs.push_back(TraceOutput{.value = "REJECT", .is_endpoint = false, .probability = 1.0});
    return finish();
  }
  addIpvsVisit(result, *vs, "IPVS");
  walk.ipvs = vs;
  std::vector<TraceOutput> chosen;
  for (const auto& rs : vs->real_servers) {
    if (rs.weight <= 0) continue;
    chosen.push_back(TraceOutput{.value = rs.toString(),
                                 .is_endpoint = true,
                                 .probability = static_cast<double>(rs.weight) / static_cast<double>(total)});
  }
  walk.destination = *tracing::hostOfEndpoint(chosen.front().value);
  if (walk.runHook("filter", "OUTPUT") == End::kFinal) return finish();
  // nat POSTROUTING for each real server; the visits of the first are kept.
  bool masquerade = false;
  std::vector<TraceMatch> post_rules;
  const uint32_t mark = walk.mark;
  for (size_t i = 0; i < chosen.size(); ++i) {
    TraceResult scratch;
    Walk post{.impl = *impl_,
              .packet = packet,
              .result = i == 0 ? result : scratch,
              .destination = *tracing::hostOfEndpoint(chosen[i].value),
              .mark = mark,
              .ipvs = vs};
    (void)post.runHook("nat", "POSTROUTING");
    chosen[i].masquerade = post.masquerade;
    masquerade |= post.masquerade;
    for (auto& m : post.masquerade_rules) {
      const bool seen = std::any_of(post_rules.begin(), post_rules.end(), [&](const TraceMatch& o) {
        return o.table == m.table && o.chain == m.chain && o.rule == m.rule;
      });
      if (!seen) post_rules.push_back(std::move(m));
    }
  }
  const bool uniform = std::all_of(chosen.begin(), chosen.end(), [&](const TraceOutput& o) { return o.masquerade == masquerade; });
  for (auto& o : chosen) {
    if (uniform) o.masquerade.reset();
    result.outputs.push_back(std::move(o));
  }
  walk.masquerade = masquerade;
  for (auto& m : post_rules) walk.masquerade_rules.push_back(std::move(m));
  return finish();
}

}  // namespace kproxy::ipvs
