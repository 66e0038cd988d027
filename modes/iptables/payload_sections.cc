#include "modes/iptables/payload_sections.h"

namespace kproxy::iptables {
namespace {

template <typename Fn>
void forEachLine(std::string_view text, Fn fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    if (nl > pos) fn(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

}  // namespace

std::string TableSections::chainText(std::string_view chain) const {
  std::string out;
  auto it = rules.find(chain);
  if (it == rules.end()) return out;
  for (auto line : it->second) {
    out += line;
    out += '\n';
  }
  return out;
}

TableSections splitTable(std::string_view name, std::string_view chain_lines, std::string_view rule_lines) {
  TableSections t;
  t.name = name;
  forEachLine(chain_lines, [&](std::string_view line) {
    // ":NAME - [0:0]"
    if (line.size() < 2 || line[0] != ':') return;
    t.chains.push_back(line.substr(1, line.find(' ') - 1));
  });
  t.rules.reserve(t.chains.size());
  forEachLine(rule_lines, [&](std::string_view line) {
    if (line.substr(0, 3) == "-X ") {
      t.deleted.push_back(line.substr(3));
      return;
    }
    if (line.substr(0, 3) != "-A ") return;
    std::string_view rest = line.substr(3);
    t.rules[rest.substr(0, rest.find(' '))].push_back(line);
  });
  return t;
}

}  // namespace kproxy::iptables
