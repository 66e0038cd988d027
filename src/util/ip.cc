#include "src/util/ip.h"

#include <cstring>

#include <fmt/format.h>

namespace kproxy {
namespace {

std::string_view trimAsciiSpace(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Dotted-quad IPv4. Go rejects leading zeros since 1.17; upstream's sloppy parser reads them as
// decimal (so "010" is ten, never octal).
bool parseV4(std::string_view s, bool sloppy, uint8_t out[4]) {
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (s.empty() || s.front() != '.') return false;
      s.remove_prefix(1);
    }
    size_t n = 0;
    unsigned value = 0;
    while (n < s.size() && isDigit(s[n])) {
      value = value * 10 + static_cast<unsigned>(s[n] - '0');
      if (value > 0xFF) return false;
      ++n;
    }
    if (n == 0) return false;
    if (!sloppy && n > 1 && s[0] == '0') return false;
    if (!sloppy && n > 3) return false;
    out[part] = static_cast<uint8_t>(value);
    s.remove_prefix(n);
  }
  return s.empty();
}

bool parseV6(std::string_view s, bool sloppy, uint8_t out[16]) {
  std::memset(out, 0, 16);
  int ellipsis = -1;  // byte index where "::" sits
  int i = 0;          // bytes written
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    ellipsis = 0;
    s.remove_prefix(2);
    if (s.empty()) return true;
  }
  while (i < 16) {
    // Hex group, or an embedded IPv4 address in the last 32 bits.
    size_t n = 0;
    unsigned value = 0;
    while (n < s.size() && hexValue(s[n]) >= 0) {
      value = value * 16 + static_cast<unsigned>(hexValue(s[n]));
      if (value > 0xFFFF) return false;
      ++n;
    }
    if (n == 0) return false;
    if (!sloppy && n > 4) return false;
    if (n < s.size() && s[n] == '.') {
      if (ellipsis < 0 && i != 12) return false;
      if (i + 4 > 16) return false;
      if (!parseV4(s, sloppy, out + i)) return false;
      i += 4;
      s = std::string_view();
      break;
    }
    out[i] = static_cast<uint8_t>(value >> 8);
    out[i + 1] = static_cast<uint8_t>(value);
    i += 2;
    s.remove_prefix(n);
    if (s.empty()) break;
    if (s.front() != ':' || s.size() == 1) return false;
    s.remove_prefix(1);
    if (s.front() == ':') {
      if (ellipsis >= 0) return false;
      ellipsis = i;
      s.remove_prefix(1);
      if (s.empty()) break;
    }
  }
  if (!s.empty()) return false;
  if (i < 16) {
    if (ellipsis < 0) return false;
    int n = 16 - i;
    for (int j = i - 1; j >= ellipsis; --j) out[j + n] = out[j];
    for (int j = ellipsis + n - 1; j >= ellipsis; --j) out[j] = 0;
  } else if (ellipsis >= 0) {
    return false;  // "::" must stand for at least one group
  }
  return true;
}

Result<IpAddress> parseAny(std::string_view text, bool sloppy) {
  std::string_view s = sloppy ? trimAsciiSpace(text) : text;
  uint8_t bytes[16];
  if (s.find(':') == std::string_view::npos) {
    if (parseV4(s, sloppy, bytes)) return IpAddress::fromBytes(IpFamily::kIPv4, bytes);
  } else if (parseV6(s, sloppy, bytes)) {
    // Go treats IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) as IPv4 (To4() != nil).
    static const uint8_t kV4InV6Prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kV4InV6Prefix, 12) == 0) return IpAddress::fromBytes(IpFamily::kIPv4, bytes + 12);
    return IpAddress::fromBytes(IpFamily::kIPv6, bytes);
  }
  return Error(fmt::format("\"{}\" is not a valid IP address", text));
}

void appendHex16(std::string& out, unsigned v) {
  static const char kHex[] = "0123456789abcdef";
  bool started = false;
  for (int shift = 12; shift >= 0; shift -= 4) {
    unsigned d = (v >> shift) & 0xF;
    if (d != 0 || started || shift == 0) {
      out.push_back(kHex[d]);
      started = true;
    }
  }
}

void appendDecimal(std::string& out, unsigned v) {
  char buf[4];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) out.push_back(buf[--n]);
}

Result<int> parsePrefix(std::string_view s, int max_bits) {
  // Go's dtoi accepts leading zeros here ("/025" is 25).
  if (s.empty()) return Error("missing prefix length");
  int n = 0;
  for (char c : s) {
    if (!isDigit(c)) return Error("bad prefix length");
    n = n * 10 + (c - '0');
    if (n > 0xFFFF) return Error("bad prefix length");
  }
  if (n > max_bits) return Error("bad prefix length");
  return n;
}

Result<Cidr> parseCidr(std::string_view text, bool sloppy) {
  std::string_view s = sloppy ? trimAsciiSpace(text) : text;
  auto slash = s.find('/');
  auto fail = [&] { return Error(fmt::format("\"{}\" is not a valid CIDR", text)); };
  if (slash == std::string_view::npos) return fail();
  auto ip = sloppy ? IpAddress::parseSloppy(s.substr(0, slash)) : IpAddress::parse(s.substr(0, slash));
  if (!ip.ok()) return fail();
  // Go sizes the mask by the textual form: an IPv6 literal takes /0-/128 even when it is v4-mapped.
  bool v6_text = s.substr(0, slash).find(':') != std::string_view::npos;
  int max_bits = v6_text ? 128 : 32;
  auto prefix = parsePrefix(s.substr(slash + 1), max_bits);
  if (!prefix.ok()) return fail();
  int bits = *prefix;
  if (v6_text && ip->isV4()) {
    if (bits < 96) return fail();  // a mask wider than the mapped IPv4 part has no IPv4 meaning
    bits -= 96;
  }
  return Cidr(*ip, bits);
}

}  // namespace

