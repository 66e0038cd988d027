// ConntrackClient: the conntrack table as the UDP reconciler needs it (spec ipvs-and-runtime.md
// §2.1): dump one family's UDP flows, delete a list of them. The libnetfilter_conntrack
// implementation is NfctConntrackClient (conntrack_nfct.h); the state-holding fake is
// tests/fakes/fake_conntrack.h, and both pass tests/contract/conntrack_contract.h.
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::netlink {

inline constexpr uint8_t kIpProtoTcp = IPPROTO_TCP;
inline constexpr uint8_t kIpProtoUdp = IPPROTO_UDP;
inline constexpr uint8_t kIpProtoSctp = IPPROTO_SCTP;

// One conntrack entry: its original tuple (what the client sent: orig dst is the service frontend)
// and its reply tuple (what comes back: after DNAT, reply src is the endpoint).
struct ConntrackFlow {
  IpFamily family = IpFamily::kIPv4;
  uint8_t protocol = kIpProtoUdp;  // IPPROTO_*
  IpAddress orig_src;
  IpAddress orig_dst;
  uint16_t orig_sport = 0;
  uint16_t orig_dport = 0;
  IpAddress reply_src;
  IpAddress reply_dst;
  uint16_t reply_sport = 0;
  uint16_t reply_dport = 0;
  uint16_t zone = 0;  // conntrack zone (0: the default zone)
  // The kernel's id of the entry, as a dump reports it (0: unknown). remove() passes it along so
  // that an entry recreated under the same tuple after the dump is not deleted by mistake. It
  // names one incarnation of the flow, not the flow, so operator== leaves it out.
  uint32_t id = 0;

  bool operator==(const ConntrackFlow& o) const {
    return family == o.family && protocol == o.protocol && orig_src == o.orig_src && orig_dst == o.orig_dst &&
           orig_sport == o.orig_sport && orig_dport == o.orig_dport && reply_src == o.reply_src &&
           reply_dst == o.reply_dst && reply_sport == o.reply_sport && reply_dport == o.reply_dport &&
           zone == o.zone;
  }

  // Like a line of `conntrack -L`, with the family first:
  // "ipv4 udp src=10.0.0.1 dst=10.96.0.10 sport=40000 dport=53 src=10.244.0.3 dst=10.0.0.1 sport=5353 dport=40000"
  // (" zone=N" appended when the zone is not 0).
  std::string toString() const {
    std::string out = family == IpFamily::kIPv6 ? "ipv6 " : "ipv4 ";
    switch (protocol) {
      case kIpProtoUdp: out += "udp"; break;
      case kIpProtoTcp: out += "tcp"; break;
      case kIpProtoSctp: out += "sctp"; break;
      default: out += "proto" + std::to_string(protocol); break;
    }
    auto tuple = [&out](const IpAddress& src, const IpAddress& dst, uint16_t sport, uint16_t dport) {
      out += " src=" + src.toString() + " dst=" + dst.toString() + " sport=" + std::to_string(sport) +
             " dport=" + std::to_string(dport);
    };
    tuple(orig_src, orig_dst, orig_sport, orig_dport);
    tuple(reply_src, reply_dst, reply_sport, reply_dport);
    if (zone != 0) out += " zone=" + std::to_string(zone);
    return out;
  }
};

class ConntrackClient {
 public:
  virtual ~ConntrackClient() = default;

  // Every UDP entry of `family`, in the kernel's order. A dump interrupted by EINTR (retried a few
  // times first, as upstream's MaxAttemptsEINTR) is returned as success with the entries read so
  // far: upstream reconciles with such a partial result. Any other failure is an Error.
  virtual Result<std::vector<ConntrackFlow>> dumpUdp(IpFamily family) = 0;

  // Deletes `flows` (each found by family, protocol, original tuple and zone, and by id when it is
  // not 0) in batches over one netlink socket and returns how many were deleted. An entry that is already gone
  // is success and is not counted. On other failures the remaining flows are still tried, and the
  // Error names the first failure and how many were deleted.
  virtual Result<size_t> remove(const std::vector<ConntrackFlow>& flows) = 0;
};

}  // namespace kproxy::netlink
