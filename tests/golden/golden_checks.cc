#include "tests/golden/golden_checks.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace kproxy::golden {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::string withFakeMark(std::string output) {
  const std::string_view from = "0x00004000", to = "0x4000";
  size_t pos = 0;
  while ((pos = output.find(from, pos)) != std::string::npos) {
    output.replace(pos, from.size(), to);
    pos += to.size();
  }
  return output;
}

std::vector<std::string> runChecks(const std::string& expectations, const std::string& payload) {
  std::vector<std::string> failures;
  const auto out_lines = lines(payload);
  for (const auto& check : lines(expectations)) {
    if (check.empty() || check[0] == '#') continue;
    auto colon = check.find(": ");
    if (colon == std::string::npos) {
      failures.push_back("bad check line: " + check);
      continue;
    }
    std::string kind = check.substr(0, colon);
    std::string arg = check.substr(colon + 2);
    if (kind == "contains-line") {
      if (std::find(out_lines.begin(), out_lines.end(), arg) == out_lines.end())
        failures.push_back("missing line: " + arg);
    } else if (kind == "contains") {
      if (payload.find(arg) == std::string::npos) failures.push_back("missing text: " + arg);
    } else if (kind == "not-contains") {
      if (payload.find(arg) != std::string::npos) failures.push_back("unexpected text: " + arg);
    } else if (kind == "count") {
      auto space = arg.find(' ');
      auto bar = arg.find('|', space == std::string::npos ? 0 : space);
      if (space == std::string::npos || bar == std::string::npos) {
        failures.push_back("bad count line: " + check);
        continue;
      }
      long expected = std::strtol(arg.substr(0, space).c_str(), nullptr, 10);
      std::string prefix = arg.substr(space + 1, bar - space - 1);
      std::string text = arg.substr(bar + 1);
      long n = 0;
      for (const auto& l : out_lines)
        if (l.rfind(prefix, 0) == 0 && l.find(text) != std::string::npos) ++n;
      if (n != expected)
        failures.push_back("count of lines starting \"" + prefix + "\" containing \"" + text + "\": expected " +
                           std::to_string(expected) + ", got " + std::to_string(n));
    } else {
      failures.push_back("unknown check: " + check);
    }
  }
  return failures;
}

}  // namespace kproxy::golden
