#include "netlink/interfaces.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "src/util/unique_handle.h"

namespace kproxy::netlink {
namespace {

int prefixLength(const sockaddr* mask, int family) {
  if (mask == nullptr) return family == AF_INET ? 32 : 128;
  const uint8_t* bytes = family == AF_INET ? reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr)
                                           : reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
  int n = 0;
  for (int i = 0; i < (family == AF_INET ? 4 : 16); ++i) n += __builtin_popcount(bytes[i]);
  return n;
}

}  // namespace

Result<std::vector<InterfaceAddressInfo>> listInterfaceAddresses() {
  ifaddrs* raw = nullptr;
  if (getifaddrs(&raw) != 0) return Error(std::string("getifaddrs: ") + std::strerror(errno), errno);
  UniqueHandle<ifaddrs, freeifaddrs> list(raw);
  std::vector<InterfaceAddressInfo> out;
  for (ifaddrs* it = raw; it != nullptr; it = it->ifa_next) {
    if (it->ifa_addr == nullptr) continue;
    const int family = it->ifa_addr->sa_family;
    IpAddress ip;
    if (family == AF_INET) {
      ip = IpAddress::fromBytes(IpFamily::kIPv4,
                                reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr));
    } else if (family == AF_INET6) {
      ip = IpAddress::fromBytes(IpFamily::kIPv6,
                                reinterpret_cast<const uint8_t*>(&reinterpret_cast<sockaddr_in6*>(it->ifa_addr)->sin6_addr));
    } else {
      continue;
    }
    out.push_back({it->ifa_name, InterfaceAddress{ip, prefixLength(it->ifa_netmask, family)}});
  }
  return out;
}

}  // namespace kproxy::netlink
