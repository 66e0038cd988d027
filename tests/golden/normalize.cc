#include "tests/golden/normalize.h"

#include <algorithm>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include "modes/common/restore_text.h"

namespace kproxy::golden {
namespace {

using Less = std::function<bool(const std::string&, const std::string&)>;

// Go's sort.SliceStable: insertion sort on blocks of 20, then SymMerge passes.
class GoStableSort {
 public:
  GoStableSort(std::vector<std::string>& a, Less less) : a_(a), less_(std::move(less)) {}

  void run() {
    const int n = static_cast<int>(a_.size());
    int block = 20;
    int lo = 0, hi = block;
    while (hi <= n) {
      insertion(lo, hi);
      lo = hi;
      hi += block;
    }
    insertion(lo, n);
    while (block < n) {
      lo = 0;
      hi = 2 * block;
      while (hi <= n) {
        symMerge(lo, lo + block, hi);
        lo = hi;
        hi += 2 * block;
      }
      int m = lo + block;
      if (m < n) symMerge(lo, m, n);
      block *= 2;
    }
  }

 private:
  bool less(int i, int j) { return less_(a_[i], a_[j]); }
  void swap(int i, int j) { std::swap(a_[i], a_[j]); }
  void insertion(int lo, int hi) {
    for (int i = lo + 1; i < hi; ++i)
      for (int j = i; j > lo && less(j, j - 1); --j) swap(j, j - 1);
  }
  void swapRange(int x, int y, int k) {
    for (int i = 0; i < k; ++i) swap(x + i, y + i);
  }
  void rotate(int lo, int m, int hi) {
    int i = m - lo, j = hi - m;
    while (i != j) {
      if (i > j) {
        swapRange(m - i, m, j);
        i -= j;
      } else {
        swapRange(m - i, m + j - i, i);
        j -= i;
      }
    }
    swapRange(m - i, m, i);
  }
  void symMerge(int lo, int m, int hi) {
    if (m - lo == 1) {
      int i = m, j = hi;
      while (i < j) {
        int h = (i + j) >> 1;
        if (less(h, lo)) {
          i = h + 1;
        } else {
          j = h;
        }
      }
      for (int k = lo; k < i - 1; ++k) swap(k, k + 1);
      return;
    }
    if (hi - m == 1) {
      int i = lo, j = m;
      while (i < j) {
        int h = (i + j) >> 1;
        if (!less(m, h)) {
          i = h + 1;
        } else {
          j = h;
        }
      }
      for (int k = m; k > i; --k) swap(k, k - 1);
      return;
    }
    int mid = (lo + hi) >> 1;
    int n = mid + m;
    int start, r;
    if (m > mid) {
      start = n - hi;
      r = mid;
    } else {
      start = lo;
      r = m;
    }
    int p = n - 1;
    while (start < r) {
      int c = (start + r) >> 1;
      if (!less(p - c, c)) {
        start = c + 1;
      } else {
        r = c;
      }
    }
    int end = n - start;
    if (start < m && m < end) rotate(start, m, end);
    if (lo < start && start < mid) symMerge(lo, start, mid);
    if (mid < end && end < hi) symMerge(mid, end, hi);
  }

