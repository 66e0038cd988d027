// IpvsClient: the kernel's IP Virtual Server table as IPVS mode drives it (spec
// ipvs-and-runtime.md §1.6-§1.8, §1.10): virtual services and their destinations, read back with
// their connection counts, the connection timeouts, and a flush for cleanup.
//
// The values are the kernel's, not the planner's: `flags` as the kernel reports them (existing
// services carry IP_VS_SVC_F_HASHED, 0x2; never send it), protocols as IPPROTO_* numbers.
// Errors carry the kernel's errno in Error::code: an add of something present answers EEXIST; a
// command on a virtual service that does not exist answers ESRCH; a destination command on a
// missing destination answers ENOENT; an unknown scheduler answers ENOENT. netlink/errors.h says
// which of them an idempotent caller may treat as success.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::netlink {

inline constexpr uint16_t kIpvsProtoTcp = 6;
inline constexpr uint16_t kIpvsProtoUdp = 17;
inline constexpr uint16_t kIpvsProtoSctp = 132;

// IP_VS_CONN_F_MASQ: the only forwarding method kube-proxy uses.
inline constexpr uint32_t kIpvsForwardMasquerade = 0;
inline constexpr uint32_t kIpvsFlagHashed = 0x2;  // IP_VS_SVC_F_HASHED

struct IpvsService {
  IpAddress address;  // its family is the service's address family
  uint16_t protocol = kIpvsProtoTcp;
  uint16_t port = 0;
  std::string scheduler = "rr";
  uint32_t flags = 0;    // IP_VS_SVC_F_*; sent with mask 0xFFFFFFFF
  uint32_t timeout = 0;  // persistence timeout, seconds
  uint32_t netmask = 0xFFFFFFFF;  // IPv4: a mask; IPv6: a prefix length (128)

  // What identifies a service: family, protocol, address, port.
  bool sameKey(const IpvsService& other) const {
    return address == other.address && protocol == other.protocol && port == other.port;
  }
  // "10.96.0.10:53/UDP", "[fd00::10]:80/TCP".
  std::string toString() const;
};

struct IpvsDestination {
  IpAddress address;
  uint16_t port = 0;
  uint32_t weight = 1;
  uint32_t forward_method = kIpvsForwardMasquerade;
  uint32_t upper_threshold = 0;
  uint32_t lower_threshold = 0;
  // Read back only.
  uint32_t active_connections = 0;
  uint32_t inactive_connections = 0;
  uint32_t persistent_connections = 0;

  bool sameKey(const IpvsDestination& other) const { return address == other.address && port == other.port; }
  // "10.180.0.1:8080", "[fd00::1]:8080".
  std::string toString() const;
};

struct IpvsServiceWithDestinations {
  IpvsService service;
  std::vector<IpvsDestination> destinations;
};

// net.ipv4.vs connection timeouts (ipvsadm --set), seconds; 0 = leave as it is.
struct IpvsTimeouts {
  uint32_t tcp = 0;
  uint32_t tcp_fin = 0;
  uint32_t udp = 0;
  bool operator==(const IpvsTimeouts&) const = default;
};

// One change of a batch (execute()).
enum class IpvsCommand : uint8_t {
  kNewService,   // IPVS_CMD_NEW_SERVICE
  kSetService,   // IPVS_CMD_SET_SERVICE: scheduler, flags, timeout, netmask of an existing one
  kDelService,   // IPVS_CMD_DEL_SERVICE (its destinations go with it)
  kNewDest,      // IPVS_CMD_NEW_DEST
  kSetDest,      // IPVS_CMD_SET_DEST: weight, thresholds, forwarding method of an existing one
  kDelDest,      // IPVS_CMD_DEL_DEST
};

struct IpvsOperation {
  IpvsCommand command = IpvsCommand::kNewService;
  IpvsService service;          // all commands: the service (for dest commands, its key)
  IpvsDestination destination;  // dest commands only

  // As ipvsadm spells the command: "-A -t 10.96.0.10:80 -s rr", "-a -t 10.96.0.10:80 -r
  // 10.180.0.1:8080 -m -w 1", "-e ... -w 0", "-d -t ... -r ...", "-D -t ...".
  std::string toString() const;
};

class IpvsClient {
 public:
  virtual ~IpvsClient() = default;

