#include "modes/iptables/drift.h"

#include "modes/common/restore_text.h"
#include "modes/iptables/proxier.h"

namespace kproxy::iptables {
namespace {

// The jumps a sync ensures in the built-in chains, in the order they have on a fresh node (each
// is inserted at position 1, so the last listed comes first).
std::vector<restore::ChainRules> plannedJumps() {
  std::vector<restore::ChainRules> out;
  const auto& rules = jumpRules();
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    restore::ChainRules* chain = nullptr;
    for (auto& c : out)
      if (c.table == it->table && c.chain == it->from) chain = &c;
    if (chain == nullptr) chain = &out.emplace_back(restore::ChainRules{.table = it->table, .chain = it->from, .builtin = true});
    std::string line = std::string("-A ") + it->from;
    for (const auto& arg : jumpRuleArgs(*it)) {
      if (arg.find(' ') == std::string::npos) {
        line.append(" ").append(arg);
      } else {
        line.append(" \"").append(arg).append("\"");
      }
    }
    chain->rules.push_back(line);
  }
  return out;
}

}  // namespace

Result<std::vector<restore::ChainRules>> chainsAfterSync(const IptablesPlan& plan) {
  auto planned = restore::parseRestoreText(plan.payload());
  if (!planned.ok()) return planned.error().wrap("the plan does not parse");
  std::vector<restore::ChainRules> desired = restore::kubeProxyChains(*planned);
  // A sync creates every chain its jumps lead to, even one the payload leaves out (IPv6 has no
  // KUBE-FIREWALL rules, but kubelet's jumps to it are ensured, so the chain exists, empty).
  for (const auto& jump : jumpRules()) {
    bool declared = false;
    for (const auto& c : desired) declared = declared || (c.table == jump.table && c.chain == jump.to);
    if (!declared) desired.push_back({.table = jump.table, .chain = jump.to});
  }
  for (auto& jumps : plannedJumps()) desired.push_back(std::move(jumps));
  return desired;
}

Result<std::vector<restore::ChainDrift>> iptablesDrift(const IptablesPlan& plan, std::string_view live_save,
                                                       IpFamily family, const std::string& label) {
  auto desired = chainsAfterSync(plan);
  if (!desired.ok()) return desired.error();
  auto live = restore::parseRestoreText(live_save);
  if (!live.ok()) return live.error().wrap("cannot parse iptables-save output");
  return restore::compareChains(restore::kubeProxyChains(*live), *desired, family, label);
}

}  // namespace kproxy::iptables
