// NodeFacts: what upstream kube-proxy probes on the node rather than reads from its configuration
// (local interface addresses, iptables features, nfacct counters, one sysctl). `kproxy render`
// takes them from a YAML file (--node-facts); the live proxier probes them.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::config {

inline constexpr char kNfacctInvalidDropped[] = "ct_state_invalid_dropped_pkts";
inline constexpr char kNfacctLocalhostNodePorts[] = "localhost_nps_accepted_pkts";

struct NodeFacts {
  std::vector<InterfaceAddress> local_addresses;  // every address of every interface, with prefix
  bool random_fully = false;                       // iptables supports --random-fully
  std::set<std::string> nfacct_counters;           // nfacct counters that exist
  bool conntrack_tcp_be_liberal = false;           // net.netfilter.nf_conntrack_tcp_be_liberal != 0
};

// YAML keys: localAddresses, randomFully, nfacctCounters, conntrackTCPBeLiberal.
// Unknown keys are errors (a typo would silently change the rendered rules).
Result<NodeFacts> decodeNodeFacts(std::string_view bytes, std::string_view source);
std::string encodeNodeFacts(const NodeFacts& facts);

}  // namespace kproxy::config
