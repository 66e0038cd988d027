// IPVS mode's leftovers (spec ipvs-and-runtime.md §1.12): every virtual server, kube-ipvs0 (when
// it is a dummy link), the jumps and chains of IPVS mode in each family, then its ip sets (a set
// still referenced by a rule cannot be destroyed, so they go last).
#pragma once

#include <string>
#include <vector>

#include "netlink/ipset.h"
#include "netlink/iptables_restore.h"
#include "netlink/ipvs.h"
#include "netlink/link.h"

namespace kproxy::ipvs {

// Clients that are null are skipped (upstream: no IPVS in the kernel skips the IPVS part silently).
// Appends one line per problem to `errors`; missing pieces are not problems.
void cleanupIpvsMode(netlink::IptablesRestore& iptables, netlink::IpvsClient* ipvs, netlink::LinkClient* links,
                     netlink::IpSetClient* ipsets, const std::vector<IpFamily>& families,
                     std::vector<std::string>* errors);

}  // namespace kproxy::ipvs
