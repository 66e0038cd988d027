// The iptables match conditions both rule tracers read (modes/iptables/packet_tracer for iptables
// mode, modes/ipvs/tracer for IPVS mode's rules): addresses (-s/-d), address types
// (--src-type/--dst-type), ports (--sport/--dport, multiport lists) and interfaces (-i/-o), parsed
// from the words of a rule and matched against a traced packet. PURE.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::tracing {

struct AddressCondition {
  bool negate = false;
  std::vector<Cidr> cidrs;
};
struct TypeCondition {
  bool negate = false;
  bool local = false;
};
struct PortCondition {
  bool negate = false;
  std::vector<std::pair<int, int>> ranges;
};
struct InterfaceCondition {
  bool negate = false;
  std::string name;  // "eth+" matches every name starting with "eth"
};

std::string lowerCase(std::string s);
// "6" -> "tcp", "17" -> "udp", "132" -> "sctp", "0" -> "all"; names lower-cased.
std::string protocolName(std::string value);
// 0-65535; "bad port \"TEXT\"" otherwise.
Result<int> parsePort(std::string_view text);
// "80", "1000:2000", ":80", "80:"; multiport lists are comma-separated.
Result<PortCondition> parsePorts(std::string_view text, bool negate);
// One address or CIDR ("10.0.0.1", "10.0.0.0/8"); an address is its host prefix.
Result<Cidr> parseCidrOrAddress(std::string_view item);
// Comma-separated addresses or CIDRs, as -s/-d take them.
Result<AddressCondition> parseAddresses(std::string_view text, bool negate);
// Whether the comma-separated `list` (e.g. "LOCAL,BROADCAST", "NEW,RELATED") holds `word`.
bool listHas(std::string_view list, std::string_view word);

bool addressMatches(const AddressCondition& cond, const IpAddress& ip);
bool interfaceMatches(const InterfaceCondition& cond, const std::string& iface);

}  // namespace kproxy::tracing
