// EndpointInfo: one endpoint of one service port, as upstream's BaseEndpointInfo.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/util/ip.h"

namespace kproxy::tracker {

struct EndpointInfo {
  std::string endpoint;   // "IP:port" ("[IP]:port" for IPv6), the canonical IP; the sort key
  IpAddress ip;
  int port = 0;
  bool is_local = false;
  bool ready = false;
  bool serving = false;
  bool terminating = false;
  std::vector<std::string> zone_hints;  // sorted, unique
  std::vector<std::string> node_hints;  // sorted, unique; only with PreferSameTrafficDistribution

  // The IP of `endpoint` as text (ip.toString(), without brackets); a view into `endpoint`, so
  // that the ~100k endpoints of a large cluster do not carry a second copy.
  std::string_view ipText() const {
    const std::string_view e = endpoint;
    if (!e.empty() && e.front() == '[') return e.substr(1, e.find(']') - 1);
    return e.substr(0, e.rfind(':'));
  }

  bool hasZoneHint(const std::string& zone) const;
  bool hasNodeHint(const std::string& node) const;
  bool operator==(const EndpointInfo&) const = default;
};

using EndpointInfoPtr = std::shared_ptr<const EndpointInfo>;
// The endpoints of one service port, sorted by endpoint string.
using EndpointList = std::vector<EndpointInfoPtr>;

}  // namespace kproxy::tracker
