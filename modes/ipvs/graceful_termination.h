// The decisions of upstream's graceful termination of IPVS destinations (pkg/proxy/ipvs
// graceful_termination.go; spec ipvs-and-runtime.md §1.8), without the kernel calls: the applier
// asks here what to do and then does it. Pure: no clock, no kernel, no logging.
//
//  * A destination that leaves a virtual server is deleted at once when its protocol has no
//    graceful termination (UDP, SCTP: expire_nodest_conn=1 drops their flows on the next packet)
//    or when it has no connections; otherwise its weight goes to 0 (no new connections) and it is
//    put on the termination list.
//  * Every minute the list is swept with fresh connection counts: a listed destination without
//    connections, or one that has vanished, is deleted / dropped from the list. There is no
//    maximum grace period.
//  * A listed destination that becomes desired again is deleted and re-added at weight 1.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "modes/ipvs/state.h"

namespace kproxy::ipvs {

// One destination of one virtual server.
struct DestinationRef {
  VirtualServerKey virtual_server;
  IpAddress address;
  uint16_t port = 0;

  // upstream GetUniqueRSName: "<VIP>:<port>/<PROTO>/<RIP>:<rport>", e.g.
  // "10.20.30.41:80/TCP/10.180.0.1:8080", "[2001::1]:80/TCP/[2001::5]:8080".
  std::string uniqueName() const;
  auto operator<=>(const DestinationRef& other) const = default;
  bool operator==(const DestinationRef& other) const = default;
};

// upstream IsRsGracefulTerminationNeeded: TCP only (not UDP, not SCTP).
bool gracefulTerminationNeeded(api::Protocol protocol);

enum class RemovalDecision {
  kDeleteNow,  // DEL_DEST now
  kQuiesce,    // SET_DEST weight 0 now, put on the termination list
};

// What to do with a destination that is no longer desired.
RemovalDecision decideRemoval(api::Protocol protocol, uint32_t active_connections, uint32_t inactive_connections);

// The termination list, keyed by DestinationRef (upstream keys it by the unique name).
class TerminationList {
 public:
  // Adds `dest`; false when it was listed already.
  bool add(const DestinationRef& dest);
  bool remove(const DestinationRef& dest);
  bool contains(const DestinationRef& dest) const { return listed_.count(dest) != 0; }
  size_t size() const { return listed_.size(); }
  bool empty() const { return listed_.empty(); }
  // In DestinationRef order.
  std::vector<DestinationRef> entries() const { return {listed_.begin(), listed_.end()}; }

 private:
  std::set<DestinationRef> listed_;
};

// Fresh counts of a listed destination, as read from the kernel; nullopt when the destination
// (or its virtual server) is gone.
struct ConnectionCounts {
  uint32_t active = 0;
  uint32_t inactive = 0;
};

struct SweepResult {
  std::vector<DestinationRef> delete_now;  // DEL_DEST, then drop from the list
  std::vector<DestinationRef> vanished;    // drop from the list; nothing to delete
  std::vector<DestinationRef> keep;        // still has connections: stays at weight 0
};

// The periodic sweep: `counts` holds what the kernel reports for the listed destinations
// (missing key = vanished). Each listed destination lands in exactly one of the three lists, in
// list order.
SweepResult sweep(const TerminationList& list, const std::map<DestinationRef, ConnectionCounts>& counts);

// What to do with a desired destination found on the termination list during a sync: upstream
// deletes it and adds it back fresh at weight 1 (and drops it from the list).
inline bool mustReAdd(const TerminationList& list, const DestinationRef& dest) { return list.contains(dest); }

}  // namespace kproxy::ipvs
