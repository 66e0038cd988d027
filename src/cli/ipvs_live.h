// The live verbs of IPVS mode: `kproxy sync --proxy-mode ipvs` (one full sync per family into the
// current network namespace, with upstream's startup checks first) and the IPVS part of
// `kproxy cleanup` (spec ipvs-and-runtime.md §1.12).
#pragma once

#include <string>
#include <vector>

#include "netlink/iptables_restore.h"
#include "src/cli/live_commands.h"

namespace kproxy::cli {

// With verbosity >= 1 it writes, per family, the applied change list and the timings to `err`.
int runSyncIpvs(const SyncOptions& options, std::string& err);

// Flushes every IPVS virtual server, deletes kube-ipvs0 (if dummy), the jumps and chains of IPVS
// mode in both families, then the IP sets of IPVS mode. Missing pieces are not errors; no IPVS in
// the kernel skips the IPVS part silently, as upstream.
CleanupReport cleanupIpvs(netlink::IptablesRestore& iptables, const std::vector<IpFamily>& families);

}  // namespace kproxy::cli
