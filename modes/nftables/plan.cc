#include "modes/nftables/plan.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "modes/nftables/chain_names.h"

namespace kproxy::nftables {
namespace {

std::string_view familyName(IpFamily family) { return family == IpFamily::kIPv4 ? "ip" : "ip6"; }

void appendDecimal(std::string& out, long long value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, static_cast<size_t>(end - buf));
}

// Go's "%#08x" of a mark, as upstream formats masqueradeMark.
void appendMark(std::string& out, uint32_t mark) {
  char buf[16];
  int n = std::snprintf(buf, sizeof(buf), "0x%08x", mark);
  out.append(buf, static_cast<size_t>(n));
}

void appendField(std::string& out, IpFamily family, Field field) {
  switch (field) {
    case Field::kSaddr:
      out.append(familyName(family)).append(" saddr");
      return;
    case Field::kDaddr:
      out.append(familyName(family)).append(" daddr");
      return;
    case Field::kL4Proto:
      out.append("meta l4proto");
      return;
    case Field::kDport:
      out.append("th dport");
      return;
  }
}

void appendKeyFields(std::string& out, IpFamily family, const std::vector<Field>& key) {
  for (size_t i = 0; i < key.size(); ++i) {
    if (i != 0) out.append(" . ");
    appendField(out, family, key[i]);
  }
}

void appendAddressValue(std::string& out, const AddressValue& value) {
  if (value.bare) {
    value.cidr.address().appendTo(out);
  } else {
    out.append(value.cidr.toString());
  }
}

void appendHostPort(std::string& out, const DnatTarget& target) {
  if (target.ip.isV6()) {
    out.push_back('[');
    target.ip.appendTo(out);
    out.push_back(']');
  } else {
    target.ip.appendTo(out);
  }
  out.push_back(':');
  appendDecimal(out, target.port);
}

void appendVerdict(std::string& out, const Verdict& v) {
  switch (v.kind) {
    case Verdict::Kind::kJump:
      out.append("jump ");
      appendName(out, v.chain);
      return;
    case Verdict::Kind::kGoto:
      out.append("goto ");
      appendName(out, v.chain);
      return;
    case Verdict::Kind::kDrop:
      out.append("drop");
      return;
    case Verdict::Kind::kReject:
      out.append("reject");
      return;
    case Verdict::Kind::kReturn:
      out.append("return");
      return;
    case Verdict::Kind::kAccept:
      out.append("accept");
      return;
  }
}

void appendKey(std::string& out, const ElementKey& key) {
  bool first = true;
  auto sep = [&] {
    if (!first) out.append(" . ");
    first = false;
  };
  if (key.address) {
    sep();
    key.address->appendTo(out);
  }
  if (key.address2) {
    sep();
    key.address2->appendTo(out);
  }
  if (key.protocol) {
    sep();
    out.append(api::protocolLowerName(*key.protocol));
  }
  if (key.port) {
    sep();
    appendDecimal(out, *key.port);
  }
}

void appendPrefix(std::string& out, std::string_view verb, std::string_view object, IpFamily family) {
  out.append(verb).push_back(' ');
  out.append(object).push_back(' ');
  out.append(familyName(family)).push_back(' ');
  out.append(kTableName);
}

void appendTableLine(std::string& out, IpFamily family, std::string_view comment) {
  appendPrefix(out, "add", "table", family);
  out.append(" { comment ");
  appendComment(out, comment);
  out.append(" ; }\n");
}

void appendChainLine(std::string& out, IpFamily family, std::string_view name, const std::optional<BaseChainSpec>& base,
                     std::string_view comment) {
  appendPrefix(out, "add", "chain", family);
  out.push_back(' ');
  appendName(out, name);
  if (base || !comment.empty()) {
    out.append(" {");
    if (base) {
      out.append(" type ").append(base->type).append(" hook ").append(base->hook).append(" priority ");
      appendDecimal(out, base->priority);
      out.append(" ;");
    }
    if (!comment.empty()) {
      out.append(" comment ");
      appendComment(out, comment);
      out.append(" ;");
    }
    out.append(" }");
  }
  out.push_back('\n');
}

void appendSetLine(std::string& out, IpFamily family, std::string_view name, bool is_map, std::string_view type,
                   const std::vector<std::string_view>& flags, const std::optional<int64_t>& timeout,
                   std::string_view comment) {
  appendPrefix(out, "add", is_map ? "map" : "set", family);
  out.push_back(' ');
  appendName(out, name);
  out.append(" { type ").append(type).append(" ;");
  if (!flags.empty()) {
    out.append(" flags ");
    for (size_t i = 0; i < flags.size(); ++i) {
      if (i != 0) out.push_back(',');
      out.append(flags[i]);
    }
    out.append(" ;");
  }
  if (timeout) {
    out.append(" timeout ");
    appendDecimal(out, *timeout);
    out.append("s ;");
  }
  if (!comment.empty()) {
    out.append(" comment ");
    appendComment(out, comment);
    out.append(" ;");
  }
  out.append(" }\n");
}

void appendRuleBody(std::string& out, IpFamily family, const Rule& rule) {
  for (size_t i = 0; i < rule.statements.size(); ++i) {
    if (i != 0) out.push_back(' ');
    appendStatement(out, family, rule.statements[i]);
  }
  if (!rule.comment.empty()) {
    out.append(" comment ");
    appendComment(out, rule.comment);
  }
}

void appendRuleLine(std::string& out, IpFamily family, std::string_view chain, const Rule& rule) {
  appendPrefix(out, "add", "rule", family);
  out.push_back(' ');
  appendName(out, chain);
  out.push_back(' ');
  appendRuleBody(out, family, rule);
  out.push_back('\n');
}

void appendElementLine(std::string& out, IpFamily family, std::string_view verb, std::string_view set,
                       const ElementKey& key, const Element* element) {
  appendPrefix(out, verb, "element", family);
  out.push_back(' ');
  appendName(out, set);
  out.append(" { ");
  appendKey(out, key);
  if (element != nullptr) {
    if (!element->comment.empty()) {
      out.append(" comment ");
      appendComment(out, element->comment);
    }
    if (element->value) {
      out.append(" : ");
      appendVerdict(out, *element->value);
    }
  }
  out.append(" }\n");
}

void appendNamedLine(std::string& out, IpFamily family, std::string_view verb, std::string_view object,
                     std::string_view name) {
  appendPrefix(out, verb, object, family);
  out.push_back(' ');
  appendName(out, name);
  out.push_back('\n');
}

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

// --- Text primitives

void appendQuoted(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    const bool safe = u >= 0x20 && u < 0x7f && c != '"' && c != '\\';
    out.push_back(safe ? c : '_');
  }
  out.push_back('"');
}

