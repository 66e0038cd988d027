// IpvsState: everything IPVS mode programs besides its iptables rules, as sorted values (design.md
// "ipvs/state.h"): the virtual servers with their real servers, the IP sets with their members, and
// the addresses on the dummy interface kube-ipvs0. The planner produces the desired state, the
// applier reads the observed one, and diff.h compares the two. Each part prints itself in the
// native tool's format, so `kproxy render --proxy-mode ipvs` output can be replayed with
// `ipvsadm -R`, `ipset restore` and `sh` (spec ipvs-and-runtime.md §1.4-§1.6, §1.10).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/api/objects.h"
#include "src/util/ip.h"

namespace kproxy::ipvs {

// Virtual service flags (linux/ip_vs.h). The kernel reports kFlagHashed on every existing
// service; it is never sent and never compared.
inline constexpr uint32_t kFlagPersistent = 0x1;   // IP_VS_SVC_F_PERSISTENT
inline constexpr uint32_t kFlagHashed = 0x2;       // IP_VS_SVC_F_HASHED
inline constexpr uint32_t kFlagOnePacket = 0x4;    // IP_VS_SVC_F_ONEPACKET
inline constexpr uint32_t kFlagSched1 = 0x8;       // IP_VS_SVC_F_SCHED1: sh-fallback / mh-fallback
inline constexpr uint32_t kFlagSched2 = 0x10;      // IP_VS_SVC_F_SCHED2: sh-port / mh-port
inline constexpr uint32_t kFlagSched3 = 0x20;      // IP_VS_SVC_F_SCHED3
// upstream FlagSourceHash: what kube-proxy sets for the mh scheduler ("mh-port").
inline constexpr uint32_t kFlagMhPort = kFlagSched2;

// Persistence granularity: one client address.
inline constexpr uint32_t kNetmaskIPv4 = 0xFFFFFFFF;
inline constexpr uint32_t kNetmaskIPv6 = 128;
inline uint32_t defaultNetmask(IpFamily family) { return family == IpFamily::kIPv4 ? kNetmaskIPv4 : kNetmaskIPv6; }

// IPPROTO_* of a service protocol: 6, 17, 132.
int protocolNumber(api::Protocol protocol);

struct RealServer {
  IpAddress address;
  uint16_t port = 0;
  int weight = 1;
  // Kernel counters, filled by the applier when it reads destinations; never planned, printed or
  // compared (operator== ignores them).
  uint32_t active_connections = 0;
  uint32_t inactive_connections = 0;

  // upstream RealServer.String(): "10.180.0.1:80", "[2001::1]:80".
  std::string toString() const;
  // Identity of a destination within its virtual server: address and port.
  bool sameDestination(const RealServer& other) const { return address == other.address && port == other.port; }
  bool operator==(const RealServer& other) const {
    return sameDestination(other) && weight == other.weight;
  }
};

// What identifies a virtual server: family (from the address), protocol, address, port. Ordered
// as ipvsadm orders services when every address compares consistently (family, protocol number,
// address, port).
struct VirtualServerKey {
  IpAddress address;
  api::Protocol protocol = api::Protocol::kTCP;
  uint16_t port = 0;

  // upstream VirtualServer.String(): "10.20.30.41:80/TCP", "[2001::1]:80/TCP".
  std::string toString() const;
  std::strong_ordering operator<=>(const VirtualServerKey& other) const;
  bool operator==(const VirtualServerKey& other) const = default;
};

struct VirtualServer {
  IpAddress address;
  api::Protocol protocol = api::Protocol::kTCP;
  uint16_t port = 0;
  std::string scheduler = "rr";
  uint32_t flags = 0;      // kFlagPersistent, kFlagMhPort; never kFlagHashed
  uint32_t timeout = 0;    // persistence timeout in seconds (only with kFlagPersistent)
  uint32_t netmask = kNetmaskIPv4;
  std::vector<RealServer> real_servers;  // sorted by (address, port), unique

  VirtualServerKey key() const { return {address, protocol, port}; }
  IpFamily family() const { return address.family(); }
  // The service attributes upstream compares before it updates a service in place (scheduler,
  // flags without kFlagHashed, timeout). Real servers are not part of it.
  bool sameServiceAttributes(const VirtualServer& other) const;
  bool operator==(const VirtualServer& other) const;
};

enum class IpSetType : uint8_t { kHashIp, kHashIpPort, kHashIpPortIp, kHashIpPortNet, kBitmapPort };

// "hash:ip", "hash:ip,port", "hash:ip,port,ip", "hash:ip,port,net", "bitmap:port".
std::string_view ipSetTypeName(IpSetType type);
inline bool isHashType(IpSetType type) { return type != IpSetType::kBitmapPort; }

struct IpSet {
  std::string name;
  IpSetType type = IpSetType::kHashIp;
  IpFamily family = IpFamily::kIPv4;  // "family inet|inet6" of hash types; bitmap sets have none
  int hash_size = 1024;
  int max_elem = 65536;
  std::string port_range = "0-65535";  // bitmap:port only
  // Member text as `ipset add` takes it ("10.20.30.41,tcp:80", "3001"); sorted by
  // ipSetMemberLess, unique.
  std::vector<std::string> members;

