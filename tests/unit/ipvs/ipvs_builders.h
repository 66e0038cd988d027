// Test builders for IPVS state values (designated initialisers would need every field; these
// take the few a test cares about).
#pragma once

#include <string_view>
#include <utility>
#include <vector>

#include "modes/ipvs/state.h"

namespace kproxy::ipvs::testing {

inline IpAddress ip(std::string_view text) { return *IpAddress::parse(text); }

inline RealServer rs(std::string_view address, uint16_t port, int weight = 1) {
  return RealServer{.address = ip(address), .port = port, .weight = weight};
}

inline VirtualServer vs(std::string_view address, uint16_t port, api::Protocol protocol = api::Protocol::kTCP,
                        std::vector<RealServer> rss = {}) {
  VirtualServer v;
  v.address = ip(address);
  v.port = port;
  v.protocol = protocol;
  v.netmask = defaultNetmask(v.address.family());
  v.real_servers = std::move(rss);
  return v;
}

}  // namespace kproxy::ipvs::testing