std::string_view ipFamilyName(IpFamily family) { return family == IpFamily::kIPv4 ? "IPv4" : "IPv6"; }

Result<IpAddress> IpAddress::parse(std::string_view text) { return parseAny(text, false); }
Result<IpAddress> IpAddress::parseSloppy(std::string_view text) { return parseAny(text, true); }

IpAddress IpAddress::fromV4(uint32_t host_order) {
  uint8_t b[4] = {static_cast<uint8_t>(host_order >> 24), static_cast<uint8_t>(host_order >> 16),
                  static_cast<uint8_t>(host_order >> 8), static_cast<uint8_t>(host_order)};
  return fromBytes(IpFamily::kIPv4, b);
}

IpAddress IpAddress::fromBytes(IpFamily family, const uint8_t* bytes) {
  IpAddress ip;
  ip.family_ = family;
  std::memcpy(ip.bytes_.data(), bytes, family == IpFamily::kIPv4 ? 4 : 16);
  return ip;
}

bool IpAddress::isLoopback() const {
  if (isV4()) return bytes_[0] == 127;
  for (int i = 0; i < 15; ++i)
    if (bytes_[i] != 0) return false;
  return bytes_[15] == 1;
}

bool IpAddress::isUnspecified() const {
  for (int i = 0; i < byteLength(); ++i)
    if (bytes_[i] != 0) return false;
  return true;
}

bool IpAddress::isLinkLocalUnicast() const {
  if (isV4()) return bytes_[0] == 169 && bytes_[1] == 254;
  return bytes_[0] == 0xfe && (bytes_[1] & 0xc0) == 0x80;
}

void IpAddress::appendTo(std::string& out) const {
  if (isV4()) {
    for (int i = 0; i < 4; ++i) {
      if (i > 0) out.push_back('.');
      appendDecimal(out, bytes_[i]);
    }
    return;
  }
  // Longest run of zero groups (first one on ties), replaced by "::" only if it spans 2+ groups.
  int e0 = -1, e1 = -1;
  for (int i = 0; i < 16; i += 2) {
    int j = i;
    while (j < 16 && bytes_[j] == 0 && bytes_[j + 1] == 0) j += 2;
    if (j > i && j - i > e1 - e0) {
      e0 = i;
      e1 = j;
      i = j;
    }
  }
  if (e1 - e0 <= 2) e0 = e1 = -1;
  for (int i = 0; i < 16; i += 2) {
    if (i == e0) {
      out += "::";
      i = e1;
      if (i >= 16) break;
    } else if (i > 0) {
      out.push_back(':');
    }
    appendHex16(out, (static_cast<unsigned>(bytes_[i]) << 8) | bytes_[i + 1]);
  }
}

std::string IpAddress::toString() const {
  std::string out;
  appendTo(out);
  return out;
}

Cidr::Cidr(IpAddress network, int prefix_length) : prefix_(prefix_length) {
  uint8_t b[16];
  std::memcpy(b, network.bytes(), network.byteLength());
  for (int i = 0; i < network.byteLength(); ++i) {
    int bits_left = prefix_length - i * 8;
    if (bits_left >= 8) continue;
    b[i] = bits_left <= 0 ? 0 : static_cast<uint8_t>(b[i] & (0xFF << (8 - bits_left)));
  }
  address_ = IpAddress::fromBytes(network.family(), b);
}

Result<Cidr> Cidr::parse(std::string_view text) { return parseCidr(text, false); }
Result<Cidr> Cidr::parseSloppy(std::string_view text) { return parseCidr(text, true); }

bool Cidr::contains(const IpAddress& ip) const {
  if (ip.family() != family()) return false;
  return Cidr(ip, prefix_).address_ == address_;
}

std::string Cidr::toString() const {
  std::string out;
  address_.appendTo(out);
  out.push_back('/');
  appendDecimal(out, static_cast<unsigned>(prefix_));
  return out;
}

Result<InterfaceAddress> InterfaceAddress::parse(std::string_view text) {
  std::string_view s = trimAsciiSpace(text);
  auto slash = s.find('/');
  if (slash == std::string_view::npos) {
    auto ip = IpAddress::parse(s);
    if (!ip.ok()) return ip.error();
    return InterfaceAddress{*ip, ip->isV4() ? 32 : 128};
  }
  auto ip = IpAddress::parse(s.substr(0, slash));
  if (!ip.ok()) return Error(fmt::format("\"{}\" is not a valid address/prefix", text));
  auto prefix = parsePrefix(s.substr(slash + 1), ip->isV4() ? 32 : 128);
  if (!prefix.ok()) return Error(fmt::format("\"{}\" is not a valid address/prefix", text));
  return InterfaceAddress{*ip, *prefix};
}

std::string InterfaceAddress::toString() const {
  std::string out = ip.toString();
  out.push_back('/');
  appendDecimal(out, static_cast<unsigned>(prefix_length));
  return out;
}

std::string joinHostPort(const IpAddress& ip, int port) {
  std::string out;
  if (ip.isV6()) out.push_back('[');
  ip.appendTo(out);
  if (ip.isV6()) out.push_back(']');
  out.push_back(':');
  out += std::to_string(port);
  return out;
}

}  // namespace kproxy