std::string quoteString(std::string_view text) {
  std::string out;
  appendQuoted(out, text);
  return out;
}

std::string_view truncateComment(std::string_view comment) { return comment.substr(0, kCommentLengthMax); }

void appendComment(std::string& out, std::string_view comment) { appendQuoted(out, truncateComment(comment)); }

void appendName(std::string& out, std::string_view name) {
  auto ok = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '/' || c == '-';
  };
  if (std::all_of(name.begin(), name.end(), ok)) {  // always, for names the planner makes
    out.append(name);
    return;
  }
  for (char c : name) out.push_back(ok(c) ? c : '_');
}

void appendStatement(std::string& out, IpFamily family, const Statement& statement) {
  std::visit(Overloaded{
                 [&](const CtStateNew&) { out.append("ct state new"); },
                 [&](const CtStatusDnat&) { out.append("ct status dnat"); },
                 [&](const MatchAddress& m) {
                   appendField(out, family, m.field);
                   out.append(m.negate ? " != " : " ");
                   if (m.style == ListStyle::kSingle && m.values.size() == 1) {
                     appendAddressValue(out, m.values.front());
                     return;
                   }
                   out.append("{ ");
                   for (size_t i = 0; i < m.values.size(); ++i) {
                     if (i != 0) out.append(m.style == ListStyle::kSpaced ? " , " : ",");
                     appendAddressValue(out, m.values[i]);
                   }
                   out.append(" }");
                 },
                 [&](const MatchSet& m) {
                   appendKeyFields(out, family, m.key);
                   out.append(" @");
                   appendName(out, m.set);
                 },
                 [&](const MatchFibLocal& m) {
                   out.append(m.field == Field::kSaddr ? "fib saddr type local" : "fib daddr type local");
                 },
                 [&](const MatchInterface& m) {
                   out.append(m.negate ? "iifname != " : "iifname ");
                   appendQuoted(out, m.name);
                 },
                 [&](const MatchL4Proto& m) { out.append("meta l4proto ").append(api::protocolLowerName(m.protocol)); },
                 [&](const MatchMark& m) {
                   out.append("mark and ");
                   appendMark(out, m.mask);
                   out.append(" != 0");
                 },
                 [&](const SetMarkOr& m) {
                   out.append("mark set mark or ");
                   appendMark(out, m.bits);
                 },
                 [&](const SetMarkXor& m) {
                   out.append("mark set mark xor ");
                   appendMark(out, m.bits);
                 },
                 [&](const VmapLookup& m) {
                   appendKeyFields(out, family, m.key);
                   out.append(" vmap @");
                   appendName(out, m.map);
                 },
                 [&](const NumgenDnat& m) {
                   out.append("dnat ").append(familyName(family)).append(" addr . port to numgen random mod ");
                   appendDecimal(out, static_cast<long long>(m.targets.size()));
                   out.append(" map { ");
                   for (size_t i = 0; i < m.targets.size(); ++i) {
                     if (i != 0) out.append(" , ");
                     appendDecimal(out, static_cast<long long>(i));
                     out.append(" : ");
                     m.targets[i].ip.appendTo(out);
                     out.append(" . ");
                     appendDecimal(out, m.targets[i].port);
                   }
                   out.append(" }");
                 },
                 [&](const NumgenVmap& m) {
                   out.append("numgen random mod ");
                   appendDecimal(out, static_cast<long long>(m.chains.size()));
                   out.append(" vmap { ");
                   for (size_t i = 0; i < m.chains.size(); ++i) {
                     if (i != 0) out.append(" , ");
                     appendDecimal(out, static_cast<long long>(i));
                     out.append(" : goto ");
                     appendName(out, m.chains[i]);
                   }
                   out.append(" }");
                 },
                 [&](const UpdateSet& m) {
                   out.append("update @");
                   appendName(out, m.set);
                   out.append(" { ");
                   appendField(out, family, m.field);
                   out.append(" }");
                 },
                 [&](const Dnat& m) {
                   out.append("dnat to ");
                   appendHostPort(out, m.target);
                 },
                 [&](const Masquerade&) { out.append("masquerade fully-random"); },
                 [&](const Verdict& v) { appendVerdict(out, v); },
             },
             statement);
}

