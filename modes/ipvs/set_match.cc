#include "modes/ipvs/set_match.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace kproxy::ipvs {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Result<int> parsePortNumber(std::string_view text) {
  int port = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || port < 0 || port > 65535) {
    return Error(fmt::format("bad port \"{}\"", text));
  }
  return port;
}

Result<IpAddress> parseAddress(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  auto ip = IpAddress::parseSloppy(text);
  if (!ip.ok()) return Error(fmt::format("bad address \"{}\"", text));
  return *ip;
}

std::vector<SetMember::Element::Kind> kinds(IpSetType type) {
  using K = SetMember::Element::Kind;
  switch (type) {
    case IpSetType::kHashIp: return {K::kAddress};
    case IpSetType::kHashIpPort: return {K::kAddress, K::kPort};
    case IpSetType::kHashIpPortIp: return {K::kAddress, K::kPort, K::kAddress};
    case IpSetType::kHashIpPortNet: return {K::kAddress, K::kPort, K::kNet};
    case IpSetType::kBitmapPort: return {K::kPort};
  }
  return {K::kAddress};
}

}  // namespace

size_t setDimensions(IpSetType type) { return kinds(type).size(); }

Result<std::vector<bool>> parseSetFlags(std::string_view flags) {
  std::vector<bool> out;
  while (true) {
    size_t comma = flags.find(',');
    std::string_view item = flags.substr(0, comma);
    if (item == "src") {
      out.push_back(true);
    } else if (item == "dst") {
      out.push_back(false);
    } else {
      return Error(fmt::format("bad --match-set flag \"{}\" (src or dst)", item));
    }
    if (comma == std::string_view::npos) break;
    flags.remove_prefix(comma + 1);
  }
  if (out.size() > 6) return Error("too many --match-set flags");
  return out;
}

Result<SetMember> parseSetMember(IpSetType type, std::string_view text) {
  using K = SetMember::Element::Kind;
  SetMember member;
  const auto want = kinds(type);
  std::string_view rest = text;
  for (size_t i = 0; i < want.size(); ++i) {
    size_t comma = rest.find(',');
    if (comma == std::string_view::npos && i + 1 < want.size()) {
      return Error(fmt::format("member \"{}\" has fewer than {} parts", text, want.size()));
    }
    std::string_view item = rest.substr(0, i + 1 < want.size() ? comma : std::string_view::npos);
    if (i + 1 < want.size()) rest.remove_prefix(comma + 1);
    SetMember::Element e;
    e.kind = want[i];
    if (want[i] == K::kAddress) {
      auto ip = parseAddress(item);
      if (!ip.ok()) return Error(fmt::format("member \"{}\": {}", text, ip.error().message));
      e.address = *ip;
    } else if (want[i] == K::kNet) {
      if (item.find('/') == std::string_view::npos) {
        auto ip = parseAddress(item);
        if (!ip.ok()) return Error(fmt::format("member \"{}\": {}", text, ip.error().message));
        e.net = Cidr(*ip, ip->isV4() ? 32 : 128);
      } else {
        auto cidr = Cidr::parseSloppy(item);
        if (!cidr.ok()) return Error(fmt::format("member \"{}\": bad net \"{}\"", text, item));
        e.net = *cidr;
      }
    } else {
      size_t colon = item.find(':');
      std::string_view port_text = item;
      if (type == IpSetType::kBitmapPort) {
        e.protocol.clear();
      } else if (colon == std::string_view::npos) {
        e.protocol = "tcp";
      } else {
        e.protocol = lower(item.substr(0, colon));
        port_text = item.substr(colon + 1);
      }
      auto port = parsePortNumber(port_text);
      if (!port.ok()) return Error(fmt::format("member \"{}\": {}", text, port.error().message));
      e.port = *port;
    }
    member.elements.push_back(std::move(e));
  }
  return member;
}

Result<SetMatcher> SetMatcher::compile(const IpSet& set) {
  SetMatcher m;
  m.name_ = set.name;
  m.type_ = set.type;
  m.dimensions_ = setDimensions(set.type);
  m.members_.reserve(set.members.size());
  for (const auto& text : set.members) {
    auto member = parseSetMember(set.type, text);
    if (!member.ok()) return Error("set " + set.name + ": " + member.error().message);
    m.members_.push_back(std::move(*member));
  }
  return m;
}

bool SetMatcher::matches(const std::vector<bool>& src_flags, const SetPacket& packet) const {
  using K = SetMember::Element::Kind;
  const size_t n = std::min(src_flags.size(), dimensions_);
  if (n == 0) return false;
  for (const auto& member : members_) {
    bool all = true;
    for (size_t i = 0; i < n && all; ++i) {
      const auto& e = member.elements[i];
      const bool from_src = src_flags[i];
      const IpAddress& ip = from_src ? packet.source : packet.destination;
      switch (e.kind) {
        case K::kAddress: all = e.address == ip; break;
        case K::kNet: all = e.net.family() == ip.family() && e.net.contains(ip); break;
        case K::kPort:
          // The tracer does not know the source port.
          all = !from_src && e.port == packet.destination_port && (e.protocol.empty() || e.protocol == packet.protocol);
          break;
      }
    }
    if (all) return true;
  }
  return false;
}

}  // namespace kproxy::ipvs
