#include "modes/ipvs/graceful_termination.h"

namespace kproxy::ipvs {

std::string DestinationRef::uniqueName() const {
  RealServer rs{.address = address, .port = port};
  return virtual_server.toString() + "/" + rs.toString();
}

bool gracefulTerminationNeeded(api::Protocol protocol) {
  // upstream: UDP and SCTP flows are dropped by expire_nodest_conn on their next packet.
  return protocol == api::Protocol::kTCP;
}

RemovalDecision decideRemoval(api::Protocol protocol, uint32_t active_connections, uint32_t inactive_connections) {
  if (!gracefulTerminationNeeded(protocol)) return RemovalDecision::kDeleteNow;
  // 64-bit sum: two u32 counters cannot wrap to zero.
  if (uint64_t{active_connections} + uint64_t{inactive_connections} == 0) return RemovalDecision::kDeleteNow;
  return RemovalDecision::kQuiesce;
}

bool TerminationList::add(const DestinationRef& dest) { return listed_.insert(dest).second; }

bool TerminationList::remove(const DestinationRef& dest) { return listed_.erase(dest) != 0; }

SweepResult sweep(const TerminationList& list, const std::map<DestinationRef, ConnectionCounts>& counts) {
  SweepResult out;
  for (const auto& dest : list.entries()) {
    auto it = counts.find(dest);
    if (it == counts.end()) {
      out.vanished.push_back(dest);
      continue;
    }
    if (decideRemoval(dest.virtual_server.protocol, it->second.active, it->second.inactive) ==
        RemovalDecision::kDeleteNow) {
      out.delete_now.push_back(dest);
    } else {
      out.keep.push_back(dest);
    }
  }
  return out;
}

}  // namespace kproxy::ipvs
