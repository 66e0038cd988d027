// Removing a mode's iptables leftovers (kproxy cleanup, run --cleanup, mode switches): shared by
// every mode's cleanup. Problems are appended to `errors`, one line each, prefixed by the family.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "netlink/iptables_restore.h"

namespace kproxy::netlink {

// Deletes every copy of one rule (a crashed process may have left duplicates).
void deleteRuleEveryCopy(IptablesRestore& iptables, IpFamily family, std::string_view table, std::string_view chain,
                         const std::vector<std::string>& args, std::vector<std::string>* errors);

// Flushes and deletes, in one restore, the chains of `table` that `owned` claims (a chain still
// jumped to cannot be deleted, and flushing them all first drops their jumps to each other).
void deleteOwnedChains(IptablesRestore& iptables, IpFamily family, std::string_view table,
                       const std::function<bool(std::string_view)>& owned, std::vector<std::string>* errors);

// The chain names an iptables-save text declares (":NAME POLICY [p:b]" lines), in order.
std::vector<std::string_view> savedChainNames(std::string_view saved);

}  // namespace kproxy::netlink
