#include "modes/common/chain_drift.h"

#include <map>
#include <set>
#include <unordered_map>

#include "modes/common/restore_text.h"
#include "modes/common/saved_rule.h"
#include "src/util/text_diff.h"

namespace kproxy::restore {
namespace {

struct KeyedRule {
  std::string key;
  std::string text;     // as given
  std::string display;  // as iptables-save would print it
};

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<KeyedRule> keyed(const std::vector<std::string>& rules, IpFamily family) {
  std::vector<KeyedRule> out;
  out.reserve(rules.size());
  for (const auto& r : rules) {
    auto c = canonicalRule(r, family);
    if (c.ok()) {
      out.push_back({std::move(c->key), trimmed(r), std::move(c->display)});
    } else {
      // A rule this parser cannot read compares by its words: if it is the same on both sides it
      // matches, otherwise it is shown as drift rather than hidden.
      std::string key;
      for (const auto& w : splitRuleWords(r)) key += (key.empty() ? "" : "\x1f") + w;
      out.push_back({std::move(key), trimmed(r), trimmed(r)});
    }
  }
  return out;
}

// The plan's jumps in a built-in chain as a sync would leave them: those already on the node stay
// where they are (in the node's order), the missing ones are inserted at the top.
std::vector<KeyedRule> builtinAfterSync(const std::vector<KeyedRule>& node, const std::vector<KeyedRule>& plan) {
  std::unordered_map<std::string, int> wanted;
  for (const auto& p : plan) ++wanted[p.key];
  std::unordered_map<std::string, int> on_node;
  for (const auto& n : node) ++on_node[n.key];
  std::vector<KeyedRule> out;
  for (const auto& p : plan) {
    if (on_node[p.key] > 0) {
      --on_node[p.key];
    } else {
      out.push_back(p);
    }
  }
  for (const auto& n : node) {
    if (wanted[n.key] > 0) {
      --wanted[n.key];
      out.push_back(n);
    }
  }
  return out;
}

bool isBuiltinChain(const std::string& chain) {
  static const std::set<std::string> kBuiltin = {"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"};
  return kBuiltin.count(chain) != 0;
}

std::string joinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace

std::string jumpTarget(std::string_view rule) {
  auto words = splitRuleWords(rule);
  for (size_t i = 0; i + 1 < words.size(); ++i)
    if (words[i] == "-j" || words[i] == "-g") return words[i + 1];
  return "";
}

std::vector<ChainRules> kubeProxyChains(const RestoreText& text) {
  std::vector<ChainRules> out;
  for (const auto& table : text.tables) {
    for (const auto& chain : table.chains) {
      const std::string& name = chain.name;
      ChainRules rules{.table = table.name, .chain = name, .builtin = isBuiltinChain(name)};
      if (rules.builtin) {
        for (const auto& rule : chain.rules) {
          const std::string target = jumpTarget(rule);
          if (target.rfind("KUBE-", 0) == 0 && target != "KUBE-KUBELET-CANARY") rules.rules.push_back(rule);
        }
        if (rules.rules.empty()) continue;
      } else {
        if (name.rfind("KUBE-", 0) != 0 || name == "KUBE-PROXY-CANARY" || name == "KUBE-KUBELET-CANARY" ||
            name == "KUBE-IPTABLES-HINT" || chain.deleted) {
          continue;
        }
        rules.rules = chain.rules;
      }
      out.push_back(std::move(rules));
    }
  }
  return out;
}

std::vector<ChainDrift> compareChains(const std::vector<ChainRules>& node, const std::vector<ChainRules>& plan,
                                      IpFamily family, const std::string& label) {
  using Key = std::pair<std::string, std::string>;
  std::map<Key, std::pair<const ChainRules*, const ChainRules*>> chains;
  for (const auto& c : node) chains[{c.table, c.chain}].first = &c;
  for (const auto& c : plan) chains[{c.table, c.chain}].second = &c;

  static const std::vector<std::string> kNone;
  std::vector<ChainDrift> out;
  for (const auto& [name, sides] : chains) {
    const auto& [on_node, in_plan] = sides;
    const bool builtin = (on_node != nullptr && on_node->builtin) || (in_plan != nullptr && in_plan->builtin);
    std::vector<KeyedRule> live = keyed(on_node ? on_node->rules : kNone, family);
    std::vector<KeyedRule> want = keyed(in_plan ? in_plan->rules : kNone, family);
    if (builtin) want = builtinAfterSync(live, want);

    bool same = on_node != nullptr && in_plan != nullptr && live.size() == want.size();
    for (size_t i = 0; same && i < live.size(); ++i) same = live[i].key == want[i].key;
    if (same) continue;

    ChainDrift drift{.table = name.first, .chain = name.second};
    std::string note;
    if (in_plan == nullptr) {
      drift.kind = ChainDrift::Kind::kOnlyOnNode;
      note = " (chain not in the plan)";
    } else if (on_node == nullptr) {
      drift.kind = ChainDrift::Kind::kOnlyInPlan;
      note = " (chain missing on the node)";
    }
    // Rules equal to one on the node are shown in the node's words, so that only real
    // differences show up as "-" and "+" lines.
    std::unordered_map<std::string, const std::string*> node_text;
    for (const auto& l : live) node_text.emplace(l.key, &l.text);
    std::vector<std::string> live_lines, plan_lines;
    for (const auto& l : live) live_lines.push_back(l.text);
    for (const auto& w : want) {
      auto it = node_text.find(w.key);
      plan_lines.push_back(it != node_text.end() ? *it->second : w.display);
    }
    const std::string where = label + " " + name.first + "/" + name.second;
    drift.diff = unifiedDiff(joinLines(live_lines), joinLines(plan_lines), "live " + where + note, "plan " + where);
    if (drift.diff.empty()) drift.diff = "--- live " + where + note + "\n+++ plan " + where + "\n";
    out.push_back(std::move(drift));
  }
  return out;
}

}  // namespace kproxy::restore
