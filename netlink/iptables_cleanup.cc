#include "netlink/iptables_cleanup.h"

namespace kproxy::netlink {

void deleteRuleEveryCopy(IptablesRestore& iptables, IpFamily family, std::string_view table, std::string_view chain,
                         const std::vector<std::string>& args, std::vector<std::string>* errors) {
  // Bounded: a rule that reappears as fast as it is deleted is someone else's loop, not ours.
  for (int i = 0; i < 16; ++i) {
    auto exists = iptables.ruleExists(family, table, chain, args);
    if (!exists.ok() || !*exists) return;
    if (auto s = iptables.deleteRule(family, table, chain, args); !s.ok()) {
      errors->push_back(std::string(ipFamilyName(family)) + ": " + s.error().message);
      return;
    }
  }
}

std::vector<std::string_view> savedChainNames(std::string_view saved) {
  std::vector<std::string_view> names;
  size_t pos = 0;
  while (pos < saved.size()) {
    size_t nl = saved.find('\n', pos);
    if (nl == std::string_view::npos) nl = saved.size();
    const std::string_view line = saved.substr(pos, nl - pos);
    if (line.size() > 1 && line[0] == ':') {
      const size_t space = line.find(' ');
      names.push_back(line.substr(1, space == std::string_view::npos ? std::string_view::npos : space - 1));
    }
    pos = nl + 1;
  }
  return names;
}

void deleteOwnedChains(IptablesRestore& iptables, IpFamily family, std::string_view table,
                       const std::function<bool(std::string_view)>& owned, std::vector<std::string>* errors) {
  const std::string where = std::string(ipFamilyName(family)) + " " + std::string(table);
  auto saved = iptables.save(family, table);
  if (!saved.ok()) {
    errors->push_back(where + ": " + saved.error().message);
    return;
  }
  std::vector<std::string_view> ours;
  for (std::string_view name : savedChainNames(*saved)) {
    if (owned(name)) ours.push_back(name);
  }
  if (ours.empty()) return;
  std::string input = "*";  // appended piece by piece: see modes/registry.cc on -Wrestrict
  input.append(table).append("\n");
  for (auto c : ours) input.append(":").append(c).append(" - [0:0]\n");
  for (auto c : ours) input.append("-X ").append(c).append("\n");
  input += "COMMIT\n";
  if (auto s = iptables.restore(family, {input}); !s.ok()) errors->push_back(where + ": " + s.error().message);
}

}  // namespace kproxy::netlink
