#include "modes/iptables/packet_tracer.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <map>
#include <set>
#include <utility>

#include "modes/common/rule_match.h"

namespace kproxy::iptables {
namespace {

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

// Chains deeper than this are not entered: iptables itself refuses loops, so only a hand-made
// state can get here, and the trace must still end.
constexpr int kMaxDepth = 64;

constexpr std::string_view kPreroutingChain = "PREROUTING";
constexpr std::string_view kServicesChainName = "KUBE-SERVICES";
constexpr std::string_view kMarkMasq = "KUBE-MARK-MASQ";
constexpr std::string_view kImpliedPreroutingRule =
    "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES";

struct Word {
  std::string text;
  bool quoted = false;
};

// iptables' own word splitting, remembering which words were quoted (an unquoted --comment may
// run over several words, as in upstream's TestTracePacket data).
std::vector<Word> splitWords(std::string_view rule) {
  std::vector<Word> words;
  size_t i = 0;
  while (i < rule.size()) {
    while (i < rule.size() && (rule[i] == ' ' || rule[i] == '\t')) ++i;
    if (i >= rule.size()) break;
    Word word;
    if (rule[i] == '"') {
      word.quoted = true;
      ++i;
      while (i < rule.size() && rule[i] != '"') {
        if (rule[i] == '\\' && i + 1 < rule.size() && (rule[i + 1] == '"' || rule[i + 1] == '\\')) ++i;
        word.text.push_back(rule[i++]);
      }
      ++i;  // closing quote
    } else {
      while (i < rule.size() && rule[i] != ' ' && rule[i] != '\t') word.text.push_back(rule[i++]);
    }
    words.push_back(std::move(word));
  }
  return words;
}

struct CompiledRule {
  std::string raw;
  std::string comment;
  std::string target;
  bool is_goto = false;
  std::string dnat_to;
  std::optional<AddressCondition> source;
  std::optional<AddressCondition> destination;
  std::optional<TypeCondition> source_type;
  std::optional<TypeCondition> destination_type;
  std::optional<std::pair<bool, std::string>> protocol;  // (negate, name)
  std::vector<PortCondition> destination_ports;
  std::optional<InterfaceCondition> in_interface;
  bool has_out_interface = false;
  bool checks_history = false;  // --rcheck / --update, --mark, --ctstate / --state
  std::optional<double> probability;
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

Result<CompiledRule> compileRule(std::string_view raw) {
  CompiledRule rule;
  rule.raw = std::string(raw);
  const auto words = splitWords(raw);
  bool negate_next = false;
  bool after_target = false;
  for (size_t i = 2; i < words.size(); ++i) {  // words[0] = "-A", words[1] = the chain
    const std::string& w = words[i].text;
    if (w == "!" && !words[i].quoted) {
      negate_next = true;
      continue;
    }
    bool negate = negate_next;
    negate_next = false;
    if (w.empty() || w[0] != '-' || words[i].quoted) continue;  // a value of an option we skip
    // The option's value; the old syntax "-s ! ADDR" puts the negation after the option.
    auto value = [&]() -> Result<std::string> {
      if (i + 1 < words.size() && words[i + 1].text == "!" && !words[i + 1].quoted) {
        negate = !negate;
        ++i;
      }
      if (i + 1 >= words.size()) return Error("option " + w + " needs a value");
      return words[++i].text;
    };
    if (after_target) {
      // Target options: only DNAT's destination matters.
      if (w == "--to-destination" || w == "--to") {
        auto v = value();
        if (!v.ok()) return v.error();
        rule.dnat_to = *v;
      }
      continue;
    }
    if (w == "-j" || w == "--jump" || w == "-g" || w == "--goto") {
      auto v = value();
      if (!v.ok()) return v.error();
      rule.target = *v;
      rule.is_goto = w == "-g" || w == "--goto";
      after_target = true;
    } else if (w == "-m" || w == "--match") {
      auto v = value();
      if (!v.ok()) return v.error();
    } else if (w == "--comment") {
      auto v = value();
      if (!v.ok()) return v.error();
      rule.comment = *v;
      if (!words[i].quoted) {
        // An unquoted comment runs until the next option.
        while (i + 1 < words.size() && !words[i + 1].quoted && !words[i + 1].text.empty() &&
               words[i + 1].text[0] != '-' && words[i + 1].text != "!") {
          rule.comment += " " + words[++i].text;
        }
      }
    } else if (w == "-s" || w == "--source" || w == "--src" || w == "-d" || w == "--destination" || w == "--dst") {
      auto v = value();
      if (!v.ok()) return v.error();
      auto cond = parseAddresses(*v, negate);
      if (!cond.ok()) return cond.error();
      if (w == "-s" || w == "--source" || w == "--src") {
        rule.source = *cond;
      } else {
        rule.destination = *cond;
      }
    } else if (w == "--src-type" || w == "--dst-type") {
      auto v = value();
      if (!v.ok()) return v.error();
      (w == "--src-type" ? rule.source_type : rule.destination_type) = TypeCondition{.negate = negate, .local = listHas(*v, "LOCAL")};
    } else if (w == "-p" || w == "--protocol") {
      auto v = value();
      if (!v.ok()) return v.error();
      rule.protocol = std::make_pair(negate, protocolName(*v));
    } else if (w == "--dport" || w == "--destination-port" || w == "--dports" || w == "--destination-ports") {
      auto v = value();
      if (!v.ok()) return v.error();
      auto cond = parsePorts(*v, negate);
      if (!cond.ok()) return cond.error();
      rule.destination_ports.push_back(*cond);
    } else if (w == "-i" || w == "--in-interface") {
      auto v = value();
      if (!v.ok()) return v.error();
      rule.in_interface = InterfaceCondition{.negate = negate, .name = *v};
    } else if (w == "-o" || w == "--out-interface") {
      auto v = value();
      if (!v.ok()) return v.error();
      rule.has_out_interface = true;
    } else if (w == "--rcheck" || w == "--update") {
      rule.checks_history = true;
    } else if (w == "--mark" || w == "--ctstate" || w == "--state") {
      auto v = value();
      if (!v.ok()) return v.error();
      rule.checks_history = true;
    } else if (w == "--probability") {
      auto v = value();
      if (!v.ok()) return v.error();
      char* end = nullptr;
      double p = std::strtod(v->c_str(), &end);
      if (v->empty() || end != v->c_str() + v->size() || !(p >= 0.0 && p <= 1.0)) {
        return Error("bad probability \"" + *v + "\"");
      }
      rule.probability = p;
    } else if (w == "--every") {
      auto v = value();
      if (!v.ok()) return v.error();
      auto n = parsePort(*v);
      if (!n.ok() || *n == 0) return Error("bad --every \"" + *v + "\"");
      rule.probability = 1.0 / *n;
    }
    // Anything else is ignored, as upstream's tracer ignores it.
  }
  return rule;
}

}  // namespace

struct PacketTracer::Impl {
  CompiledTable nat{.name = "nat", .chains = {}};
  CompiledTable filter{.name = "filter", .chains = {}};
  std::set<IpAddress> local;
  bool implied_prerouting = false;

