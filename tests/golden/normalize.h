// Upstream's test-side view of an iptables-restore input (spec iptables-mode.md §10.2, §10.4),
// reproduced for the golden tests: assertIPTablesRulesEqual's normalisation and
// checkIPTablesRuleJumps' consistency check. Same behaviour as ../shared/tools/normalize.py and
// check_jumps.py.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/util/result.h"

namespace kproxy::golden {

// Normalises like upstream's sortIPTablesRules: tables by name, chains KUBE-NODEPORTS,
// KUBE-SERVICES, other KUBE-* by name, then others; stable sort of the KUBE-NODEPORTS and
// KUBE-SERVICES rules by service name (Go's sort.SliceStable algorithm, which matters for rules
// without comments); "-X" lines after the rules.
Result<std::string> normalizeRestoreText(std::string_view text);

// Upstream's checkIPTablesRuleJumps; returns one message per problem (empty when consistent).
std::vector<std::string> checkRuleJumps(std::string_view text);

// The "-A CHAIN" lines of one chain of one table, in order ("" if the chain is absent).
Result<std::string> chainRules(std::string_view text, std::string_view table, std::string_view chain);

}  // namespace kproxy::golden
