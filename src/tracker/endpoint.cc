#include "src/tracker/endpoint.h"

#include <algorithm>

namespace kproxy::tracker {

bool EndpointInfo::hasZoneHint(const std::string& zone) const {
  return std::binary_search(zone_hints.begin(), zone_hints.end(), zone);
}

bool EndpointInfo::hasNodeHint(const std::string& node) const {
  return std::binary_search(node_hints.begin(), node_hints.end(), node);
}

}  // namespace kproxy::tracker