std::string ruleText(IpFamily family, const Rule& rule) {
  std::string out;
  appendRuleBody(out, family, rule);
  return out;
}

std::string keyText(const ElementKey& key) {
  std::string out;
  appendKey(out, key);
  return out;
}

std::string verdictText(const Verdict& verdict) {
  std::string out;
  appendVerdict(out, verdict);
  return out;
}

// --- Element keys

namespace {

// Addresses compare as (family, bytes): one memcmp instead of sixteen byte comparisons.
std::strong_ordering compareAddress(const std::optional<IpAddress>& a, const std::optional<IpAddress>& b) {
  if (a.has_value() != b.has_value()) return a.has_value() ? std::strong_ordering::greater : std::strong_ordering::less;
  if (!a) return std::strong_ordering::equal;
  if (a->family() != b->family()) return a->family() <=> b->family();
  const int c = std::memcmp(a->bytes(), b->bytes(), static_cast<size_t>(a->byteLength()));
  return c < 0 ? std::strong_ordering::less : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
}

}  // namespace

std::strong_ordering ElementKey::operator<=>(const ElementKey& other) const {
  if (auto c = compareAddress(address, other.address); c != 0) return c;
  if (auto c = compareAddress(address2, other.address2); c != 0) return c;
  if (auto c = protocol <=> other.protocol; c != 0) return c;
  return port <=> other.port;
}

size_t ElementKeyHash::operator()(const ElementKey& key) const {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  auto mix = [&](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  };
  for (const auto* a : {&key.address, &key.address2}) {
    if (*a) mix((*a)->bytes(), static_cast<size_t>((*a)->byteLength()));
  }
  const uint8_t tail[4] = {static_cast<uint8_t>(key.protocol ? 1 + static_cast<int>(*key.protocol) : 0),
                           static_cast<uint8_t>(key.port ? 1 : 0), static_cast<uint8_t>(key.port.value_or(0) >> 8),
                           static_cast<uint8_t>(key.port.value_or(0) & 0xff)};
  mix(tail, sizeof(tail));
  return static_cast<size_t>(h);
}

// --- Ruleset

const Chain* Ruleset::findChain(std::string_view name) const {
  auto it = std::lower_bound(chains.begin(), chains.end(), name,
                             [](const Chain& c, std::string_view n) { return c.name < n; });
  if (it != chains.end() && it->name == name) return &*it;
  for (const auto& c : chains) {  // not normalized yet
    if (c.name == name) return &c;
  }
  return nullptr;
}

