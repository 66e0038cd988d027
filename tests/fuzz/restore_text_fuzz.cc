// iptables-restore / iptables-save text as `kproxy diff` reads it (modes/common): the table and
// chain reader, the rule canonicaliser (saved_rule) for both families, comment extraction, and the
// chain-by-chain comparison. Properties: a state compared with itself shows no drift; canonical
// keys are stable (canonicalising a rule's display form gives the same key).
#include <algorithm>
#include <string>
#include <vector>

#include "modes/common/chain_drift.h"
#include "modes/common/restore_text.h"
#include "modes/common/saved_rule.h"
#include "tests/fuzz/fuzz_common.h"

KPROXY_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kproxy;
  auto parsed = restore::parseRestoreText(fuzz::text(data, size));
  if (!parsed.ok()) return 0;
  std::vector<restore::ChainRules> node, reversed;
  for (const auto& table : parsed->tables) {
    for (const auto& chain : table.chains) {
      if (chain.deleted) continue;
      for (const auto& rule : chain.rules) {
        (void)restore::ruleComment(rule);
        for (IpFamily family : {IpFamily::kIPv4, IpFamily::kIPv6}) {
          auto canonical = restore::canonicalRule(rule, family);
          if (!canonical.ok()) continue;
          auto again = restore::canonicalRule(canonical->display, family);
          if (!again.ok()) {
            fprintf(stderr, "rule: %s\ndisplay: %s\nerror: %s\n", rule.c_str(), canonical->display.c_str(),
                    again.error().message.c_str());
            fuzz::broken("a canonical rule's display form does not parse");
          }
          if (again->key != canonical->key) {
            fprintf(stderr, "rule: %s\ndisplay: %s\nkey:  %s\nkey2: %s\n", rule.c_str(), canonical->display.c_str(),
                    canonical->key.c_str(), again->key.c_str());
            fuzz::broken("canonicalRule(display) gives another key");
          }
        }
      }
      node.push_back({.table = table.name, .chain = chain.name, .builtin = chain.policy != "-", .rules = chain.rules});
      reversed.push_back(node.back());
      std::reverse(reversed.back().rules.begin(), reversed.back().rules.end());
    }
  }
  if (!restore::compareChains(node, node, IpFamily::kIPv4, "fuzz").empty()) fuzz::broken("a state differs from itself");
  (void)restore::compareChains(node, reversed, IpFamily::kIPv6, "fuzz");
  return 0;
}
