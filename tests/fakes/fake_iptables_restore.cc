#include "tests/fakes/fake_iptables_restore.h"

#include <algorithm>

#include "modes/common/restore_text.h"

namespace kproxy::testing {
namespace {

const std::set<std::string> kBuiltinTargets = {"ACCEPT", "DROP",  "REJECT", "RETURN", "MARK", "MASQUERADE",
                                               "DNAT",   "SNAT",  "LOG",    "CONNMARK", "NOTRACK"};

std::vector<std::string> builtinChains(const std::string& table) {
  if (table == "filter") return {"INPUT", "FORWARD", "OUTPUT"};
  if (table == "nat") return {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"};
  if (table == "mangle") return {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"};
  if (table == "raw") return {"PREROUTING", "OUTPUT"};
  return {};
}

bool isBuiltinChain(const std::string& table, const std::string& chain) {
  auto b = builtinChains(table);
  return std::find(b.begin(), b.end(), chain) != b.end();
}

std::string jumpTarget(const std::string& spec) {
  auto words = restore::splitRuleWords(spec);
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "-j" || words[i] == "-g") return words[i + 1];
  }
  return "";
}

}  // namespace

FakeIptablesRestore::FakeIptablesRestore(netlink::IptablesBackend backend, bool random_fully)
    : backend_(backend), random_fully_(random_fully) {
  for (const char* t : {"filter", "nat", "mangle", "raw"}) {
    v4_[t] = emptyTable(t);
    v6_[t] = emptyTable(t);
  }
}

FakeIptablesRestore::Table FakeIptablesRestore::emptyTable(const std::string& name) {
  Table t;
  for (const auto& c : builtinChains(name)) {
    t.chains[c];
    t.order.push_back(c);
  }
  return t;
}

std::string FakeIptablesRestore::ruleSpec(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    if (!out.empty()) out.push_back(' ');
    // iptables-save quotes words with spaces.
    if (a.find(' ') != std::string::npos) {
      out += "\"" + a + "\"";
    } else {
      out += a;
    }
  }
  return out;
}

Status FakeIptablesRestore::restore(IpFamily family, const std::vector<std::string_view>& pieces,
                                    const netlink::RestoreOptions& options) {
  ++calls_;
  std::string input;
  for (auto p : pieces) input.append(p);
  restores_.push_back(input);
  const int fail_at = std::exchange(fail_at_line_, 0);

  Tables& state = tables(family);
  Table work;
  std::string table_name;
  bool in_table = false;
  int line_no = 0;
  size_t pos = 0;
  auto fail = [&](const std::string& why) {
    return Error("iptables-restore (fake): " + why + " at line " + std::to_string(line_no), line_no);
  };
  while (pos < input.size()) {
    size_t nl = input.find('\n', pos);
    if (nl == std::string::npos) nl = input.size();
    std::string line = input.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line_no == fail_at) return fail("injected failure");
    if (line.empty() || line[0] == '#') continue;
    if (!in_table) {
      if (line[0] != '*') return fail("expected a table");
      table_name = line.substr(1);
      if (!state.count(table_name)) return fail("unknown table " + table_name);
      work = options.noflush ? state[table_name] : emptyTable(table_name);
      in_table = true;
      continue;
    }
    if (line == "COMMIT") {
      state[table_name] = std::move(work);  // each table commits on its own (as iptables-restore does on both back ends)
      in_table = false;
      continue;
    }
    if (line[0] == ':') {
      std::string name = line.substr(1, line.find(' ') - 1);
      auto it = work.chains.find(name);
      if (it == work.chains.end()) {
        work.chains[name];
        work.order.push_back(name);
      } else {
        it->second.rules.clear();
      }
      continue;
    }
    if (line.rfind("-A ", 0) == 0) {
      std::string rest = line.substr(3);
      std::string name = rest.substr(0, rest.find(' '));
      std::string spec = rest.find(' ') == std::string::npos ? "" : rest.substr(rest.find(' ') + 1);
      auto it = work.chains.find(name);
      if (it == work.chains.end()) return fail("Chain '" + name + "' does not exist");
      std::string target = jumpTarget(spec);
      if (!target.empty() && !kBuiltinTargets.count(target) && !work.chains.count(target)) {
        return fail("Chain '" + target + "' does not exist");
      }
      it->second.rules.push_back(spec);
      continue;
    }
    if (line.rfind("-I ", 0) == 0) {
      // "-I CHAIN [N] spec": insert at 1-based position N (default 1).
      auto words = restore::splitRuleWords(line.substr(3));
      if (words.empty()) return fail("bad -I line");
      std::string name = words[0];
      std::string rest = line.substr(3 + name.size());
      if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      size_t position = 1;
      if (words.size() > 1 && std::all_of(words[1].begin(), words[1].end(), ::isdigit)) {
        position = std::stoul(words[1]);
        rest = rest.substr(words[1].size());
        if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      }
      auto it = work.chains.find(name);
      if (it == work.chains.end()) return fail("Chain '" + name + "' does not exist");
      std::string target = jumpTarget(rest);
      if (!target.empty() && !kBuiltinTargets.count(target) && !work.chains.count(target)) {
        return fail("Chain '" + target + "' does not exist");
      }
      auto& rules = it->second.rules;
      if (position == 0 || position > rules.size() + 1) return fail("Index of insertion too big");
      rules.insert(rules.begin() + static_cast<long>(position - 1), rest);
      continue;
    }
    if (line.rfind("-X ", 0) == 0) {
      std::string name = line.substr(3);
      auto it = work.chains.find(name);
      if (it == work.chains.end()) return fail("No chain/target/match by that name: " + name);
      if (!it->second.rules.empty()) return fail("Directory not empty: " + name);
      for (const auto& [other, chain] : work.chains) {
        for (const auto& spec : chain.rules) {
          if (jumpTarget(spec) == name) return fail("Too many links: " + name + " is referenced by " + other);
        }
      }
      work.chains.erase(it);
      work.order.erase(std::find(work.order.begin(), work.order.end(), name));
      continue;
    }
    return fail("cannot parse \"" + line + "\"");
  }
  if (in_table) return fail("no COMMIT");
  return okStatus();
}