const Set* Ruleset::findSet(std::string_view name) const {
  for (const auto& s : sets) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

void Ruleset::normalize() {
  std::sort(chains.begin(), chains.end(), [](const Chain& a, const Chain& b) { return a.name < b.name; });
  std::sort(sets.begin(), sets.end(), [](const Set& a, const Set& b) { return a.name < b.name; });
  for (auto& s : sets) {
    std::stable_sort(s.elements.begin(), s.elements.end(),
                     [](const Element& a, const Element& b) { return a.key < b.key; });
    s.elements.erase(std::unique(s.elements.begin(), s.elements.end(),
                                 [](const Element& a, const Element& b) { return a.key == b.key; }),
                     s.elements.end());
  }
}

void Ruleset::dumpTo(std::string& out) const {
  appendTableLine(out, family, comment);
  for (const auto& c : chains) appendChainLine(out, family, c.name, c.base, c.comment);
  for (bool maps : {false, true}) {
    for (const auto& s : sets) {
      if (s.is_map == maps) appendSetLine(out, family, s.name, s.is_map, s.type, s.flags, s.timeout_seconds, s.comment);
    }
  }
  for (const auto& c : chains) {
    for (const auto& r : c.rules) appendRuleLine(out, family, c.name, r);
  }
  for (bool maps : {false, true}) {
    for (const auto& s : sets) {
      if (s.is_map != maps) continue;
      for (const auto& e : s.elements) appendElementLine(out, family, "add", s.name, e.key, &e);
    }
  }
}

std::string Ruleset::dump() const {
  std::string out;
  out.reserve(256 + ruleCount() * 120 + elementCount() * 90);
  dumpTo(out);
  return out;
}

size_t Ruleset::ruleCount() const {
  size_t n = 0;
  for (const auto& c : chains) n += c.rules.size();
  return n;
}

size_t Ruleset::elementCount() const {
  size_t n = 0;
  for (const auto& s : sets) n += s.elements.size();
  return n;
}

// --- Transaction

void Transaction::textTo(std::string& out) const {
  for (const auto& op : operations) {
    std::visit(Overloaded{
                   [&](const AddTable& o) { appendTableLine(out, family, o.comment); },
                   [&](const AddChain& o) { appendChainLine(out, family, o.name, o.base, o.comment); },
                   [&](const FlushChain& o) { appendNamedLine(out, family, "flush", "chain", o.name); },
                   [&](const DeleteChain& o) { appendNamedLine(out, family, "delete", "chain", o.name); },
                   [&](const AddSet& o) {
                     appendSetLine(out, family, o.name, o.is_map, o.type, o.flags, o.timeout_seconds, o.comment);
                   },
                   [&](const FlushSet& o) { appendNamedLine(out, family, "flush", o.is_map ? "map" : "set", o.name); },
                   [&](const DeleteSet& o) { appendNamedLine(out, family, "delete", o.is_map ? "map" : "set", o.name); },
                   [&](const AddRule& o) { appendRuleLine(out, family, o.chain, o.rule); },
                   [&](const AddElement& o) { appendElementLine(out, family, "add", o.set, o.element.key, &o.element); },
                   [&](const DeleteElement& o) { appendElementLine(out, family, "delete", o.set, o.key, nullptr); },
               },
               op);
  }
}

std::string Transaction::text() const {
  std::string out;
  textTo(out);
  return out;
}

namespace {

// The chains and sets a rule or element refers to (jump/goto targets, @set lookups).
void collectReferences(const Rule& rule, std::vector<std::string_view>& chains, std::vector<std::string_view>& sets) {
  for (const auto& st : rule.statements) {
    std::visit(Overloaded{
                   [&](const Verdict& v) {
                     if (!v.chain.empty()) chains.push_back(v.chain);
                   },
                   [&](const NumgenVmap& m) {
                     for (const auto& c : m.chains) chains.push_back(c);
                   },
                   [&](const MatchSet& m) { sets.push_back(m.set); },
                   [&](const VmapLookup& m) { sets.push_back(m.map); },
                   [&](const UpdateSet& m) { sets.push_back(m.set); },
                   [&](const auto&) {},
               },
               st);
  }
}

}  // namespace

Result<Ruleset> applyTransaction(const Ruleset& before, const Transaction& transaction) {
  std::map<std::string, Chain, std::less<>> chains;
  std::map<std::string, Set, std::less<>> sets;
  std::map<std::string, std::map<ElementKey, Element>, std::less<>> elements;
  for (const auto& c : before.chains) chains.emplace(c.name, c);
  for (const auto& s : before.sets) {
    Set copy = s;
    auto& by_key = elements[s.name];
    for (auto& e : copy.elements) by_key.emplace(e.key, std::move(e));
    copy.elements.clear();
    sets.emplace(s.name, std::move(copy));
  }
  std::string table_comment = before.comment;
  std::string failure;
  size_t index = 0;
  auto fail = [&](const std::string& why) {
    if (failure.empty()) {
      std::string line;
      Transaction one{transaction.family, {transaction.operations[index]}};
      one.textTo(line);
      if (!line.empty() && line.back() == '\n') line.pop_back();
      failure = "operation " + std::to_string(index + 1) + " (" + line + "): " + why;
    }
  };
  // Whether anything still refers to `name` (a chain: jumps, gotos, map values; a set: lookups).
  auto chainInUse = [&](std::string_view name) {
    std::vector<std::string_view> cs, ss;
    for (const auto& [n, c] : chains) {
      for (const auto& r : c.rules) collectReferences(r, cs, ss);
    }
    if (std::find(cs.begin(), cs.end(), name) != cs.end()) return true;
    for (const auto& [n, by_key] : elements) {
      for (const auto& [k, e] : by_key) {
        if (e.value && e.value->chain == name) return true;
      }
    }
    return false;
  };
  auto setInUse = [&](std::string_view name) {
    std::vector<std::string_view> cs, ss;
    for (const auto& [n, c] : chains) {
      for (const auto& r : c.rules) collectReferences(r, cs, ss);
    }
    return std::find(ss.begin(), ss.end(), name) != ss.end();
  };

  for (index = 0; index < transaction.operations.size() && failure.empty(); ++index) {
    std::visit(Overloaded{
                   [&](const AddTable& o) { table_comment = o.comment; },
                   [&](const AddChain& o) {
                     if (chains.count(o.name) == 0) {
                       chains.emplace(o.name, Chain{.name = o.name, .base = o.base, .comment = o.comment, .rules = {}});
                     }
                   },
                   [&](const FlushChain& o) {
                     auto it = chains.find(o.name);
                     if (it == chains.end()) return fail("no such chain");
                     it->second.rules.clear();
                   },
                   [&](const DeleteChain& o) {
                     auto it = chains.find(o.name);
                     if (it == chains.end()) return fail("no such chain");
                     if (chainInUse(o.name)) return fail("chain is in use (EBUSY)");
                     chains.erase(it);
                   },
                   [&](const AddSet& o) {
                     if (sets.count(o.name) == 0) {
                       sets.emplace(o.name, Set{.name = o.name,
                                                .is_map = o.is_map,
                                                .type = o.type,
                                                .flags = o.flags,
                                                .timeout_seconds = o.timeout_seconds,
                                                .comment = o.comment,
                                                .elements = {}});
                     }
                   },
                   [&](const FlushSet& o) {
                     if (sets.count(o.name) == 0) return fail("no such set");
                     elements[o.name].clear();
                   },
                   [&](const DeleteSet& o) {
                     auto it = sets.find(o.name);
                     if (it == sets.end()) return fail("no such set");
                     if (setInUse(o.name)) return fail("set is in use (EBUSY)");
                     sets.erase(it);
                     elements.erase(o.name);
                   },
                   [&](const AddRule& o) {
                     auto it = chains.find(o.chain);
                     if (it == chains.end()) return fail("no such chain");
                     std::vector<std::string_view> cs, ss;
                     collectReferences(o.rule, cs, ss);
                     for (auto c : cs) {
                       if (chains.count(c) == 0) return fail("no such chain: " + std::string(c));
                     }
                     for (auto s : ss) {
                       if (sets.count(s) == 0) return fail("no such set: " + std::string(s));
                     }
                     it->second.rules.push_back(o.rule);
                   },
                   [&](const AddElement& o) {
                     if (sets.count(o.set) == 0) return fail("no such set");
                     if (o.element.value && !o.element.value->chain.empty() && chains.count(o.element.value->chain) == 0) {
                       return fail("no such chain: " + o.element.value->chain);
                     }
                     auto& by_key = elements[o.set];
                     auto it = by_key.find(o.element.key);
                     if (it != by_key.end()) {
                       if (it->second.value != o.element.value) return fail("element exists with another value (EEXIST)");
                       return;
                     }
                     by_key.emplace(o.element.key, o.element);
                   },
                   [&](const DeleteElement& o) {
                     auto& by_key = elements[o.set];
                     if (sets.count(o.set) == 0 || by_key.erase(o.key) == 0) return fail("no such element");
                   },
               },
               transaction.operations[index]);
  }
  if (!failure.empty()) return Error(failure);

  Ruleset after;
  after.family = before.family;
  after.comment = table_comment;
  for (auto& [name, c] : chains) after.chains.push_back(std::move(c));
  for (auto& [name, s] : sets) {
    for (auto& [k, e] : elements[name]) s.elements.push_back(std::move(e));
    after.sets.push_back(std::move(s));
  }
  after.normalize();
  return after;
}

}  // namespace kproxy::nftables
