// How the chains a node holds differ from the chains a plan would write, chain by chain, compared
// rule by rule through canonicalRule (saved_rule.h), so that the form iptables-save prints never
// shows up as drift. Pure: the caller reads the node (iptables-save) and builds the plan.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "modes/common/restore_text.h"
#include "src/util/ip.h"

namespace kproxy::restore {

struct ChainRules {
  std::string table;
  std::string chain;
  // A built-in chain (INPUT, PREROUTING, ...) of which only the jumps to the compared chains are
  // listed. A sync only inserts the jumps that are missing, at the top, and never reorders the
  // rest, so order among them is not drift.
  bool builtin = false;
  std::vector<std::string> rules;  // "-A CHAIN ..." lines
};

struct ChainDrift {
  std::string table;
  std::string chain;
  enum class Kind { kRulesDiffer, kOnlyOnNode, kOnlyInPlan } kind = Kind::kRulesDiffer;
  // A unified diff from the node's rules ("-": would be removed) to the plan's ("+": would be
  // written). Context and removed lines are the node's own text; added lines are the plan's rules
  // laid out as iptables-save prints them.
  std::string diff;
};

// The rules kube-proxy owns in a parsed iptables-save (or restore) text: every KUBE-* chain (but
// the canaries and kubelet's hint chain) and, of the built-in chains, the rules that jump to them.
// A mode that owns fewer chains filters the result (modes/ipvs/drift.h).
std::vector<ChainRules> kubeProxyChains(const RestoreText& text);

// The chain a rule jumps or goes to ("-j X" / "-g X"), or "".
std::string jumpTarget(std::string_view rule);

// Every chain of `node` or `plan` (matched by table and name) whose rules differ, in table and
// chain name order. `label` starts each diff header ("IPv4" gives "--- live IPv4 nat/KUBE-X").
std::vector<ChainDrift> compareChains(const std::vector<ChainRules>& node, const std::vector<ChainRules>& plan,
                                      IpFamily family, const std::string& label);

}  // namespace kproxy::restore