  // Only the create parameters (name, type, family, sizes, range).
  bool sameDefinition(const IpSet& other) const;
  bool operator==(const IpSet& other) const = default;
};

// Member order: numeric for bitmap:port (as `ipset save` prints bitmaps), text order otherwise.
bool ipSetMemberLess(IpSetType type, std::string_view a, std::string_view b);
void sortMembers(IpSet& set);

struct IpvsState {
  IpFamily family = IpFamily::kIPv4;
  std::vector<VirtualServer> virtual_servers;  // sorted by key(), unique
  std::vector<IpSet> ipsets;                   // sorted by name, unique
  std::vector<IpAddress> kube_ipvs0_addresses;  // sorted, unique
  // What this proxier does not own, although it sees it: virtual servers inside these CIDRs
  // (ipvs.excludeCIDRs of this family) are never deleted. diff.h reads it from the desired state.
  std::vector<Cidr> exclude_cidrs;

  const VirtualServer* findVirtualServer(const VirtualServerKey& key) const;
  const IpSet* findIpSet(std::string_view name) const;
  // Sorts every list into the canonical order above (an observed state is read in kernel order).
  void normalize();
  bool operator==(const IpvsState& other) const = default;
};

// The IP sets IPVS mode uses (upstream ipsetInfo), in upstream's table order.
struct IpSetInfo {
  std::string_view name;     // IPv4 name, "KUBE-..."
  IpSetType type;
  std::string_view comment;  // used in the iptables rules that match the set
};
const std::vector<IpSetInfo>& ipSetTable();

// Upstream's set names, IPv4 spelling.
inline constexpr char kLoopBackSet[] = "KUBE-LOOP-BACK";
inline constexpr char kClusterIpSet[] = "KUBE-CLUSTER-IP";
inline constexpr char kExternalIpSet[] = "KUBE-EXTERNAL-IP";
inline constexpr char kExternalIpLocalSet[] = "KUBE-EXTERNAL-IP-LOCAL";
inline constexpr char kLoadBalancerSet[] = "KUBE-LOAD-BALANCER";
inline constexpr char kLoadBalancerFwSet[] = "KUBE-LOAD-BALANCER-FW";
inline constexpr char kLoadBalancerLocalSet[] = "KUBE-LOAD-BALANCER-LOCAL";
inline constexpr char kLoadBalancerSourceIpSet[] = "KUBE-LOAD-BALANCER-SOURCE-IP";
inline constexpr char kLoadBalancerSourceCidrSet[] = "KUBE-LOAD-BALANCER-SOURCE-CIDR";
inline constexpr char kNodePortTcpSet[] = "KUBE-NODE-PORT-TCP";
inline constexpr char kNodePortLocalTcpSet[] = "KUBE-NODE-PORT-LOCAL-TCP";
inline constexpr char kNodePortUdpSet[] = "KUBE-NODE-PORT-UDP";
inline constexpr char kNodePortLocalUdpSet[] = "KUBE-NODE-PORT-LOCAL-UDP";
inline constexpr char kNodePortSctpSet[] = "KUBE-NODE-PORT-SCTP-HASH";
inline constexpr char kNodePortLocalSctpSet[] = "KUBE-NODE-PORT-LOCAL-SCTP-HASH";
inline constexpr char kHealthCheckNodePortSet[] = "KUBE-HEALTH-CHECK-NODE-PORT";
inline constexpr char kIpvsIpsSet[] = "KUBE-IPVS-IPS";

// The set name of `family`: IPv4 keeps "KUBE-...", IPv6 uses "KUBE-6-..." cut to 31 characters
// (the kernel's limit), so KUBE-LOAD-BALANCER-SOURCE-CIDR becomes KUBE-6-LOAD-BALANCER-SOURCE-CID.
std::string ipSetName(std::string_view ipv4_name, IpFamily family);

inline constexpr char kDummyDevice[] = "kube-ipvs0";

// ---- Printers -------------------------------------------------------------------------------

// As `ipvsadm -S -n` (ipvsadm 1.31) saves the virtual servers: per service
// "-A -t 10.20.30.41:80 -s rr[ -p 10800[ -M mask]][ -b mh-port]", then per destination
// "-a -t 10.20.30.41:80 -r 10.180.0.1:80 -m -w 1"; -u for UDP, --sctp-service for SCTP, IPv6 as
// [addr]:port. Services and destinations in ipvsadm's own order (see state.cc).
std::string formatIpvsadmSave(const IpvsState& state);

// As `ipset save` prints the sets, canonicalised: per set "create NAME TYPE family inet hashsize
// 1024 maxelem 65536" (bitmap:port: "create NAME bitmap:port range 0-65535"; no bucketsize or
// initval, which the kernel picks), then "add NAME MEMBER" per member in sorted order.
std::string formatIpsetSave(const IpvsState& state);

// The shell commands that create kube-ipvs0 and bind its addresses:
// "ip link add kube-ipvs0 type dummy", then "ip addr add ADDR/32 dev kube-ipvs0" (/128 for IPv6).
std::string formatKubeIpvs0Commands(const IpvsState& state);

// One line per virtual server for test failure messages and logs:
// "TCP 10.20.30.41:80 rr flags=0x1 timeout=10800 -> 10.180.0.1:80 w1, ...".
std::string describe(const VirtualServer& vs);

}  // namespace kproxy::ipvs
