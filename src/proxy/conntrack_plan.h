// PURE: which UDP conntrack entries are stale, given the snapshot a sync just programmed and the
// entries dumped from the kernel. Upstream's conntrack reconciler (pkg/proxy/conntrack/cleanup.go
// CleanStaleEntries; spec ipvs-and-runtime.md §2.1):
//
// For every UDP service port with at least one serving endpoint (ready, or terminating but still
// serving; traffic policies and topology deliberately ignored), S is the set of its serving
// endpoints' IP:port. clusterIP:port, every VIP-mode load-balancer IP:port and every external
// IP:port map to S, and so does the node port, if any. A UDP entry of the snapshot's family is
// stale when
//   * its original destination IP:port is such a frontend and its reply source IP:port is not in
//     that frontend's S, or else
//   * its original destination port is such a node port (any destination IP) and its reply source
//     IP:port is not in that node port's S.
// Service ports without serving endpoints map nothing, so their entries are left alone; once they
// have endpoints, entries created while they had none ("black holes", never DNATed, so the reply
// source is the frontend itself) are stale.
//
// Where two UDP service ports claim the same frontend (or node port), S is the union of their
// sets: upstream keeps whichever Go map iteration wrote last, so kproxy takes the choice that never
// deletes a flow to a serving endpoint of a service that claims the frontend.
#pragma once

#include <vector>

#include "netlink/conntrack.h"
#include "src/tracker/snapshot.h"

namespace kproxy::proxy {

// The stale entries of `udp_flows`, in their order. Entries of another family or another protocol
// are never stale.
std::vector<netlink::ConntrackFlow> staleFlows(const tracker::ProxySnapshot& snapshot,
                                               const std::vector<netlink::ConntrackFlow>& udp_flows);

}  // namespace kproxy::proxy
