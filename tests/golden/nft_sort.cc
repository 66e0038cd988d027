#include "tests/golden/nft_sort.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <string_view>
#include <vector>

namespace kproxy::golden {
namespace {

int objectOrder(std::string_view type) {
  static const std::map<std::string_view, int> kOrder = {{"table", 10}, {"chain", 9}, {"rule", 8},
                                                         {"set", 7},    {"map", 6},   {"element", 5}};
  auto it = kOrder.find(type);
  return it == kOrder.end() ? 0 : it->second;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos <= line.size()) {
    size_t sp = line.find(' ', pos);
    if (sp == std::string_view::npos) sp = line.size();
    out.push_back(line.substr(pos, sp - pos));
    pos = sp + 1;
  }
  return out;
}

}  // namespace

std::string sortNftablesDump(const std::string& dump) {
  std::vector<std::string> lines;
  std::istringstream in(dump);
  std::string line;
  while (std::getline(in, line)) {
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const size_t end = line.find_last_not_of(" \t\r");
    lines.push_back(line.substr(start, end - start + 1));
  }
  std::stable_sort(lines.begin(), lines.end(), [](const std::string& a, const std::string& b) {
    const auto wa = words(a);
    const auto wb = words(b);
    if (wa.size() < 5 || wb.size() < 5) return false;
    if (wa[1] != wb[1]) return objectOrder(wa[1]) > objectOrder(wb[1]);
    if (wa[4] != wb[4]) return wa[4] < wb[4];
    if (wa[1] == "rule") return false;
    return a < b;
  });
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace kproxy::golden
