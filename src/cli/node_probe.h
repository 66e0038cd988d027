// What kube-proxy learns about the node at start rather than from its configuration: interface
// addresses, --random-fully support, nfacct counters, nf_conntrack_tcp_be_liberal. `kproxy facts`
// prints it in render's --node-facts format; the live proxier uses the same probe.
#pragma once

#include "netlink/iptables_restore.h"
#include "netlink/nfacct.h"
#include "netlink/sysctl.h"
#include "src/config/node_facts.h"

namespace kproxy::cli {

// Missing pieces (no nfacct support, unreadable sysctl) leave the defaults; interface listing
// failures are errors.
Result<config::NodeFacts> probeNodeFacts(netlink::IptablesRestore& iptables, netlink::NfacctClient* nfacct,
                                         netlink::Sysctl& sysctl);

}  // namespace kproxy::cli
