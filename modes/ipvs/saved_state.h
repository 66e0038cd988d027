// Reading IPVS mode's live state back from the text its tools print, for `kproxy trace --rules`
// in IPVS mode (a node's `iptables-save`, `ipset save` and `ipvsadm -S -n`). PURE. The inverse of
// formatIpsetSave / formatIpvsadmSave (state.h), accepting what the tools add: bucketsize and
// initval on create lines, timeout/comment options after members, -g/-i forwarding, -x/-y
// thresholds. Errors carry the 1-based line number.
#pragma once

#include <string_view>
#include <vector>

#include "modes/ipvs/state.h"
#include "src/util/result.h"

namespace kproxy::ipvs {

// Sets of the types IPVS mode uses; sets of other types are skipped (they never match in a trace).
Result<std::vector<IpSet>> parseIpsetSave(std::string_view text);

// Virtual servers with their real servers (firewall-mark services are skipped), sorted as IpvsState keeps them.
Result<std::vector<VirtualServer>> parseIpvsadmSave(std::string_view text);

}  // namespace kproxy::ipvs
