// IptablesApplier: writes an IptablesPlan into the kernel with iptables-restore --noflush.
//
// Every apply is one iptables-restore run holding both tables, nat first, then filter. Why one run
// is not yet one transaction: iptables-restore commits each table at its COMMIT line, on both back
// ends (legacy: one IPT_SO_SET_REPLACE of the whole table; nf_tables: one netlink batch per
// table; measured with iptables 1.8.9 — a run whose second table fails or is cut short keeps its
// first). What the kernel guarantees is therefore per table: each table goes from its old
// rules to its new ones at once, never half-written. To get "the complete old or the complete new
// ruleset" across both tables when kproxy is killed (SIGKILL, OOM) during a sync:
//  * the input is complete before iptables-restore starts (a memory file as its stdin, see
//    src/util/subprocess.h), so kproxy dying cannot hand it a truncated input, and the child
//    (own process group, no parent-death signal) runs to its end after kproxy is gone: killed
//    before the child starts, the kernel keeps the old rules; after, it gets the new ones;
//  * nat goes first: if the child fails in its second table, or is itself killed (the whole
//    PID namespace of a container ends), the window in which nat is new and filter still old is
//    the few milliseconds filter (a few hundred rules) takes, not the seconds nat takes; and a
//    rejected nat block, by far the likelier failure, leaves both tables untouched.
// tests/netns/crash_safety_test.cc kills `kproxy sync` and `kproxy run` at many points of a full
// sync and compares every table with the old and the new state.
//
// Beyond upstream:
//  * partial syncs leave out the top-level chains whose content is identical to what this applier
//    last wrote (at 10k services this cuts a one-endpoint restore from ~1 s to ~45 ms);
//  * on the nf_tables back end, a restore that names many chains starts its nat block with "-S"
//    (see ApplyOptions::nft_whole_table_cache_min_chains): iptables-nft-restore --noflush is then
//    as fast as a plain restore.
// A full sync is never split into several restores (an earlier option wrote large full syncs in
// chunks; a kill between chunks left chains of both states, so it went).
// After a failed restore the applier forgets what it wrote, so the next apply writes everything.
#pragma once

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "modes/iptables/plan.h"
#include "netlink/iptables_restore.h"

namespace kproxy::iptables {

struct ApplyOptions {
  // nf_tables back end: a restore whose nat block declares at least this many chains gets "-S" as
  // the first line of that block (0: never). Why: with --noflush, iptables-nft 1.8.x collects every
  // chain a restore names (declared, appended to, jumped to) into a sorted linked list, one
  // strcmp walk per command, and then fetches those chains with one netlink request each, so a
  // restore naming n chains costs O(n^2): 53 s against a 1.7 s plain restore at 2k services.
  // A command that names no chain switches it to fetching the whole table once. "-S" (list the
  // table's rules) is such a command that changes nothing; it prints to stdout, which the
  // process runner sends to /dev/null. Its price is one dump of the table's rules (an
  // iptables-save's worth), so it is also skipped while the table already holds many chains
  // and the restore names comparatively few (see IptablesApplier::wantsWholeTableCache).
  size_t nft_whole_table_cache_min_chains = 1000;
  // Leave out top-level chains unchanged since this applier last wrote them (partial syncs).
  bool skip_unchanged_top_level = true;
};

struct ApplyReport {
  size_t bytes_written = 0;
  size_t restores = 0;
  std::chrono::nanoseconds duration{0};
};

class IptablesApplier {
 public:
  IptablesApplier(netlink::IptablesRestore& iptables, IpFamily family, ApplyOptions options = {});

  // `kernel_nat_chains` are the per-service nat chains that exist before this apply.
  Result<ApplyReport> apply(const IptablesPlan& plan, const ChainNameSet& kernel_nat_chains);

  // Forget what was written: the next apply writes every top-level chain.
  void invalidate() { written_top_level_.clear(); }

  // The restore that failed last, for logging the lines around the failure.
  const std::string& lastFailedInput() const { return last_failed_input_; }

 private:
  Status restore(const std::vector<std::string_view>& input, ApplyReport& report);
  Status restore(const std::string& input, ApplyReport& report) { return restore(std::vector<std::string_view>{input}, report); }
  // Whether a restore declaring `declared_nat_chains` into a nat table holding about
  // `existing_nat_chains` chains should carry the whole-table cache hint.
  bool wantsWholeTableCache(size_t declared_nat_chains, size_t existing_nat_chains) const;
  // Records the top-level chains of one table of a plan as written.
  void rememberTopLevel(std::string_view table, std::string_view chain_lines, std::string_view rule_lines);

  netlink::IptablesRestore& iptables_;
  IpFamily family_;
  ApplyOptions options_;
  // (table, chain) -> the "-A" lines last written for each top-level chain.
  std::map<std::pair<std::string, std::string>, std::string> written_top_level_;
  std::string last_failed_input_;
};

// The line that makes iptables-nft-restore fetch the whole table at once (ApplyOptions).
inline constexpr std::string_view kWholeTableCacheHint = "-S\n";

// True for chains the proxier rewrites on every sync (not per-service chains).
bool isTopLevelChain(std::string_view chain);

// "line N-1, N, N+1" of `input` around a failing line, for the log (upstream ExtractLines).
std::string linesAround(const std::string& input, int line, int context = 3);

}  // namespace kproxy::iptables
