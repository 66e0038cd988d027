// A parsed iptables-restore / iptables-save text: tables, chain declarations, rules and chain
// deletions, in the order they appear. Shared by the golden tests (normalisation, jump checks),
// `kproxy trace --rules` and `kproxy diff` (reading the live KUBE chains).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/util/result.h"

namespace kproxy::restore {

struct Chain {
  std::string name;
  std::string policy = "-";      // "-" for user chains, ACCEPT/DROP for built-in ones
  std::string counters = "[0:0]";
  std::vector<std::string> rules;  // complete "-A NAME ..." lines, in order
  bool deleted = false;            // a "-X NAME" line
};

struct Table {
  std::string name;
  std::vector<Chain> chains;  // in declaration order

  Chain* find(std::string_view chain);
  const Chain* find(std::string_view chain) const;
};

struct RestoreText {
  std::vector<Table> tables;

  Table* find(std::string_view table);
  const Table* find(std::string_view table) const;
};

// Parses restore/save text. Blank lines and "#" comments are skipped; "-A" must name a declared
// chain; "-X" a declared chain without rules; every table ends with COMMIT. Errors carry the
// 1-based line number: "line 12: ...".
Result<RestoreText> parseRestoreText(std::string_view text);

// `iptables-save -c` puts the counters in front of each rule ("[5:300] -A ..."); restore text
// has no place for them, so `kproxy trace --rules` drops them before parsing.
std::string withoutRuleCounters(std::string_view text);

// Splits a rule into words the way iptables does: double-quoted words may contain spaces
// (quotes removed, \" and \\ unescaped).
std::vector<std::string> splitRuleWords(std::string_view rule);

// The value of "--comment" in a rule, or "" (with `found` false) when it has none.
std::string ruleComment(std::string_view rule, bool* found = nullptr);

}  // namespace kproxy::restore
