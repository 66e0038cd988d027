#include "modes/iptables/chain_name_set.h"

#include <algorithm>
#include <cstring>

namespace kproxy::iptables {

ChainName::ChainName(std::string_view name) {
  size_ = static_cast<uint8_t>(std::min(name.size(), kMaxLength));
  std::memcpy(chars_.data(), name.data(), size_);
}

namespace {

struct ByText {
  bool operator()(const ChainName& a, std::string_view b) const { return a.view() < b; }
  bool operator()(std::string_view a, const ChainName& b) const { return a < b.view(); }
};

// Sorted, unique, fitting names of `from`.
std::vector<ChainName> sortedNames(const std::vector<std::string>& from) {
  std::vector<ChainName> out;
  out.reserve(from.size());
  for (const auto& name : from) {
    if (ChainNameSet::fits(name)) out.emplace_back(name);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

ChainNameSet::ChainNameSet(std::initializer_list<std::string_view> names) {
  for (std::string_view name : names) insert(name);
}

ChainNameSet::ChainNameSet(const std::vector<std::string>& names) : names_(sortedNames(names)) {}

bool ChainNameSet::insert(std::string_view name) {
  if (!fits(name)) return false;
  auto it = std::lower_bound(names_.begin(), names_.end(), name, ByText{});
  if (it != names_.end() && it->view() == name) return false;
  names_.insert(it, ChainName(name));
  return true;
}

bool ChainNameSet::erase(std::string_view name) {
  auto it = std::lower_bound(names_.begin(), names_.end(), name, ByText{});
  if (it == names_.end() || it->view() != name) return false;
  names_.erase(it);
  return true;
}

bool ChainNameSet::contains(std::string_view name) const {
  return std::binary_search(names_.begin(), names_.end(), name, ByText{});
}

void ChainNameSet::update(const std::vector<std::string>& added, const std::vector<std::string>& removed) {
  if (added.size() + removed.size() <= 64) {  // a partial sync: cheaper than copying the set
    for (const auto& name : added) insert(name);
    for (const auto& name : removed) erase(name);
    return;
  }
  const std::vector<ChainName> add = sortedNames(added);
  const std::vector<ChainName> remove = sortedNames(removed);
  std::vector<ChainName> merged;
  merged.reserve(names_.size() + add.size());
  std::set_union(names_.begin(), names_.end(), add.begin(), add.end(), std::back_inserter(merged));
  std::vector<ChainName> result;
  result.reserve(merged.size());
  std::set_difference(merged.begin(), merged.end(), remove.begin(), remove.end(), std::back_inserter(result));
  names_ = std::move(result);
}

}  // namespace kproxy::iptables