  const CompiledTable& table(std::string_view name) const { return name == "nat" ? nat : filter; }
  bool isLocal(const IpAddress& ip) const { return local.count(ip) != 0; }

  bool matches(const CompiledRule& rule, const TracePacket& packet, const IpAddress& destination) const {
    if (rule.source && !addressMatches(*rule.source, packet.source)) return false;
    if (rule.source_type && (rule.source_type->local && isLocal(packet.source)) == rule.source_type->negate) return false;
    if (rule.protocol && rule.protocol->second != "all" && (rule.protocol->second == packet.protocol) == rule.protocol->first) {
      return false;
    }
    if (rule.destination && !addressMatches(*rule.destination, destination)) return false;
    if (rule.destination_type &&
        (rule.destination_type->local && isLocal(destination)) == rule.destination_type->negate) {
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
    if (rule.has_out_interface) return false;
    // A new connection has no history: affinity, mark and conntrack-state checks never match.
    if (rule.checks_history) return false;
    return true;
  }
};

namespace {

struct Run {
  const PacketTracer::Impl& impl;
  const TracePacket& packet;
  IpAddress destination;
  TraceResult& result;

  size_t rules_examined = 0;

  // Returns true when the chain ended the packet (an output was produced), and when the trace
  // ran out of budget (then every caller returns at once).
  bool runChain(const CompiledTable& table, std::string_view chain_name, int depth, std::optional<size_t> parent,
                double reach) {
    if (result.limit_reached) return true;
    const CompiledChain* chain = table.find(chain_name);
    if (chain == nullptr || depth > kMaxDepth) return false;
    if (result.visits.size() >= tracing::kMaxChainEntries) {
      result.limit_reached = true;
      return true;
    }
    const size_t visit = result.visits.size();
    result.visits.push_back(TraceVisit{
        .table = table.name, .chain = chain->name, .depth = depth, .parent = parent, .matches = {}});
    for (const auto& rule : chain->rules) {
      if (++rules_examined > tracing::kMaxRulesExamined) {
        result.limit_reached = true;
        return true;
      }
      if (rule.target.empty()) continue;
      if (!impl.matches(rule, packet, destination)) continue;
      TraceMatch m{.table = table.name,
                   .chain = chain->name,
                   .rule = rule.raw,
                   .comment = rule.comment,
                   .target = rule.target,
                   .dnat_to = rule.dnat_to,
                   .probability = rule.probability,
                   .implied = rule.implied};
      result.visits[visit].matches.push_back(m);
      if (rule.target == kMarkMasq) {
        result.masquerade = true;
        result.masquerade_rules.push_back(std::move(m));
        continue;
      }
      if (rule.target == "ACCEPT" || rule.target == "REJECT" || rule.target == "DROP") {
        result.outputs.push_back(TraceOutput{.value = rule.target, .is_endpoint = false, .probability = reach});
        return true;
      }
      if (rule.target == "DNAT") {
        result.outputs.push_back(TraceOutput{.value = rule.dnat_to, .is_endpoint = true, .probability = reach});
        return true;
      }
      if (rule.target == "RETURN") return false;
      if (table.find(rule.target) == nullptr) continue;  // MARK, MASQUERADE, LOG, ...: no effect here
      const double branch = rule.probability ? reach * *rule.probability : reach;
      const bool ended = runChain(table, rule.target, depth + 1, visit, branch);
      if (result.limit_reached) return true;
      if (rule.is_goto) return ended;
      if (ended) {
        if (!rule.probability) return true;
        reach *= 1.0 - *rule.probability;
      }
    }
    return false;
  }
};

// The first loop of jumps (-j / -g to a chain of the same table) in `table`, as
// "A -> B -> A", or "" when there is none. iptables refuses to load such rules (ELOOP), so only a
// hand-made text can hold one; tracing it would never end. Iterative, for states with many chains.
std::string findJumpLoop(const CompiledTable& table) {
  enum class Mark : uint8_t { kNew, kOnPath, kDone };
  std::map<std::string_view, Mark> marks;
  for (const auto& [name, chain] : table.chains) marks.emplace(name, Mark::kNew);
  struct Frame {
    const CompiledChain* chain;
    size_t next_rule;
  };
  for (const auto& [start_name, start] : table.chains) {
    if (marks[start_name] != Mark::kNew) continue;
    std::vector<Frame> path{{&start, 0}};
    marks[start_name] = Mark::kOnPath;
    while (!path.empty()) {
      Frame& frame = path.back();
      if (frame.next_rule == frame.chain->rules.size()) {
        marks[frame.chain->name] = Mark::kDone;
        path.pop_back();
        continue;
      }
      const CompiledRule& rule = frame.chain->rules[frame.next_rule++];
      const CompiledChain* to = rule.target.empty() ? nullptr : table.find(rule.target);
      if (to == nullptr) continue;
      Mark& mark = marks[to->name];
      if (mark == Mark::kOnPath) {
        std::string loop;
        bool in_loop = false;
        for (const Frame& f : path) {
          in_loop = in_loop || f.chain == to;
          if (in_loop) loop += f.chain->name + " -> ";
        }
        return loop + to->name;
      }
      if (mark == Mark::kDone) continue;
      mark = Mark::kOnPath;
      path.push_back({to, 0});
    }
  }
  return "";
}

}  // namespace

PacketTracer::PacketTracer() : impl_(std::make_unique<Impl>()) {}
PacketTracer::~PacketTracer() = default;
PacketTracer::PacketTracer(PacketTracer&&) noexcept = default;
PacketTracer& PacketTracer::operator=(PacketTracer&&) noexcept = default;

Result<PacketTracer> PacketTracer::create(const restore::RestoreText& state, const std::vector<IpAddress>& local_addresses) {
  PacketTracer tracer;
  Impl& impl = *tracer.impl_;
  for (const char* table_name : {"nat", "filter"}) {
    const restore::Table* table = state.find(table_name);
    if (table == nullptr) continue;
    CompiledTable& compiled = std::string_view(table_name) == "nat" ? impl.nat : impl.filter;
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
  // upstream's test state: kube-proxy's jump from PREROUTING, inserted first.
  CompiledChain& prerouting = impl.nat.chains[std::string(kPreroutingChain)];
  prerouting.name = kPreroutingChain;
  const bool has_jump = std::any_of(prerouting.rules.begin(), prerouting.rules.end(),
                                    [](const CompiledRule& r) { return r.target == kServicesChainName; });
  if (!has_jump) {
    auto implied = compileRule(kImpliedPreroutingRule);
    implied->implied = true;
    prerouting.rules.insert(prerouting.rules.begin(), std::move(*implied));
    impl.implied_prerouting = true;
  }
  for (const CompiledTable* table : {&impl.nat, &impl.filter}) {
    if (auto loop = findJumpLoop(*table); !loop.empty()) {
      return Error(table->name + ": the rules jump in a loop (" + loop + "); iptables refuses such rules");
    }
  }
  impl.local.insert(*IpAddress::parse("127.0.0.1"));
  impl.local.insert(*IpAddress::parse("::1"));
  impl.local.insert(local_addresses.begin(), local_addresses.end());
  return tracer;
}

TraceResult PacketTracer::trace(const TracePacket& packet) const {
  TraceResult result;
  result.implied_prerouting_jump = impl_->implied_prerouting;
  Run run{.impl = *impl_, .packet = packet, .destination = packet.destination, .result = result};
  run.runChain(impl_->nat, kPreroutingChain, 0, std::nullopt, 1.0);
  // The pending DNAT changes the destination address the filter rules see (not the port, as in
  // upstream's tracer).
  if (!result.outputs.empty()) {
    auto host = hostOfEndpoint(result.outputs.front().value);
    if (host.ok()) run.destination = *host;
  }
  result.filter_destination = run.destination;
  for (std::string_view chain : {"KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"}) {
    run.runChain(impl_->filter, chain, 0, std::nullopt, 1.0);
  }
  return result;
}

void restoreNoFlush(restore::RestoreText& kernel, const restore::RestoreText& payload) {
  for (const auto& table : payload.tables) {
    restore::Table* target = kernel.find(table.name);
    if (target == nullptr) {
      kernel.tables.push_back(restore::Table{table.name, {}});
      target = &kernel.tables.back();
    }
    for (const auto& chain : table.chains) {
      auto it = std::find_if(target->chains.begin(), target->chains.end(),
                             [&](const restore::Chain& c) { return c.name == chain.name; });
      if (chain.deleted) {
        if (it != target->chains.end()) target->chains.erase(it);
        continue;
      }
      if (it == target->chains.end()) {
        target->chains.push_back(chain);
      } else {
        *it = chain;
      }
    }
  }
}


}  // namespace kproxy::iptables
