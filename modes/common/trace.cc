#include "modes/common/trace.h"

#include <algorithm>

namespace kproxy::tracing {

std::string TraceResult::outputString() const {
  std::string out;
  for (const auto& o : outputs) {
    if (!out.empty()) out += ", ";
    out += o.value;
  }
  return out;
}

std::vector<std::string> TraceResult::chainNames() const {
  std::vector<std::string> names;
  names.reserve(visits.size());
  for (const auto& v : visits) names.push_back(v.table + "/" + v.chain);
  return names;
}

std::string TraceResult::verdict() const {
  for (const auto& o : outputs) {
    if (!o.is_endpoint) return o.value;
  }
  return "";
}

Result<IpAddress> hostOfEndpoint(std::string_view endpoint) {
  std::string_view host = endpoint;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return Error("bad endpoint \"" + std::string(endpoint) + "\"");
    host = host.substr(1, close - 1);
  } else if (std::count(host.begin(), host.end(), ':') == 1) {
    host = host.substr(0, host.find(':'));
  }
  // A DNAT range "a-b" starts at a.
  host = host.substr(0, host.find('-'));
  return IpAddress::parseSloppy(host);
}

}  // namespace kproxy::tracing
