// iptables mode's leftovers: every chain and jump rule it creates (spec iptables-mode.md §2.3,
// plus the chains upstream's cleanup leaves: KUBE-MARK-MASQ, KUBE-PROXY-FIREWALL, the canaries).
// kubelet's KUBE-FIREWALL and its jumps stay: kubelet owns them too.
#pragma once

#include <string>
#include <vector>

#include "netlink/iptables_restore.h"

namespace kproxy::iptables {

// Appends one line per problem to `errors`; missing chains and rules are not problems.
void cleanupIptablesMode(netlink::IptablesRestore& iptables, const std::vector<IpFamily>& families,
                         std::vector<std::string>* errors);

}  // namespace kproxy::iptables
