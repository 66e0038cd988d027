#include "modes/common/restore_text.h"

#include <unordered_map>

namespace kproxy::restore {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

template <typename T>
auto* findByName(T& items, std::string_view name) {
  for (auto& item : items) {
    if (item.name == name) return &item;
  }
  return static_cast<decltype(&items[0])>(nullptr);
}

}  // namespace

Chain* Table::find(std::string_view chain) { return findByName(chains, chain); }
const Chain* Table::find(std::string_view chain) const { return findByName(chains, chain); }
Table* RestoreText::find(std::string_view table) { return findByName(tables, table); }
const Table* RestoreText::find(std::string_view table) const { return findByName(tables, table); }

Result<RestoreText> parseRestoreText(std::string_view text) {
  RestoreText result;
  Table* table = nullptr;
  // The current table's chains by name: a dump of a large cluster declares tens of thousands of
  // chains, and a linear Table::find per line would make reading it quadratic.
  std::unordered_map<std::string, size_t> chain_index;
  auto findChain = [&](std::string_view name) -> Chain* {
    auto it = chain_index.find(std::string(name));
    return it == chain_index.end() ? nullptr : &table->chains[it->second];
  };
  size_t line_no = 0;
  auto fail = [&](const std::string& msg) { return Error("line " + std::to_string(line_no) + ": " + msg); };
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;
    if (table == nullptr) {
      if (line.front() != '*') return fail("expected a table (\"*name\"), got \"" + std::string(line) + "\"");
      result.tables.push_back(Table{std::string(line.substr(1)), {}});
      table = &result.tables.back();
      chain_index.clear();
      continue;
    }
    if (line == "COMMIT") {
      table = nullptr;
      continue;
    }
    if (line.front() == ':') {
      // ":NAME POLICY [packets:bytes]"
      auto sp1 = line.find(' ');
      if (sp1 == std::string_view::npos) return fail("bad chain line \"" + std::string(line) + "\"");
      Chain chain;
      chain.name = std::string(line.substr(1, sp1 - 1));
      std::string_view rest = trim(line.substr(sp1 + 1));
      auto sp2 = rest.find(' ');
      chain.policy = std::string(rest.substr(0, sp2));
      if (sp2 != std::string_view::npos) chain.counters = std::string(trim(rest.substr(sp2 + 1)));
      if (chain.name.empty()) return fail("bad chain line \"" + std::string(line) + "\"");
      if (Chain* existing = findChain(chain.name)) {
        existing->rules.clear();  // declaring again flushes
        existing->deleted = false;
      } else {
        chain_index.emplace(chain.name, table->chains.size());
        table->chains.push_back(std::move(chain));
      }
      continue;
    }
    if (line.substr(0, 3) == "-A ") {
      std::string_view rest = line.substr(3);
      std::string_view name = rest.substr(0, rest.find(' '));
      Chain* chain = findChain(name);
      if (chain == nullptr) return fail("rule for undeclared chain " + std::string(name));
      if (chain->deleted) return fail("rule for deleted chain " + std::string(name));
      chain->rules.emplace_back(line);
      continue;
    }
    if (line.substr(0, 3) == "-X ") {
      std::string_view name = trim(line.substr(3));
      Chain* chain = findChain(name);
      if (chain == nullptr) return fail("delete of undeclared chain " + std::string(name));
      if (!chain->rules.empty()) return fail("delete of chain " + std::string(name) + " after adding rules");
      chain->deleted = true;
      continue;
    }
    return fail("cannot parse \"" + std::string(line) + "\"");
  }
  if (table != nullptr) return fail("missing COMMIT for table " + table->name);
  return result;
}

std::string withoutRuleCounters(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.front() == '[') {
      size_t close = line.find("] ");
      std::string_view inner = line.substr(1, close == std::string_view::npos ? 0 : close - 1);
      const bool counters = close != std::string_view::npos && inner.find(':') != std::string_view::npos &&
                            inner.find_first_not_of("0123456789:") == std::string_view::npos;
      if (counters) line.remove_prefix(close + 2);
    }
    out.append(line);
    pos = end;
  }
  return out;
}

std::vector<std::string> splitRuleWords(std::string_view rule) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < rule.size()) {
    while (i < rule.size() && (rule[i] == ' ' || rule[i] == '\t')) ++i;
    if (i >= rule.size()) break;
    std::string word;
    if (rule[i] == '"') {
      ++i;
      while (i < rule.size() && rule[i] != '"') {
        // iptables-save escapes \", \\ and ' inside a quoted word (kube-proxy's IPVS comments hold ').
        if (rule[i] == '\\' && i + 1 < rule.size() && (rule[i + 1] == '"' || rule[i + 1] == '\\' || rule[i + 1] == '\'')) ++i;
        word.push_back(rule[i++]);
      }
      ++i;  // closing quote
    } else {
      while (i < rule.size() && rule[i] != ' ' && rule[i] != '\t') word.push_back(rule[i++]);
    }
    words.push_back(std::move(word));
  }
  return words;
}

std::string ruleComment(std::string_view rule, bool* found) {
  auto words = splitRuleWords(rule);
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "-m") {
      ++i;
      continue;
    }
    if (words[i] == "--comment") {
      if (found) *found = true;
      return words[i + 1];
    }
  }
  if (found) *found = false;
  return "";
}

}  // namespace kproxy::restore
