// EndpointInfo: one endpoint of one service port, as upstream's BaseEndpointInfo.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "src/util/ip.h"

namespace kproxy::tracker {

struct EndpointInfo {
  std::string endpoint;   // "IP:port" ("[IP]:port" for IPv6), the canonical IP; the sort key
  IpAddress ip;
  std::string ip_string;  // ip.toString()
  int port = 0;
  bool is_local = false;
  bool ready = false;
  bool serving = false;
  bool terminating = false;
  std::vector<std::string> zone_hints;  // sorted, unique
  std::vector<std::string> node_hints;  // sorted, unique; only with PreferSameTrafficDistribution

  bool hasZoneHint(const std::string& zone) const;
  bool hasNodeHint(const std::string& node) const;
  bool operator==(const EndpointInfo&) const = default;
};

using EndpointInfoPtr = std::shared_ptr<const EndpointInfo>;
// The endpoints of one service port, sorted by endpoint string.
using EndpointList = std::vector<EndpointInfoPtr>;

}  // namespace kproxy::tracker
