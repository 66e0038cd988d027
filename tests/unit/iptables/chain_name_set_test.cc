#include "modes/iptables/chain_name_set.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace kproxy::iptables {
namespace {

std::vector<std::string> contents(const ChainNameSet& set) {
  std::vector<std::string> out;
  for (std::string_view name : set) out.emplace_back(name);
  return out;
}

TEST(ChainNameSet, KeepsNamesSortedAndUnique) {
  ChainNameSet set = {"KUBE-SVC-B", "KUBE-SEP-A", "KUBE-SVC-B"};
  EXPECT_EQ(contents(set), (std::vector<std::string>{"KUBE-SEP-A", "KUBE-SVC-B"}));
  EXPECT_TRUE(set.insert("KUBE-EXT-C"));
  EXPECT_FALSE(set.insert("KUBE-EXT-C"));
  EXPECT_TRUE(set.contains("KUBE-EXT-C"));
  EXPECT_EQ(set.count("KUBE-EXT-"), 0u) << "a prefix is not a member";
  EXPECT_TRUE(set.erase("KUBE-SEP-A"));
  EXPECT_FALSE(set.erase("KUBE-SEP-A"));
  EXPECT_EQ(contents(set), (std::vector<std::string>{"KUBE-EXT-C", "KUBE-SVC-B"}));
}

TEST(ChainNameSet, BuiltFromUnsortedNamesWithDuplicates) {
  const ChainNameSet set(std::vector<std::string>{"KUBE-SVC-B", "KUBE-SEP-A", "KUBE-SVC-B", std::string(29, 'X')});
  EXPECT_EQ(contents(set), (std::vector<std::string>{"KUBE-SEP-A", "KUBE-SVC-B"})) << "a too-long name is no chain";
  EXPECT_EQ(set, (ChainNameSet{"KUBE-SVC-B", "KUBE-SEP-A"}));
}

TEST(ChainNameSet, HoldsNamesUpToTheKernelLimitOnly) {
  ChainNameSet set;
  const std::string longest(ChainName::kMaxLength, 'X');
  EXPECT_TRUE(set.insert(longest));
  EXPECT_TRUE(set.contains(longest));
  EXPECT_FALSE(set.insert(longest + "Y")) << "no chain can have a 29-character name";
  EXPECT_FALSE(set.contains(longest + "Y"));
  EXPECT_EQ(set.size(), 1u);
}

// update() takes a shortcut for small changes and merges for large ones; both must behave as
// std::set would, including a name that is both added and removed (the removal wins, as the
// restore that wrote it also deleted it).
TEST(ChainNameSet, UpdateMatchesStdSetForSmallAndLargeChanges) {
  for (int added_count : {3, 500}) {
    ChainNameSet set;
    std::set<std::string> reference;
    for (int i = 0; i < 1000; i += 2) {
      const std::string name = "KUBE-SEP-" + std::to_string(100000 + i);
      set.insert(name);
      reference.insert(name);
    }
    std::vector<std::string> added, removed;
    for (int i = 0; i < added_count; ++i) added.push_back("KUBE-SEP-" + std::to_string(100001 + 2 * i));
    for (int i = 0; i < added_count; ++i) removed.push_back("KUBE-SEP-" + std::to_string(100000 + 4 * i));
    removed.push_back(added.front());
    added.push_back(added.front());  // a duplicate in the input
    set.update(added, removed);
    for (const auto& name : added) reference.insert(name);
    for (const auto& name : removed) reference.erase(name);
    EXPECT_EQ(contents(set), std::vector<std::string>(reference.begin(), reference.end())) << added_count;
  }
}

}  // namespace
}  // namespace kproxy::iptables
