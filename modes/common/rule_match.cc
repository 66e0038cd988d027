#include "modes/common/rule_match.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace kproxy::tracing {

std::string lowerCase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string protocolName(std::string value) {
  value = lowerCase(std::move(value));
  if (value == "6") return "tcp";
  if (value == "17") return "udp";
  if (value == "132") return "sctp";
  if (value == "0") return "all";
  return value;
}

Result<int> parsePort(std::string_view text) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || port < 0 || port > 65535) {
    return Error(fmt::format("bad port \"{}\"", text));
  }
  return port;
}

Result<PortCondition> parsePorts(std::string_view text, bool negate) {
  PortCondition cond{.negate = negate, .ranges = {}};
  while (true) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    size_t colon = item.find(':');
    if (colon == std::string_view::npos) {
      auto port = parsePort(item);
      if (!port.ok()) return port.error();
      cond.ranges.emplace_back(*port, *port);
    } else {
      int lo = 0, hi = 65535;
      if (colon > 0) {
        auto p = parsePort(item.substr(0, colon));
        if (!p.ok()) return p.error();
        lo = *p;
      }
      if (colon + 1 < item.size()) {
        auto p = parsePort(item.substr(colon + 1));
        if (!p.ok()) return p.error();
        hi = *p;
      }
      cond.ranges.emplace_back(lo, hi);
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return cond;
}

Result<Cidr> parseCidrOrAddress(std::string_view item) {
  if (item.find('/') != std::string_view::npos) {
    auto cidr = Cidr::parseSloppy(item);
    if (!cidr.ok()) return Error(fmt::format("bad address \"{}\"", item));
    return *cidr;
  }
  auto ip = IpAddress::parseSloppy(item);
  if (!ip.ok()) return Error(fmt::format("bad address \"{}\"", item));
  return Cidr(*ip, ip->isV4() ? 32 : 128);
}

Result<AddressCondition> parseAddresses(std::string_view text, bool negate) {
  AddressCondition cond{.negate = negate, .cidrs = {}};
  while (true) {
    size_t comma = text.find(',');
    auto cidr = parseCidrOrAddress(text.substr(0, comma));
    if (!cidr.ok()) return cidr.error();
    cond.cidrs.push_back(*cidr);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return cond;
}

bool listHas(std::string_view list, std::string_view word) {
  while (true) {
    size_t comma = list.find(',');
    if (list.substr(0, comma) == word) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

bool addressMatches(const AddressCondition& cond, const IpAddress& ip) {
  // Cidr::contains is false across families.
  const bool m = std::any_of(cond.cidrs.begin(), cond.cidrs.end(), [&](const Cidr& c) { return c.contains(ip); });
  return m != cond.negate;
}

bool interfaceMatches(const InterfaceCondition& cond, const std::string& iface) {
  bool m;
  if (!cond.name.empty() && cond.name.back() == '+') {
    m = iface.compare(0, cond.name.size() - 1, cond.name, 0, cond.name.size() - 1) == 0;
  } else {
    m = iface == cond.name;
  }
  return m != cond.negate;
}

}  // namespace kproxy::tracing
