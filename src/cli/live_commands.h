// The verbs that touch the node: `kproxy sync` (one full sync into the current network namespace),
// `kproxy cleanup` (remove what kproxy/kube-proxy created), `kproxy facts` (print this node's
// probed facts for render --node-facts) and `kproxy run --objects` (the daemon fed from manifest
// files).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/iptables_restore.h"
#include "src/cli/verbs.h"

namespace kproxy::cli {

struct SyncOptions {
  std::vector<std::string> files;
  std::string config_path;
  std::string hostname_override;
  std::string proxy_mode;
  std::string ip_family;  // "" = every family the node has
  int verbosity = 0;
};
int runSync(const SyncOptions& options, std::string& err);

struct CleanupReport {
  std::vector<std::string> errors;
};

// Shared by both modes' cleanups. Deletes every copy of one rule (a crashed process may have left
// duplicates); problems go to `report`.
void deleteRuleEveryCopy(netlink::IptablesRestore& iptables, IpFamily family, std::string_view table,
                         std::string_view chain, const std::vector<std::string>& args, CleanupReport& report);
// Flushes and deletes, in one restore (a chain still jumped to cannot be deleted, and flushing
// them all first drops their jumps to each other), the chains of `table` that `owned` claims.
void deleteOwnedChains(netlink::IptablesRestore& iptables, IpFamily family, std::string_view table,
                       const std::function<bool(const std::string&)>& owned, CleanupReport& report);
// Removes every chain and jump rule of iptables mode in every family (spec iptables-mode.md §2.3,
// plus the chains upstream's cleanup leaves: KUBE-MARK-MASQ, KUBE-PROXY-FIREWALL, the canaries).
// kubelet's KUBE-FIREWALL and its jumps stay: kubelet owns them too.
CleanupReport cleanupIptables(netlink::IptablesRestore& iptables, const std::vector<IpFamily>& families);

Verb addSyncVerb(CLI::App& app);
// `kproxy cleanup` in this network namespace: IPVS mode's leftovers, then iptables mode's.
// Problems go to `err`, one "error: ..." line each; returns the exit code (0 or 1).
int runCleanup(std::string& err);
Verb addCleanupVerb(CLI::App& app);
Verb addFactsVerb(CLI::App& app);

}  // namespace kproxy::cli
