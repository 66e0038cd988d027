#include "src/cli/node_probe.h"

#include "netlink/interfaces.h"

namespace kproxy::cli {

Result<config::NodeFacts> probeNodeFacts(netlink::IptablesRestore& iptables, netlink::NfacctClient* nfacct,
                                         netlink::Sysctl& sysctl) {
  config::NodeFacts facts;
  auto addresses = netlink::listInterfaceAddresses();
  if (!addresses.ok()) return addresses.error();
  for (const auto& a : *addresses) facts.local_addresses.push_back(a.address);
  facts.random_fully = iptables.hasRandomFully();
  if (nfacct != nullptr) {
    if (auto names = nfacct->list(); names.ok()) facts.nfacct_counters.insert(names->begin(), names->end());
  }
  if (auto liberal = sysctl.get("net/netfilter/nf_conntrack_tcp_be_liberal"); liberal.ok()) {
    facts.conntrack_tcp_be_liberal = *liberal != 0;
  }
  return facts;
}

}  // namespace kproxy::cli
