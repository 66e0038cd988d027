#include "modes/iptables/cleanup.h"

#include "modes/iptables/chain_names.h"
#include "modes/iptables/proxier.h"
#include "netlink/iptables_cleanup.h"

namespace kproxy::iptables {

void cleanupIptablesMode(netlink::IptablesRestore& iptables, const std::vector<IpFamily>& families,
                         std::vector<std::string>* errors) {
  auto owned = [](std::string_view n) {
    return isServiceChainName(n) || n == kServicesChain || n == kNodePortsChain || n == kPostroutingChain ||
           n == kMarkMasqChain || n == kExternalServicesChain || n == kForwardChain || n == kProxyFirewallChain ||
           n == kProxyCanaryChain;
  };
  for (IpFamily family : families) {
    // Unlink our chains first: a chain still jumped to cannot be deleted.
    for (const auto& rule : jumpRules()) {
      if (rule.kubelet) continue;
      netlink::deleteRuleEveryCopy(iptables, family, rule.table, rule.from, jumpRuleArgs(rule), errors);
    }
    for (const char* table : {"nat", "filter", "mangle"}) netlink::deleteOwnedChains(iptables, family, table, owned, errors);
  }
}

}  // namespace kproxy::iptables