  std::vector<std::string>& a_;
  Less less_;
};

std::string serviceKey(const std::string& comment) {
  auto pos = comment.find_first_of(" :");
  return pos == std::string::npos ? comment : comment.substr(0, pos);
}

bool byService(const std::string& r1, const std::string& r2) {
  bool f1 = false, f2 = false;
  std::string c1 = restore::ruleComment(r1, &f1), c2 = restore::ruleComment(r2, &f2);
  if (!f1 || !f2) return false;
  return serviceKey(c1) < serviceKey(c2);
}

bool natServicesLess(const std::string& r1, const std::string& r2) {
  bool f1 = false, f2 = false;
  std::string c1 = restore::ruleComment(r1, &f1), c2 = restore::ruleComment(r2, &f2);
  if (f1 && c1.find("must be the last rule") != std::string::npos) return false;
  if (f2 && c2.find("must be the last rule") != std::string::npos) return true;
  return byService(r1, r2);
}

std::pair<int, std::string> chainOrder(const std::string& name) {
  if (name == "KUBE-NODEPORTS") return {0, ""};
  if (name == "KUBE-SERVICES") return {1, ""};
  if (name.rfind("KUBE-", 0) == 0) return {2, name};
  return {3, name};
}

}  // namespace

Result<std::string> normalizeRestoreText(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\n')) text.remove_prefix(1);
  auto parsed = restore::parseRestoreText(text);
  if (!parsed.ok()) return parsed.error();
  auto tables = std::move(parsed->tables);
  std::stable_sort(tables.begin(), tables.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::string out;
  for (auto& table : tables) {
    std::stable_sort(table.chains.begin(), table.chains.end(),
                     [](const auto& a, const auto& b) { return chainOrder(a.name) < chainOrder(b.name); });
    for (auto& chain : table.chains) {
      const bool filter_or_nat = table.name == "filter" || table.name == "nat";
      if (chain.name == "KUBE-NODEPORTS" && filter_or_nat) {
        GoStableSort(chain.rules, byService).run();
      } else if (chain.name == "KUBE-SERVICES" && table.name == "filter") {
        GoStableSort(chain.rules, byService).run();
      } else if (chain.name == "KUBE-SERVICES" && table.name == "nat") {
        GoStableSort(chain.rules, natServicesLess).run();
      }
    }
    out += "*" + table.name + "\n";
    // upstream prints its own "- [0:0]"-style line from the parsed counters
    for (const auto& chain : table.chains) out += ":" + chain.name + " - " + chain.counters + "\n";
    for (const auto& chain : table.chains)
      for (const auto& rule : chain.rules) out += rule + "\n";
    for (const auto& chain : table.chains)
      if (chain.deleted) out += "-X " + chain.name + "\n";
    out += "COMMIT\n";
  }
  return out;
}

std::vector<std::string> checkRuleJumps(std::string_view text) {
  static const std::set<std::string> kBuiltinTargets = {"ACCEPT", "REJECT", "DROP", "MARK",
                                                        "RETURN", "DNAT",   "SNAT", "MASQUERADE"};
  static const std::set<std::string> kTopLevel = {"KUBE-SERVICES",  "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS",
                                                  "KUBE-POSTROUTING", "KUBE-FORWARD", "KUBE-MARK-MASQ",
                                                  "KUBE-PROXY-FIREWALL", "KUBE-FIREWALL"};
  std::vector<std::string> errors;
  // Per table, the raw lines between "*table" and COMMIT (same approach as check_jumps.py).
  std::map<std::string, std::vector<std::string>> tables;
  std::vector<std::string>* current = nullptr;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line(text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos));
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line[0] == '*') {
      current = &tables[line.substr(1)];
    } else if (line == "COMMIT") {
      current = nullptr;
    } else if (current != nullptr) {
      current->push_back(line);
    }
  }
  for (const auto& [name, lines] : tables) {
    auto matches = [&](const std::regex& re) {
      std::set<std::string> out;
      for (const auto& l : lines) {
        std::smatch m;
        if (std::regex_search(l, m, re)) out.insert(m[1]);
      }
      return out;
    };
    auto minus = [](const std::set<std::string>& a, const std::set<std::string>& b) {
      std::set<std::string> out;
      std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
      return out;
    };
    auto join = [](const std::set<std::string>& s) {
      std::string out;
      for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
      return out;
    };
    auto created = minus(matches(std::regex("^:([^ ]*)")), matches(std::regex("-X ([^ ]*)")));
    auto filled = matches(std::regex("-A ([^ ]*)"));
    auto jumped = minus(matches(std::regex("-j ([^ ]*)")), kBuiltinTargets);
    std::set<std::string> used = jumped;
    used.insert(filled.begin(), filled.end());
    if (auto missing = minus(used, created); !missing.empty())
      errors.push_back(name + ": used but not created: " + join(missing));
    if (auto empty = minus(minus(jumped, filled), {"KUBE-NODEPORTS"}); !empty.empty())
      errors.push_back(name + ": jumped to but no rules: " + join(empty));
    if (auto extra = minus(minus(created, jumped), kTopLevel); !extra.empty())
      errors.push_back(name + ": created but not used: " + join(extra));
  }
  return errors;
}

Result<std::string> chainRules(std::string_view text, std::string_view table, std::string_view chain) {
  auto parsed = restore::parseRestoreText(text);
  if (!parsed.ok()) return parsed.error();
  std::string out;
  if (const auto* t = parsed->find(table)) {
    if (const auto* c = t->find(chain)) {
      for (const auto& rule : c->rules) out += rule + "\n";
    }
  }
  return out;
}

}  // namespace kproxy::golden
