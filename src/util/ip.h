// IP address and CIDR value types with Go-compatible parsing and printing.
//
// Upstream kube-proxy parses addresses "sloppily" (k8s.io/utils/net ParseIPSloppy: leading zeros
// in IPv4 octets are accepted and read as decimal) and prints them with Go's net.IP.String()
// (IPv4 dotted quad; IPv6 lower-case, RFC 5952 "::" compression; IPv4-mapped IPv6 printed as
// IPv4). The byte-identical output of the iptables planner depends on reproducing both.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/util/result.h"

namespace kproxy {

enum class IpFamily : uint8_t { kIPv4 = 0, kIPv6 = 1 };

// "IPv4" / "IPv6", as Kubernetes spells the families (spec.ipFamilies, metric labels).
std::string_view ipFamilyName(IpFamily family);

class IpAddress {
 public:
  IpAddress() = default;

  // Strict parse (Go net.ParseIP): no leading zeros in IPv4 octets, no surrounding spaces.
  static Result<IpAddress> parse(std::string_view text);
  // Lenient parse (upstream's ParseIPSloppy, plus surrounding ASCII whitespace trimmed):
  // IPv4 octets may carry leading zeros ("010" is ten).
  static Result<IpAddress> parseSloppy(std::string_view text);
  static IpAddress fromV4(uint32_t host_order);
  static IpAddress fromBytes(IpFamily family, const uint8_t* bytes);

  IpFamily family() const { return family_; }
  bool isV4() const { return family_ == IpFamily::kIPv4; }
  bool isV6() const { return family_ == IpFamily::kIPv6; }
  // 4 bytes for IPv4, 16 for IPv6.
  const uint8_t* bytes() const { return bytes_.data(); }
  int byteLength() const { return isV4() ? 4 : 16; }
  bool isLoopback() const;
  bool isUnspecified() const;
  bool isLinkLocalUnicast() const;

  // Go net.IP.String().
  std::string toString() const;
  // Appends toString() to out without a temporary.
  void appendTo(std::string& out) const;

  auto operator<=>(const IpAddress&) const = default;
  bool operator==(const IpAddress&) const = default;

 private:
  IpFamily family_ = IpFamily::kIPv4;
  std::array<uint8_t, 16> bytes_{};  // IPv4 uses the first 4
};

class Cidr {
 public:
  Cidr() = default;
  Cidr(IpAddress network, int prefix_length);  // masks `network` to the prefix

  // Strict (Go net.ParseCIDR) and lenient (ParseCIDRSloppy + whitespace trimmed) parsing.
  static Result<Cidr> parse(std::string_view text);
  static Result<Cidr> parseSloppy(std::string_view text);

  const IpAddress& address() const { return address_; }
  int prefixLength() const { return prefix_; }
  IpFamily family() const { return address_.family(); }
  bool contains(const IpAddress& ip) const;
  // Go IPNet.String(): the masked network, "/", the prefix length.
  std::string toString() const;

  auto operator<=>(const Cidr&) const = default;
  bool operator==(const Cidr&) const = default;

 private:
  IpAddress address_;
  int prefix_ = 0;
};

// An address with the prefix length of the interface it sits on (e.g. 192.168.0.2/24), as the
// node's local addresses are reported: unlike Cidr, the host bits are kept.
struct InterfaceAddress {
  IpAddress ip;
  int prefix_length = 0;

  static Result<InterfaceAddress> parse(std::string_view text);
  std::string toString() const;
  auto operator<=>(const InterfaceAddress&) const = default;
};

// net.JoinHostPort(ip, port): "10.0.0.1:80", "[fd00::1]:80".
std::string joinHostPort(const IpAddress& ip, int port);

}  // namespace kproxy
