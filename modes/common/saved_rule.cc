#include "modes/common/saved_rule.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fmt/format.h>
#include <optional>
#include <vector>

#include "modes/common/restore_text.h"

namespace kproxy::restore {
namespace {

struct Option {
  bool negated = false;
  std::string name;
  std::vector<std::string> args;
};

// A match ("-m NAME") or the target ("-j NAME"), with its options in the order written.
struct Extension {
  std::string name;
  std::vector<Option> options;
};

// The fields of the IP header part, in the order iptables-save prints them.
constexpr std::string_view kHeaderFlags[] = {"-s", "-d", "-i", "-o", "-p", "-f"};

std::string_view headerFlag(std::string_view word) {
  if (word == "-s" || word == "--source" || word == "--src") return "-s";
  if (word == "-d" || word == "--destination" || word == "--dst") return "-d";
  if (word == "-i" || word == "--in-interface") return "-i";
  if (word == "-o" || word == "--out-interface") return "-o";
  if (word == "-p" || word == "--protocol") return "-p";
  if (word == "-f" || word == "--fragment") return "-f";
  return "";
}

// How many words follow `option` of extension `ext`; -1 when unknown (then: every following word
// that is not an option or "!").
int arity(std::string_view ext, std::string_view option) {
  if (ext == "recent") {
    for (std::string_view flag : {"--set", "--rcheck", "--update", "--remove", "--rsource", "--rdest", "--reap", "--rttl"})
      if (option == flag) return 0;
    return 1;
  }
  if (ext == "set") {
    if (option == "--match-set" || option == "--set") return 2;
    if (option == "--return-nomatch" || option == "--update-counters" || option == "--update-subcounters") return 0;
    return 1;
  }
  for (std::string_view flag : {"--random", "--random-fully", "--persistent", "--physdev-is-in", "--physdev-is-out",
                                "--physdev-is-bridged", "--limit-iface-in", "--limit-iface-out", "--syn"})
    if (option == flag) return 0;
  if (option == "--tcp-flags") return 2;
  for (std::string_view flag : {"--comment", "--mark", "--ctstate", "--ctstatus", "--dport", "--sport", "--dst-type",
                                "--src-type", "--to-destination", "--to-source", "--to-ports", "--probability", "--mode",
                                "--nfacct-name", "--reject-with", "--set-xmark", "--set-mark", "--or-mark", "--xor-mark",
                                "--and-mark", "--vaddr", "--vport", "--vproto", "--physdev-in", "--physdev-out"})
    if (option == flag) return 1;
  return -1;
}

std::string canonicalOptionName(std::string_view ext, std::string_view option) {
  if (option == "--destination-port") return "--dport";
  if (option == "--source-port") return "--sport";
  if (ext == "set" && option == "--set") return "--match-set";
  return std::string(option);
}

// "10.0.0.1" -> "10.0.0.1/32", "fd00::0001" -> "fd00::1/128", "10.0.0.0/255.0.0.0" -> "10.0.0.0/8".
Result<std::string> canonicalAddress(std::string_view text) {
  const size_t slash = text.find('/');
  auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip.ok()) return Error(fmt::format("\"{}\" is not an address", text));
  const int bits = ip->isV4() ? 32 : 128;
  int prefix = bits;
  if (slash != std::string_view::npos) {
    std::string_view mask = text.substr(slash + 1);
    if (auto dotted = IpAddress::parse(mask); dotted.ok()) {
      // A netmask: count its leading ones (iptables prints contiguous masks as a length).
      prefix = 0;
      const uint8_t* bytes = dotted->bytes();
      for (size_t i = 0; i < static_cast<size_t>(dotted->byteLength()); ++i) {
        for (int b = 7; b >= 0 && (bytes[i] >> b & 1); --b) ++prefix;
        if (bytes[i] != 0xff) break;
      }
    } else {
      char* end = nullptr;
      const std::string m(mask);
      const long n = std::strtol(m.c_str(), &end, 10);
      if (m.empty() || *end != '\0' || n < 0 || n > bits) return Error(fmt::format("\"{}\" has a bad prefix", text));
      prefix = static_cast<int>(n);
    }
  }
  return Cidr(*ip, prefix).toString();
}

std::string canonicalProtocol(std::string_view text) {
  std::string p(text);
  std::transform(p.begin(), p.end(), p.begin(), [](unsigned char c) { return std::tolower(c); });
  if (p == "6") return "tcp";
  if (p == "17") return "udp";
  if (p == "132") return "sctp";
  if (p == "1") return "icmp";
  if (p == "58" || p == "icmpv6") return "ipv6-icmp";
  return p;
}

std::optional<uint32_t> parseU32(std::string_view text) {
  const std::string s(text);
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 0);
  if (s.empty() || *end != '\0' || v > 0xffffffffULL) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// "value[/mask]" as two numbers; the mask defaults to all ones.
std::optional<std::pair<uint32_t, uint32_t>> parseMarkMask(std::string_view text) {
  const size_t slash = text.find('/');
  auto value = parseU32(text.substr(0, slash));
  auto mask = slash == std::string_view::npos ? std::optional<uint32_t>(0xffffffffu) : parseU32(text.substr(slash + 1));
  if (!value || !mask) return std::nullopt;
  return std::make_pair(*value, *mask);
}

// libxt_mark prints "0x%x" or "0x%x/0x%x".
std::string markText(uint32_t value, uint32_t mask) {
  return mask == 0xffffffffu ? fmt::format("0x{:x}", value) : fmt::format("0x{:x}/0x{:x}", value, mask);
}

// MARK's options all come back from the kernel as one --set-xmark VALUE/MASK.
Status canonicalizeMarkTarget(Extension& target) {
  if (target.options.size() != 1 || target.options[0].args.size() != 1) return okStatus();
  const Option& o = target.options[0];
  auto vm = parseMarkMask(o.args[0]);
  if (!vm) return Error("MARK " + o.name + ": \"" + o.args[0] + "\" is not a mark");
  auto [v, m] = *vm;
  uint32_t mark = 0, mask = 0;
  if (o.name == "--set-xmark") {
    mark = v, mask = m;
  } else if (o.name == "--set-mark") {
    mark = v, mask = v | m;
  } else if (o.name == "--and-mark") {
    mark = 0, mask = ~v;
  } else if (o.name == "--or-mark") {
    mark = v, mask = v;
  } else if (o.name == "--xor-mark") {
    mark = v, mask = 0;
  } else {
    return okStatus();
  }
  target.options = {Option{.name = "--set-xmark", .args = {fmt::format("0x{:x}/0x{:x}", mark, mask)}}};
  return okStatus();
}

// The order libxt_conntrack prints states in.
std::string canonicalCtstate(std::string_view list) {
  static constexpr std::string_view kOrder[] = {"INVALID", "NEW", "RELATED", "ESTABLISHED", "UNTRACKED", "SNAT", "DNAT"};
  std::vector<std::string> states;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    std::string s(list.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
    if (!s.empty()) states.push_back(s);
    if (comma == std::string_view::npos) break;
    pos = comma + 1;
  }
  auto rank = [](const std::string& s) {
    for (size_t i = 0; i < std::size(kOrder); ++i)
      if (s == kOrder[i]) return i;
    return std::size(kOrder);
  };
  std::stable_sort(states.begin(), states.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  std::string out;
  for (const auto& s : states) out += (out.empty() ? "" : ",") + s;
  return out;
}

// "10.0.0.1:80", "[fd00::1]:80", "10.0.0.1" with the address in canonical form.
std::string canonicalNatDestination(std::string_view text) {
  std::string_view host = text, rest;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return std::string(text);
    host = text.substr(1, close - 1);
    rest = text.substr(close + 1);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const size_t colon = text.find(':');
    host = text.substr(0, colon);
    rest = text.substr(colon);
  }
  auto ip = IpAddress::parse(host);
  if (!ip.ok()) return std::string(text);
  return ip->isV4() ? fmt::format("{}{}", ip->toString(), rest) : fmt::format("[{}]{}", ip->toString(), rest);
}

Option* findOption(Extension& ext, std::string_view name) {
  for (auto& o : ext.options)
    if (o.name == name) return &o;
  return nullptr;
}

// Per-extension canonical values, and the options the kernel reports even when they were left out.
Status canonicalizeExtension(Extension& ext, IpFamily family, bool is_target) {
  for (auto& o : ext.options) {
    o.name = canonicalOptionName(ext.name, o.name);
    if (o.args.empty()) continue;
    std::string& value = o.args[0];
    if ((ext.name == "mark" || ext.name == "connmark") && o.name == "--mark") {
      auto vm = parseMarkMask(value);
      if (!vm) return Error(ext.name + " --mark: \"" + value + "\" is not a mark");
      value = markText(vm->first, vm->second);
    } else if (ext.name == "statistic" && o.name == "--probability") {
      // libxt_statistic keeps lround(p * 2^31) and prints it back with 11 decimals.
      char* end = nullptr;
      const double p = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || p < 0 || p > 1) return Error("statistic --probability: \"" + value + "\" is not a probability");
      const auto fixed = static_cast<uint32_t>(std::lround(p * 2147483648.0));
      value = fmt::format("{:.11f}", fixed / 2147483648.0);
    } else if (ext.name == "conntrack" && o.name == "--ctstate") {
      value = canonicalCtstate(value);
    } else if ((ext.name == "DNAT" && o.name == "--to-destination") || (ext.name == "SNAT" && o.name == "--to-source")) {
      value = canonicalNatDestination(value);
    } else if (ext.name == "ipvs" && o.name == "--vaddr") {
      auto a = canonicalAddress(value);
      if (!a.ok()) return Error("ipvs --vaddr: " + a.error().message);
      value = *a;
    } else if (ext.name == "ipvs" && o.name == "--vproto") {
      // libxt_ipvs prints the protocol number.
      const std::string p = canonicalProtocol(value);
      value = p == "tcp" ? "6" : p == "udp" ? "17" : p == "sctp" ? "132" : value;
    } else if (ext.name == "recent" && o.name == "--mask") {
      if (auto ip = IpAddress::parse(value); ip.ok()) value = ip->toString();
    }
  }
  if (is_target && ext.name == "MARK") {
    if (auto s = canonicalizeMarkTarget(ext); !s.ok()) return s;
  }
  if (is_target && ext.name == "REJECT" && findOption(ext, "--reject-with") == nullptr) {
    ext.options.push_back(
        {.name = "--reject-with", .args = {family == IpFamily::kIPv4 ? "icmp-port-unreachable" : "icmp6-port-unreachable"}});
  }
  if (!is_target && ext.name == "recent") {
    if (findOption(ext, "--name") == nullptr) ext.options.push_back({.name = "--name", .args = {"DEFAULT"}});
    if (findOption(ext, "--mask") == nullptr) {
      ext.options.push_back({.name = "--mask", .args = {family == IpFamily::kIPv4 ? "255.255.255.255"
                                                                                  : "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}});
    }
    if (findOption(ext, "--rsource") == nullptr && findOption(ext, "--rdest") == nullptr) {
      ext.options.push_back({.name = "--rsource"});
    }
    // The order libxt_recent prints its options in.
    static constexpr std::string_view kOrder[] = {"--set",  "--rcheck", "--update", "--remove", "--seconds", "--reap",
                                                  "--hitcount", "--rttl", "--name", "--mask", "--rsource", "--rdest"};
    auto rank = [](const Option& o) {
      for (size_t i = 0; i < std::size(kOrder); ++i)
        if (o.name == kOrder[i]) return i;
      return std::size(kOrder);
    };
    std::stable_sort(ext.options.begin(), ext.options.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  }
  return okStatus();
}

// iptables-save's quoting: words with spaces or quotes (and every comment) in double quotes.
std::string quoted(std::string_view word, bool always) {
  const bool needs = always || word.empty() || word.find_first_of(" \t\"\\'") != std::string_view::npos;
  if (!needs) return std::string(word);
  std::string out = "\"";
  for (char c : word) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on
// `"literal" + std::string&&`, which inserts at the front of the temporary.
void appendWord(std::string& out, std::string_view word) {
  if (!out.empty()) out += ' ';
  out += word;
}

std::string optionText(const Option& o) {
  std::string out;
  if (o.negated) out = "!";
  appendWord(out, o.name);
  for (const auto& a : o.args) appendWord(out, quoted(a, o.name == "--comment"));
  return out;
}

}  // namespace

Result<SavedRule> canonicalRule(std::string_view line, IpFamily family) {
  const std::vector<std::string> words = splitRuleWords(line);
  if (words.size() < 2 || words[0] != "-A") return Error(fmt::format("not an \"-A CHAIN\" rule: {}", line));
  SavedRule rule;
  rule.chain = words[1];

  struct Header {
    bool present = false;
    bool negated = false;
    std::string value;
  };
  Header header[std::size(kHeaderFlags)];
  std::vector<Extension> matches;
  std::optional<Extension> target;
  bool goto_target = false;
  enum class Current { kNone, kMatch, kTarget } current = Current::kNone;
  bool negate_next = false;

  auto fail = [&](const std::string& why) { return Error(fmt::format("{} in rule: {}", why, line)); };
  for (size_t i = 2; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "!") {
      negate_next = true;
      continue;
    }
    const bool negated = negate_next;
    negate_next = false;
    auto next = [&]() -> const std::string* { return i + 1 < words.size() ? &words[++i] : nullptr; };
    if (w == "-m" || w == "--match") {
      const std::string* name = next();
      if (name == nullptr) return fail("-m without a name");
      matches.push_back({*name, {}});
      current = Current::kMatch;
      continue;
    }
    if (w == "-j" || w == "--jump" || w == "-g" || w == "--goto") {
      const std::string* name = next();
      if (name == nullptr) return fail(w + " without a target");
      if (target) return fail("two targets");
      target = Extension{*name, {}};
      goto_target = w == "-g" || w == "--goto";
      current = Current::kTarget;
      continue;
    }
    if (std::string_view flag = headerFlag(w); !flag.empty()) {
      const size_t slot = std::find(std::begin(kHeaderFlags), std::end(kHeaderFlags), flag) - std::begin(kHeaderFlags);
      Header& h = header[slot];
      h.present = true;
      h.negated = negated;
      if (flag == "-f") continue;
      const std::string* value = next();
      if (value != nullptr && *value == "!") {  // the old "-s ! ADDR" form
        h.negated = true;
        value = next();
      }
      if (value == nullptr) return fail(w + " without a value");
      if (flag == "-s" || flag == "-d") {
        auto a = canonicalAddress(*value);
        if (!a.ok()) return fail(w + ": " + a.error().message);
        h.value = *a;
      } else {
        h.value = flag == "-p" ? canonicalProtocol(*value) : *value;
      }
      continue;
    }
    if (w.size() < 2 || w[0] != '-') return fail("unexpected word \"" + w + "\"");
    // An option of the latest match or of the target; with neither, of the protocol's implicit
    // match ("-p tcp --dport 80" loads the tcp match, which save prints as "-m tcp").
    Extension* ext = nullptr;
    if (current == Current::kTarget) {
      ext = &*target;
    } else if (current == Current::kMatch) {
      ext = &matches.back();
    } else if (header[4].present && !header[4].value.empty()) {
      matches.push_back({header[4].value, {}});
      current = Current::kMatch;
      ext = &matches.back();
    } else {
      return fail("option " + w + " outside any match");
    }
    Option option{.negated = negated, .name = w};
    const int n = arity(ext->name, w);
    // The old "--opt ! VALUE" form, only for options known to take a value: after an option of
    // unknown arity a "!" belongs to what follows (iptables-save prints "! --opt VALUE"), and
    // reading it as this option's would give a rule and its display form different keys.
    if (i + 1 < words.size() && words[i + 1] == "!" && n > 0) {
      option.negated = true;
      ++i;
    }
    if (n >= 0) {
      for (int k = 0; k < n; ++k) {
        const std::string* arg = next();
        if (arg == nullptr) return fail(w + " without its value");
        option.args.push_back(*arg);
      }
    } else {
      while (i + 1 < words.size() && words[i + 1] != "!" && !(words[i + 1].size() > 1 && words[i + 1][0] == '-')) {
        option.args.push_back(words[++i]);
      }
    }
    ext->options.push_back(std::move(option));
  }
  if (negate_next) return fail("\"!\" at the end");

  for (auto& m : matches) {
    if (auto s = canonicalizeExtension(m, family, false); !s.ok()) return fail(s.error().message);
  }
  if (target) {
    if (auto s = canonicalizeExtension(*target, family, true); !s.ok()) return fail(s.error().message);
  }

  std::string head;
  for (size_t k = 0; k < std::size(kHeaderFlags); ++k) {
    if (!header[k].present) continue;
    head += header[k].negated ? " ! " : " ";
    head += kHeaderFlags[k];
    if (!header[k].value.empty()) appendWord(head, quoted(header[k].value, false));
  }
  auto extensionText = [](const std::string& lead, const Extension& e, bool sorted) {
    std::vector<std::string> options;
    for (const auto& o : e.options) options.push_back(optionText(o));
    if (sorted) std::sort(options.begin(), options.end());
    std::string out = lead;
    appendWord(out, e.name);
    for (const auto& o : options) appendWord(out, o);
    return out;
  };
  std::vector<std::string> match_keys;
  rule.display = "-A " + rule.chain + head;
  for (const auto& m : matches) {
    match_keys.push_back(extensionText("-m", m, true));
    appendWord(rule.display, extensionText("-m", m, false));
  }
  std::sort(match_keys.begin(), match_keys.end());
  rule.key = "-A " + rule.chain + head;
  for (const auto& k : match_keys) appendWord(rule.key, k);
  if (target) {
    const std::string lead = goto_target ? "-g" : "-j";
    appendWord(rule.key, extensionText(lead, *target, true));
    appendWord(rule.display, extensionText(lead, *target, false));
  }
  return rule;
}

}  // namespace kproxy::restore
