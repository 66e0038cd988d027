// IpvsApplier: makes the kernel hold an IPVS plan (spec ipvs-and-runtime.md §1.3 steps 4-14,
// §1.4, §1.7, §1.8) through the netlink clients. It reads what the kernel holds now (virtual
// servers of this family with their destinations and connection counts, the planned sets, the
// addresses of kube-ipvs0), asks diff.h for the difference and runs only that: nothing is
// flushed, virtual servers the plan does not own (other family, excludeCIDRs) stay, unchanged
// destinations keep their connections.
//
// Order, as upstream: kube-ipvs0 ensured; sets created and their members changed in place;
// virtual and real servers added/updated (one netlink batch); addresses bound; the iptables
// payload restored; only after a successful restore, addresses unbound and stale virtual servers
// deleted. A destination that leaves is deleted at once when UDP/SCTP or idle, else quiesced
// (weight 0) and kept on the termination list until a later sync or sweep() sees it idle.
//
// Failures of single items do not stop the sync (upstream logs them); they are returned in
// ApplyReport::errors. A failed restore stops the sync before the removals and is the Error.
//
// Full and partial applies (issue: a one-endpoint change at 5k services must not dump every
// virtual server). A full apply reads the kernel's state (one dump of every virtual server with
// its destinations, the planned sets, kube-ipvs0's addresses), restores the iptables payload and
// repairs whatever drifted. After any apply that went through without an item failing, the
// applier keeps the state the kernel now holds (known state: the plan, plus what it leaves alone
// and the quiesced destinations). A partial apply diffs the plan against that known state instead
// of reading the kernel, reads fresh connection counts only of the virtual servers that lose a
// destination (graceful termination decides with them), and skips the iptables restore when the
// payload is the one restored last. Drift made behind kproxy's back is repaired by the next full
// apply. Any error (a failed item, a failed restore, a failed read) forgets the known state, so
// the next apply is full whatever is asked.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "modes/ipvs/diff.h"
#include "modes/ipvs/graceful_termination.h"
#include "modes/ipvs/planner.h"
#include "netlink/ipset.h"
#include "netlink/iptables_restore.h"
#include "netlink/ipvs.h"
#include "netlink/link.h"

namespace kproxy::ipvs {

struct IpvsApplierDeps {
  netlink::IpvsClient& ipvs;
  netlink::LinkClient& links;
  netlink::IpSetClient& ipsets;
  netlink::IptablesRestore* iptables = nullptr;  // null: the iptables payload is not applied
};

struct ApplyReport {
  // What ran, by kind (kRemoveRealServer split into deleted and quiesced).
  size_t sets_created = 0;
  size_t set_members_added = 0;
  size_t set_members_deleted = 0;
  size_t virtual_servers_added = 0;
  size_t virtual_servers_updated = 0;
  size_t virtual_servers_deleted = 0;
  size_t real_servers_added = 0;
  size_t real_servers_updated = 0;
  size_t real_servers_deleted = 0;
  size_t real_servers_quiesced = 0;
  size_t addresses_bound = 0;
  size_t addresses_unbound = 0;
  size_t ipvs_operations = 0;  // netlink IPVS commands sent
  // Time spent in the IPVS batches (virtual and real servers only), in set members, in the
  // iptables restore, and in the whole apply (reads included).
  std::chrono::nanoseconds ipvs_duration{0};
  std::chrono::nanoseconds ipset_duration{0};
  std::chrono::nanoseconds iptables_duration{0};
  std::chrono::nanoseconds total_duration{0};
  // Whether the kernel's state was read (a full apply, or a partial one without a known state),
  // and whether the iptables payload was restored.
  bool read_kernel_state = false;
  bool iptables_restored = false;
  // The change list that ran (IpvsChangeList::toString()), for logs and tests.
  std::string changes;
  // One line per failed item ("ipvs: add real server ...: ESRCH (...)"); the sync went on.
  std::vector<std::string> errors;
};

// Reads the kernel's IPVS state of `family` as an IpvsState: the virtual servers of that family
// with their destinations (connection counts filled), the sets named by `desired_sets` that exist,
// the addresses of kube-ipvs0 of that family (none when the link is missing).
Result<IpvsState> readObservedState(netlink::IpvsClient& ipvs, netlink::LinkClient& links,
                                    netlink::IpSetClient& ipsets, IpFamily family,
                                    const std::vector<IpSet>& desired_sets);

// Conversions between the planner's values and the kernel client's.
netlink::IpvsService toNetlinkService(const VirtualServer& vs);
netlink::IpvsDestination toNetlinkDestination(const RealServer& rs);
// nullopt for protocols IPVS mode does not program (e.g. a fwmark service).
std::optional<VirtualServer> fromNetlinkService(const netlink::IpvsService& service);

enum class ApplyKind : uint8_t { kFull, kPartial };

class IpvsApplier {
 public:
  explicit IpvsApplier(IpvsApplierDeps deps) : deps_(deps) {}

  // Applies `plan` (one family). Error only when the sync had to stop (kube-ipvs0 or a set
  // cannot be created, the state cannot be read, the restore failed). kPartial is taken as
  // kFull when no known state is kept (the first apply, or after an error).
  Result<ApplyReport> apply(const IpvsPlan& plan, ApplyKind kind = ApplyKind::kFull);

  // The state the kernel holds after the last apply that went through, if one is kept.
  const std::optional<IpvsState>& knownState() const { return known_; }
  // Forgets the known state: the next apply reads the kernel (a full sync was asked for).
  void forgetKnownState() {
    known_.reset();
    restored_payload_.reset();
  }

  // Graceful termination's periodic step: reads fresh counts of the listed destinations and
  // deletes the idle and vanished ones. Returns how many were deleted.
  Result<size_t> sweep();

  const TerminationList& terminationList() const { return terminating_; }

 private:
  Status ensureChainJumps(IpFamily family);
  Status fillRemovalCounts(IpvsChangeList& list);

  IpvsApplierDeps deps_;
  TerminationList terminating_;
  std::optional<IpvsState> known_;
  std::optional<std::string> restored_payload_;  // the iptables payload last restored
};

}  // namespace kproxy::ipvs
