// How the kernel itself would print some rules: restores them into a throw-away network namespace
// (a forked child that unshares its netns) and returns that namespace's iptables-save output.
// `kproxy diff` compares live rules with a plan this way, so formatting the kernel tools apply
// (match order on nf_tables, quoting, "0x4000" for "0x00004000", probability digits) never shows
// up as drift.
#pragma once

#include <string>
#include <vector>

#include "netlink/iptables_restore.h"

namespace kproxy::netlink {

Result<std::string> savedAfterRestoreInScratchNetns(IptablesBackend backend, IpFamily family,
                                                    const std::vector<std::string>& nfacct_counters,
                                                    const std::string& restore_input);

}  // namespace kproxy::netlink
