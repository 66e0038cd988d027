// `kproxy diff` in IPVS mode: how what a node holds differs from what a full sync of `plan` would
// leave there: virtual and real servers, the members of the planned ip sets, the addresses of
// kube-ipvs0 (diff.h decides what differs, as the applier would), and IPVS mode's iptables chains
// with their jumps from the built-in chains (modes/common/chain_drift.h). Pure: the caller reads
// the observed state (applier.h readObservedState) and iptables-save, and builds the plan.
//
// Listing, per part that drifted, a unified diff in the native tools' words ("-": on the node, a
// sync would remove or change it; "+": a sync would write it), one hunk per object:
//   --- live IPv4 ipvs                        (ipvsadm -S -n lines, one hunk per virtual server)
//   --- live IPv4 ip sets                     (ipset save lines, one hunk per set)
//   --- live IPv4 kube-ipvs0                  (ip addr add lines)
//   --- live IPv4 nat/KUBE-SERVICES           (iptables-save lines, as in iptables mode)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "modes/common/chain_drift.h"
#include "modes/ipvs/diff.h"
#include "modes/ipvs/planner.h"
#include "src/util/result.h"

namespace kproxy::ipvs {

struct IpvsDrift {
  // What a sync would change outside iptables, as diff(observed, plan.state) lists it, less the
  // destinations graceful termination is draining: a real server the plan no longer has that is
  // at weight 0 and still has connections is what a sync leaves in place, so it is no drift.
  IpvsChangeList changes;
  // IPVS mode's chains (ipvsChains()) and the jumps to them, node against plan.
  std::vector<restore::ChainDrift> chains;
  // The listing; "" when nothing drifted.
  std::string text;

  bool empty() const { return changes.empty() && chains.empty(); }
};

// `observed` as readObservedState reads it for plan.state.ipsets; `live_save` is iptables-save of
// the family. `label` starts each header ("IPv4"). Errors: the plan or live_save do not parse.
Result<IpvsDrift> ipvsDrift(const IpvsState& observed, const IpvsPlan& plan, std::string_view live_save,
                            const std::string& label);

// The chains of IPVS mode in a parsed iptables-save or restore text: the chains ipvsChains()
// names, and the rules of the built-in chains that jump to them.
std::vector<restore::ChainRules> ipvsModeChains(const restore::RestoreText& text);

}  // namespace kproxy::ipvs
