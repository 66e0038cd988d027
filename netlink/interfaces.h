// The node's interface addresses (upstream lists them with net.Interfaces for nodePortAddresses
// and the IPVS node IPs).
#pragma once

#include <string>
#include <vector>

#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::netlink {

struct InterfaceAddressInfo {
  std::string interface;
  InterfaceAddress address;
};

// Every IPv4 and IPv6 address of every interface, with its prefix length (getifaddrs).
Result<std::vector<InterfaceAddressInfo>> listInterfaceAddresses();

}  // namespace kproxy::netlink
