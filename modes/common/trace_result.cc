#include "modes/common/trace_result.h"

namespace kproxy::trace {

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

}  // namespace kproxy::trace