  // Every virtual service (both families), in kernel order.
  virtual Result<std::vector<IpvsService>> listServices() = 0;
  // One service by key (ESRCH when it does not exist).
  virtual Result<IpvsService> getService(const IpvsService& key) = 0;
  // The destinations of one service with their connection counts (ESRCH when the service does
  // not exist).
  virtual Result<std::vector<IpvsDestination>> listDestinations(const IpvsService& service) = 0;
  // Every service with its destinations.
  virtual Result<std::vector<IpvsServiceWithDestinations>> listAll() = 0;

  // Runs the operations in order and returns one Status per operation, in order. A failure does
  // not stop the batch (a destination added to a service whose add failed fails with ESRCH).
  virtual std::vector<Status> execute(const std::vector<IpvsOperation>& operations) = 0;

  virtual Result<IpvsTimeouts> getTimeouts() = 0;
  // IPVS_CMD_SET_CONFIG; zero fields are left unchanged.
  virtual Status setTimeouts(const IpvsTimeouts& timeouts) = 0;
  // IPVS_CMD_FLUSH: every virtual service of this network namespace (cleanup only).
  virtual Status flush() = 0;

  // Single operations, for callers that do one thing.
  Status addService(const IpvsService& s) { return one({.command = IpvsCommand::kNewService, .service = s}); }
  Status updateService(const IpvsService& s) { return one({.command = IpvsCommand::kSetService, .service = s}); }
  Status deleteService(const IpvsService& s) { return one({.command = IpvsCommand::kDelService, .service = s}); }
  Status addDestination(const IpvsService& s, const IpvsDestination& d) {
    return one({.command = IpvsCommand::kNewDest, .service = s, .destination = d});
  }
  Status updateDestination(const IpvsService& s, const IpvsDestination& d) {
    return one({.command = IpvsCommand::kSetDest, .service = s, .destination = d});
  }
  Status deleteDestination(const IpvsService& s, const IpvsDestination& d) {
    return one({.command = IpvsCommand::kDelDest, .service = s, .destination = d});
  }

 private:
  Status one(IpvsOperation op) {
    auto statuses = execute({std::move(op)});
    if (statuses.empty()) return Error("ipvs: no answer");
    return std::move(statuses.front());
  }
};

// "TCP", "UDP", "SCTP", or the number.
std::string ipvsProtocolName(uint16_t protocol);

}  // namespace kproxy::netlink

// ---- inline definitions (the interface library is header-only) ------------------------------

namespace kproxy::netlink {

inline std::string ipvsProtocolName(uint16_t protocol) {
  switch (protocol) {
    case kIpvsProtoTcp:
      return "TCP";
    case kIpvsProtoUdp:
      return "UDP";
    case kIpvsProtoSctp:
      return "SCTP";
    default:
      return std::to_string(protocol);
  }
}

inline std::string IpvsService::toString() const { return joinHostPort(address, port) + "/" + ipvsProtocolName(protocol); }

inline std::string IpvsDestination::toString() const { return joinHostPort(address, port); }

inline std::string IpvsOperation::toString() const {
  std::string spec;
  switch (service.protocol) {
    case kIpvsProtoTcp:
      spec = "-t ";
      break;
    case kIpvsProtoUdp:
      spec = "-u ";
      break;
    case kIpvsProtoSctp:
      spec = "--sctp-service ";
      break;
    default:
      spec = "-P" + std::to_string(service.protocol) + " ";
  }
  spec += joinHostPort(service.address, service.port);
  auto service_options = [&] {
    std::string out = " -s " + service.scheduler;
    if (service.flags & 0x1) out += " -p " + std::to_string(service.timeout);
    uint32_t other = service.flags & ~(0x1u | kIpvsFlagHashed);
    if (other != 0) out += " -b 0x" + [&] {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "%x", other);
      return std::string(buf);
    }();
    return out;
  };
  auto dest = [&] { return " -r " + destination.toString(); };
  switch (command) {
    case IpvsCommand::kNewService:
      return "-A " + spec + service_options();
    case IpvsCommand::kSetService:
      return "-E " + spec + service_options();
    case IpvsCommand::kDelService:
      return "-D " + spec;
    case IpvsCommand::kNewDest:
      return "-a " + spec + dest() + " -m -w " + std::to_string(destination.weight);
    case IpvsCommand::kSetDest:
      return "-e " + spec + dest() + " -m -w " + std::to_string(destination.weight);
    case IpvsCommand::kDelDest:
      return "-d " + spec + dest();
  }
  return "";
}

}  // namespace kproxy::netlink
