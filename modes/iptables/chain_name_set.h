// ChainNameSet: a sorted set of iptables chain names stored inline. The iptables proxier keeps
// the per-service nat chains the kernel holds (~110k names at 10k services x 10 endpoints); as a
// std::set<std::string> that took ~15 MB (a tree node and a heap string per name, plus malloc's
// overhead on each), here it is one array of 29-byte entries (~3.2 MB). Iteration is in byte
// order, as std::set<std::string> iterated, so the stale-chain deletions keep their order.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace kproxy::iptables {

class ChainName {
 public:
  // The kernel's limit (XT_EXTENSION_MAXNAMELEN - 1): no longer name can exist in a table.
  static constexpr size_t kMaxLength = 28;

  ChainName() = default;
  // `name` must fit (ChainNameSet checks); a longer one is cut.
  explicit ChainName(std::string_view name);

  std::string_view view() const { return {chars_.data(), size_}; }
  operator std::string_view() const { return view(); }  // NOLINT: a name reads as its text

  friend bool operator==(const ChainName& a, const ChainName& b) { return a.view() == b.view(); }
  friend std::strong_ordering operator<=>(const ChainName& a, const ChainName& b) { return a.view() <=> b.view(); }

 private:
  std::array<char, kMaxLength> chars_{};
  uint8_t size_ = 0;
};

class ChainNameSet {
 public:
  using const_iterator = std::vector<ChainName>::const_iterator;

  ChainNameSet() = default;
  ChainNameSet(std::initializer_list<std::string_view> names);
  // From names in any order, duplicates allowed (as read from iptables-save).
  explicit ChainNameSet(const std::vector<std::string>& names);

  static bool fits(std::string_view name) { return name.size() <= ChainName::kMaxLength; }

  // False when already present, or when the name is too long to be a chain.
  bool insert(std::string_view name);
  bool erase(std::string_view name);
  bool contains(std::string_view name) const;
  size_t count(std::string_view name) const { return contains(name) ? 1 : 0; }
  size_t size() const { return names_.size(); }
  bool empty() const { return names_.empty(); }
  const_iterator begin() const { return names_.begin(); }
  const_iterator end() const { return names_.end(); }

  // Adds `added` and removes `removed` (a removal wins over an addition of the same name) in
  // one pass: a sync changes a few names of a large set, and one insert or erase costs a move
  // of everything after it.
  void update(const std::vector<std::string>& added, const std::vector<std::string>& removed);

  friend bool operator==(const ChainNameSet&, const ChainNameSet&) = default;

 private:
  std::vector<ChainName> names_;  // sorted, unique
};

}  // namespace kproxy::iptables
