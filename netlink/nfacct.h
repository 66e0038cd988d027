// NfacctClient: the nfacct counters kube-proxy creates so that two of its rules can count packets
// (ct_state_invalid_dropped_pkts, localhost_nps_accepted_pkts). A rule with "-m nfacct" fails to
// load when its counter is missing, so the proxier only writes the match for counters that exist.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/util/result.h"

namespace kproxy::netlink {

class NfacctClient {
 public:
  virtual ~NfacctClient() = default;
  // Creates the counter; an existing one is success.
  virtual Status ensure(std::string_view name) = 0;
  virtual Result<std::vector<std::string>> list() = 0;
  // Packet count of one counter (kubeproxy_iptables_ct_state_invalid_dropped_packets_total etc.).
  virtual Result<uint64_t> packets(std::string_view name) = 0;
};

// nfnetlink (NFNL_SUBSYS_ACCT) over a libnl socket.
std::unique_ptr<NfacctClient> newNetlinkNfacct();

}  // namespace kproxy::netlink
