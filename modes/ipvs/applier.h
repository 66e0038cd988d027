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

class IpvsApplier {
 public:
  explicit IpvsApplier(IpvsApplierDeps deps) : deps_(deps) {}

  // Applies `plan` (one family). Error only when the sync had to stop (kube-ipvs0 or a set
  // cannot be created, the state cannot be read, the restore failed).
  Result<ApplyReport> apply(const IpvsPlan& plan);

  // Graceful termination's periodic step: reads fresh counts of the listed destinations and
  // deletes the idle and vanished ones. Returns how many were deleted.
  Result<size_t> sweep();

  const TerminationList& terminationList() const { return terminating_; }

 private:
  Status ensureChainJumps(IpFamily family);

  IpvsApplierDeps deps_;
  TerminationList terminating_;
};

}  // namespace kproxy::ipvs