Result<std::string> FakeIptablesRestore::save(IpFamily family, std::string_view table) {
  ++calls_;
  std::string out;
  for (const auto& [name, t] : tables(family)) {
    if (!table.empty() && name != table) continue;
    out += "*" + name + "\n";
    for (const auto& c : t.order) {
      out += ":" + c + (isBuiltinChain(name, c) ? " ACCEPT [0:0]\n" : " - [0:0]\n");
    }
    for (const auto& c : t.order) {
      for (const auto& spec : t.chains.at(c).rules) out += "-A " + c + (spec.empty() ? "" : " " + spec) + "\n";
    }
    out += "COMMIT\n";
  }
  return out;
}

std::string FakeIptablesRestore::dump(IpFamily family) const {
  return const_cast<FakeIptablesRestore*>(this)->save(family, "").value();
}

std::vector<std::string> FakeIptablesRestore::rules(std::string_view table, std::string_view chain, IpFamily family) const {
  const auto& t = tables(family).at(std::string(table));
  auto it = t.chains.find(std::string(chain));
  return it == t.chains.end() ? std::vector<std::string>{} : it->second.rules;
}

Result<bool> FakeIptablesRestore::ruleExists(IpFamily family, std::string_view table, std::string_view chain,
                                             const std::vector<std::string>& args) {
  ++calls_;
  auto& t = tables(family)[std::string(table)];
  auto it = t.chains.find(std::string(chain));
  if (it == t.chains.end()) return false;
  const std::string spec = ruleSpec(args);
  return std::find(it->second.rules.begin(), it->second.rules.end(), spec) != it->second.rules.end();
}

Status FakeIptablesRestore::insertRule(IpFamily family, std::string_view table, std::string_view chain,
                                       const std::vector<std::string>& args, bool prepend) {
  ++calls_;
  auto& t = tables(family)[std::string(table)];
  auto it = t.chains.find(std::string(chain));
  if (it == t.chains.end()) return Error("iptables (fake): no chain " + std::string(chain));
  const std::string spec = ruleSpec(args);
  std::string target = jumpTarget(spec);
  if (!target.empty() && !kBuiltinTargets.count(target) && !t.chains.count(target)) {
    return Error("iptables (fake): no target " + target);
  }
  if (prepend) {
    it->second.rules.insert(it->second.rules.begin(), spec);
  } else {
    it->second.rules.push_back(spec);
  }
  return okStatus();
}

Status FakeIptablesRestore::deleteRule(IpFamily family, std::string_view table, std::string_view chain,
                                       const std::vector<std::string>& args) {
  ++calls_;
  auto& t = tables(family)[std::string(table)];
  auto it = t.chains.find(std::string(chain));
  const std::string spec = ruleSpec(args);
  if (it == t.chains.end()) return Error("iptables (fake): no chain " + std::string(chain), 1);
  auto r = std::find(it->second.rules.begin(), it->second.rules.end(), spec);
  if (r == it->second.rules.end()) return Error("iptables (fake): Bad rule (does a matching rule exist in that chain?)", 1);
  it->second.rules.erase(r);
  return okStatus();
}

Status FakeIptablesRestore::ensureChain(IpFamily family, std::string_view table, std::string_view chain) {
  ++calls_;
  auto& t = tables(family)[std::string(table)];
  if (!t.chains.count(std::string(chain))) {
    t.chains[std::string(chain)];
    t.order.emplace_back(chain);
  }
  return okStatus();
}

Result<bool> FakeIptablesRestore::chainExists(IpFamily family, std::string_view table, std::string_view chain) {
  ++calls_;
  const auto& t = tables(family)[std::string(table)];
  return t.chains.count(std::string(chain)) != 0;
}

}  // namespace kproxy::testing
