// `kproxy diff` in iptables mode: how the KUBE-* chains of a node (iptables-save text) differ from
// what a full sync of `plan` leaves there, chain by chain (modes/common/chain_drift.h). No kernel
// access: the caller reads the node and builds the plan.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "modes/common/chain_drift.h"
#include "modes/iptables/plan.h"
#include "src/util/result.h"

namespace kproxy::iptables {

// The chains a full sync of `plan` leaves: the payload's, every chain the ensured jumps lead to,
// and those jumps in the built-in chains. Errors: the plan does not parse.
Result<std::vector<restore::ChainRules>> chainsAfterSync(const IptablesPlan& plan);

// Errors: the plan or `live_save` does not parse. `label` starts each diff header ("IPv4").
Result<std::vector<restore::ChainDrift>> iptablesDrift(const IptablesPlan& plan, std::string_view live_save,
                                                       IpFamily family, const std::string& label);

}  // namespace kproxy::iptables
