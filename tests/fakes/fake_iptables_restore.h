// FakeIptablesRestore: an in-memory iptables that parses restore input into tables the way the
// kernel tools do (chain lines create or flush, -A needs existing chains and jump targets, -X
// fails on a referenced or non-empty chain, each table commits at its COMMIT as on both real back
// ends), and prints its state like iptables-save (design.md convention 9). failAtLine() makes the
// next restore fail at a given line, for failure tests.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "netlink/iptables_restore.h"

namespace kproxy::testing {

class FakeIptablesRestore final : public netlink::IptablesRestore {
 public:
  explicit FakeIptablesRestore(netlink::IptablesBackend backend = netlink::IptablesBackend::kNft,
                               bool random_fully = false);

  // netlink::IptablesRestore
  netlink::IptablesBackend backend() const override { return backend_; }
  Status restore(IpFamily family, const std::vector<std::string_view>& pieces,
                 const netlink::RestoreOptions& options = {}) override;
  Result<std::string> save(IpFamily family, std::string_view table) override;
  Result<bool> ruleExists(IpFamily family, std::string_view table, std::string_view chain,
                          const std::vector<std::string>& args) override;
  Status insertRule(IpFamily family, std::string_view table, std::string_view chain,
                    const std::vector<std::string>& args, bool prepend) override;
  Status deleteRule(IpFamily family, std::string_view table, std::string_view chain,
                    const std::vector<std::string>& args) override;
  Status ensureChain(IpFamily family, std::string_view table, std::string_view chain) override;
  Result<bool> chainExists(IpFamily family, std::string_view table, std::string_view chain) override;
  bool hasRandomFully() const override { return random_fully_; }

  // The next restore fails at this 1-based line of its input (nothing of that table is applied).
  void failAtLine(int line) { fail_at_line_ = line; }
  // iptables-save text of every table of `family`.
  std::string dump(IpFamily family = IpFamily::kIPv4) const;
  // Rules of one chain ("-A CHAIN ..." lines without the "-A CHAIN " prefix), for assertions.
  std::vector<std::string> rules(std::string_view table, std::string_view chain, IpFamily family = IpFamily::kIPv4) const;
  // Every restore input received, in order.
  const std::vector<std::string>& restores() const { return restores_; }
  size_t calls() const { return calls_; }

 private:
  struct Chain {
    std::vector<std::string> rules;  // rule specs after "-A NAME "
  };
  struct Table {
    std::map<std::string, Chain> chains;
    std::vector<std::string> order;  // chain creation order
  };
  using Tables = std::map<std::string, Table>;

  Tables& tables(IpFamily family) { return family == IpFamily::kIPv4 ? v4_ : v6_; }
  const Tables& tables(IpFamily family) const { return family == IpFamily::kIPv4 ? v4_ : v6_; }
  static Table emptyTable(const std::string& name);
  static std::string ruleSpec(const std::vector<std::string>& args);

  netlink::IptablesBackend backend_;
  bool random_fully_;
  Tables v4_, v6_;
  int fail_at_line_ = 0;
  std::vector<std::string> restores_;
  size_t calls_ = 0;
};

}  // namespace kproxy::testing
