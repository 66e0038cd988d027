// A plan's tables split by chain, so the applier can write a subset: only the chains that changed
// (partial syncs skip top-level chains written identically before). Views point into the plan,
// which must outlive this.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kproxy::iptables {

struct TableSections {
  std::string_view name;                         // "filter", "nat"
  std::vector<std::string_view> chains;          // declared chains, in declaration order
  std::unordered_map<std::string_view, std::vector<std::string_view>> rules;  // chain -> "-A" lines
  std::vector<std::string_view> deleted;         // "-X" chains, in order

  // The rules of one chain as written ("-A ..." lines, each ending in '\n').
  std::string chainText(std::string_view chain) const;
};

// `chain_lines` holds ":NAME - [0:0]" lines, `rule_lines` "-A CHAIN ..." and "-X CHAIN" lines.
TableSections splitTable(std::string_view name, std::string_view chain_lines, std::string_view rule_lines);

// Appends "*name\n", the declarations and rules of the chains `pick` selects (in declaration
// order), the "-X" lines when `with_deletions` (their chains are declared too, as iptables-restore
// requires), and "COMMIT\n". Returns the number of chains written.
template <typename Pick>
size_t appendTable(std::string& out, const TableSections& table, Pick pick, bool with_deletions) {
  size_t written = 0;
  out += "*";
  out += table.name;
  out += "\n";
  auto is_deleted = [&](std::string_view chain) {
    for (auto d : table.deleted)
      if (d == chain) return true;
    return false;
  };
  for (auto chain : table.chains) {
    const bool deleted = is_deleted(chain);
    if (deleted ? !with_deletions : !pick(chain)) continue;
    out += ":";
    out += chain;
    out += " - [0:0]\n";
    if (!deleted) ++written;
  }
  for (auto chain : table.chains) {
    if (is_deleted(chain) || !pick(chain)) continue;
    auto it = table.rules.find(chain);
    if (it == table.rules.end()) continue;
    for (auto line : it->second) {
      out += line;
      out += "\n";
    }
  }
  if (with_deletions) {
    for (auto chain : table.deleted) {
      out += "-X ";
      out += chain;
      out += "\n";
    }
  }
  out += "COMMIT\n";
  return written;
}

}  // namespace kproxy::iptables
