// Matching a packet against an ip set as the kernel's `-m set --match-set NAME FLAGS` does, for
// `kproxy trace` in IPVS mode (tracer.h). PURE.
//
// FLAGS is the comma-separated list iptables takes ("dst,dst", "src,dst", "dst,dst,src", "dst"):
// the i-th flag says whether the i-th dimension of the set's type is read from the packet's
// source or its destination. An address dimension takes the address; a port dimension takes the
// port and the protocol ("tcp:80"; a member written without a protocol means tcp, as in ipset);
// a net dimension (hash:ip,port,net) holds when the address lies in the member's CIDR. bitmap:port
// has one port dimension and no protocol. A packet's source port is not known to the tracer, so a
// port dimension read from "src" never matches. As in the kernel, fewer flags than dimensions
// match on the first dimensions only, more flags than dimensions are an error when compiling.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "modes/ipvs/state.h"
#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::ipvs {

struct SetPacket {
  IpAddress source;
  IpAddress destination;
  int destination_port = 0;
  std::string protocol = "tcp";  // lower case
};

// The flags of a --match-set: true = "src", false = "dst". Errors on anything else.
Result<std::vector<bool>> parseSetFlags(std::string_view flags);

// One member of `set` parsed into its dimensions.
struct SetMember {
  struct Element {
    enum class Kind : uint8_t { kAddress, kPort, kNet } kind = Kind::kAddress;
    IpAddress address;        // kAddress
    Cidr net;                 // kNet
    std::string protocol;     // kPort: "tcp" / "udp" / "sctp"; "" for bitmap:port
    int port = 0;             // kPort
  };
  std::vector<Element> elements;
};

// Parses a member as `ipset add` takes it for `type`: "10.96.0.10,tcp:80", "1.2.3.4,tcp:80,10.0.0.0/8",
// "[2001:db8::1],tcp:80" (brackets optional), "3001".
Result<SetMember> parseSetMember(IpSetType type, std::string_view text);

// A set compiled for matching. Members that do not parse are reported by compile().
class SetMatcher {
 public:
  static Result<SetMatcher> compile(const IpSet& set);
  // Whether the packet, read through `src_flags` (parseSetFlags), is a member.
  bool matches(const std::vector<bool>& src_flags, const SetPacket& packet) const;
  const std::string& name() const { return name_; }
  // The number of dimensions of the set's type.
  size_t dimensions() const { return dimensions_; }

 private:
  std::string name_;
  IpSetType type_ = IpSetType::kHashIp;
  size_t dimensions_ = 1;
  std::vector<SetMember> members_;
};

// The number of dimensions of a set type: hash:ip 1, hash:ip,port 2, hash:ip,port,ip 3, ...
size_t setDimensions(IpSetType type);

}  // namespace kproxy::ipvs
