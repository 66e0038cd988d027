// diff(observed, desired): the kernel operations that turn the observed IPVS state into the
// desired one, in a safe order (design.md convention 3; spec ipvs-and-runtime.md §1.3, §1.7).
// Pure: the applier reads the observed state, asks for the diff, then executes it. Unchanged
// virtual servers, real servers, set members and addresses produce no change, so their
// connections are left alone.
//
// Order of the list:
//   1. IP sets: create the missing ones; then per set, members removed and added in place.
//   2. Virtual servers, in key order: a new one is added before its real servers; a changed one
//      (scheduler, flags other than "hashed", persistence timeout) is updated in place, so its
//      address keeps answering; then its real servers: added, weight restored, and removed.
//      A removed real server is a candidate for graceful termination: the change carries the
//      observed destination with its connection counts for graceful_termination.h to decide.
//   3. Addresses bound on kube-ipvs0.
//   --- cleanupBegin(): upstream runs the rest only after a successful iptables-restore ---
//   4. Addresses unbound from kube-ipvs0.
//   5. Virtual servers deleted (whole services: their real servers go with them, without graceful
//      termination). So every real-server removal comes before every virtual-server deletion.
//
// What is left alone (upstream does not own it): virtual servers and kube-ipvs0 addresses of the
// other IP family; virtual servers inside desired.exclude_cidrs; kube-ipvs0 addresses upstream
// never lists (loopback, IPv6 link-local); IP sets the desired state does not name.
#pragma once

#include <string>
#include <vector>

#include "modes/ipvs/graceful_termination.h"
#include "modes/ipvs/state.h"

namespace kproxy::ipvs {

enum class IpvsChangeKind : uint8_t {
  kCreateIpSet,          // ipset create NAME TYPE ... -exist
  kDeleteIpSetMember,    // ipset del NAME MEMBER
  kAddIpSetMember,       // ipset add NAME MEMBER -exist
  kAddVirtualServer,     // IPVS_CMD_NEW_SERVICE
  kUpdateVirtualServer,  // IPVS_CMD_SET_SERVICE
  kAddRealServer,        // IPVS_CMD_NEW_DEST
  kUpdateRealServer,     // IPVS_CMD_SET_DEST: the desired weight (1) on a destination that has another
  kRemoveRealServer,     // not desired any more: delete now or quiesce (graceful_termination.h)
  kBindAddress,          // ip addr add ADDR/32 dev kube-ipvs0
  kUnbindAddress,        // ip addr del ADDR/32 dev kube-ipvs0
  kDeleteVirtualServer,  // IPVS_CMD_DEL_SERVICE
};

struct IpvsChange {
  IpvsChangeKind kind = IpvsChangeKind::kAddVirtualServer;
  // Virtual-server and real-server kinds: the virtual server (desired attributes; for a deletion
  // the observed ones), its real_servers left empty.
  VirtualServer virtual_server;
  // Real-server kinds: the destination (desired; for kRemoveRealServer as observed, with its
  // connection counts).
  RealServer real_server;
  // Set kinds: the set's definition (members left empty) and, for member kinds, the member.
  IpSet ipset;
  std::string member;
  // Address kinds.
  IpAddress address;

  // For logs and test messages, e.g. "add real server 10.180.0.1:80 to 10.20.30.41:80/TCP (weight 1)".
  std::string toString() const;
};

struct IpvsChangeList {
  std::vector<IpvsChange> changes;
  // Index of the first change of steps 4-5 (== changes.size() when there is none).
  size_t cleanup_begin = 0;

  size_t cleanupBegin() const { return cleanup_begin; }
  bool empty() const { return changes.empty(); }
  size_t count(IpvsChangeKind kind) const;
  // One toString() per line.
  std::string toString() const;
};

IpvsChangeList diff(const IpvsState& observed, const IpvsState& desired);

// The state the kernel holds once `list` (diff(observed, desired)) has run without an error:
// desired's virtual servers, sets and addresses; observed's virtual servers that were not deleted
// (excludeCIDRs); the destinations still on `terminating` at weight 0; observed's kube-ipvs0
// addresses that were not unbound. The applier keeps it as its known state
// (applier.h).
IpvsState stateAfter(const IpvsState& observed, const IpvsState& desired, const IpvsChangeList& list,
                     const TerminationList& terminating);

}  // namespace kproxy::ipvs
