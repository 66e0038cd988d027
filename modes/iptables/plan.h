// IptablesPlan: the result of planning one sync of one IP family in iptables mode. The plan is a
// value: the iptables-restore input exactly as upstream kube-proxy would write it, plus what the
// proxier needs to apply it and account for it.
#pragma once

#include <array>
#include <cstddef>
#include <string_view>
#include <set>
#include <string>
#include <vector>

#include "modes/iptables/chain_name_set.h"
#include "src/util/ip.h"

namespace kproxy::iptables {

struct IptablesPlan {
  IpFamily family = IpFamily::kIPv4;
  bool full_sync = true;
  // The restore input is "*filter\n" + filter_chains + filter_rules + "COMMIT\n*nat\n" +
  // nat_chains + nat_rules + "COMMIT\n". It is kept in pieces so that a large payload (tens of
  // megabytes) is written out without being copied once more.
  std::string filter_chains;
  std::string filter_rules;
  std::string nat_chains;
  std::string nat_rules;

  // The pieces in order, for writev-style output.
  std::array<std::string_view, 7> payloadPieces() const {
    return {"*filter\n", filter_chains, filter_rules, "COMMIT\n*nat\n", nat_chains, nat_rules, "COMMIT\n"};
  }
  // The whole iptables-restore input as one string (copies).
  std::string payload() const;
  size_t payloadSize() const;

  // Per-service nat chains in use after this sync (written now, or kept from earlier syncs in a
  // partial sync); never deleted as stale. Unique, in emission order. Filled only when this sync
  // looked for stale chains (stale_chains_checked), the one thing that needs it.
  std::vector<std::string> active_nat_chains;
  // Chains declared (created or flushed and rewritten) in the nat table by this payload.
  std::vector<std::string> written_nat_chains;
  // Stale per-service chains this payload deletes ("-X").
  std::vector<std::string> deleted_nat_chains;
  // Whether stale chains were looked for (false when throttled in large-cluster mode or when the
  // existing chains were unknown); the proxier records the time when true.
  bool stale_chains_checked = false;
  bool large_cluster_mode = false;

  // Numbers for upstream's metrics (spec iptables-mode.md §6.5).
  size_t filter_rule_count = 0;        // filter rules written
  size_t nat_rule_count = 0;           // nat rule lines written, including "-X" lines
  size_t nat_rules_skipped_count = 0;  // nat rules of unchanged services left out of a partial sync
  size_t total_endpoints = 0;
  int no_local_endpoints_internal = 0;
  int no_local_endpoints_external = 0;

  // kubeproxy_sync_proxy_rules_iptables_total{table="nat"} and ..._last{table="nat"}.
  size_t natRulesTotal() const { return nat_rule_count + nat_rules_skipped_count - deleted_nat_chains.size(); }
  size_t natRulesLast() const { return nat_rule_count - deleted_nat_chains.size(); }
};

// The per-service nat chains that exist in the kernel after `plan` was restored on top of a
// kernel that had `before`.
ChainNameSet natChainsAfter(const ChainNameSet& before, const IptablesPlan& plan);

}  // namespace kproxy::iptables
