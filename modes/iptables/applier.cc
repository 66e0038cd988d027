#include "modes/iptables/applier.h"

#include <algorithm>
#include <unordered_set>

#include "modes/iptables/chain_names.h"
#include "modes/iptables/payload_sections.h"

namespace kproxy::iptables {
namespace {

// Dependency order of new per-service chains: a chain may only jump to chains that exist, so the
// endpoint chains go first and the firewall chains (which jump to EXT) last.
int creationRank(std::string_view chain) {
  if (chain.substr(0, 9) == "KUBE-SEP-") return 0;
  if (chain.substr(0, 9) == "KUBE-SVC-" || chain.substr(0, 9) == "KUBE-SVL-") return 1;
  if (chain.substr(0, 9) == "KUBE-EXT-") return 2;
  return 3;  // KUBE-FW-
}

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

bool isTopLevelChain(std::string_view chain) { return !isServiceChainName(chain); }

std::string linesAround(const std::string& input, int line, int context) {
  if (line <= 0) return "";
  std::string out;
  int n = 1;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t nl = input.find('\n', pos);
    if (nl == std::string::npos) nl = input.size();
    if (n >= line - context && n <= line + context) {
      out += (n == line ? "> " : "  ") + std::to_string(n) + ": " + input.substr(pos, nl - pos) + "\n";
    }
    if (n > line + context) break;
    ++n;
    pos = nl + 1;
  }
  return out;
}

IptablesApplier::IptablesApplier(netlink::IptablesRestore& iptables, IpFamily family, ApplyOptions options)
    : iptables_(iptables), family_(family), options_(options) {}

bool IptablesApplier::wantsWholeTableCache(size_t declared, size_t existing) const {
  if (iptables_.backend() != netlink::IptablesBackend::kNft || options_.nft_whole_table_cache_min_chains == 0 ||
      declared < options_.nft_whole_table_cache_min_chains) {
    return false;
  }
  // Without the hint the restore costs about 0.1 us x declared^2 (measured: ~6 s for 11k chains);
  // with it, one dump of the table, about 30 us per existing chain (~3 s at 110k chains). A full
  // sync names every chain, so it always qualifies; a partial sync qualifies only when it
  // rewrites a sizeable part of a large table.
  return declared * declared >= 256 * existing;
}

Status IptablesApplier::restore(const std::vector<std::string_view>& input, ApplyReport& report) {
  auto status = iptables_.restore(family_, input);
  for (auto piece : input) report.bytes_written += piece.size();
  ++report.restores;
  if (!status.ok()) {
    last_failed_input_.clear();
    for (auto piece : input) last_failed_input_.append(piece);
    invalidate();
    std::string around = linesAround(last_failed_input_, status.error().code);
    return Error(status.error().message + (around.empty() ? "" : "\n" + around), status.error().code);
  }
  return okStatus();
}

void IptablesApplier::rememberTopLevel(std::string_view table, std::string_view chain_lines, std::string_view rule_lines) {
  // A full plan holds hundreds of thousands of per-service lines: only the few top-level chains
  // are kept, without splitting the whole payload into sections.
  std::map<std::string_view, std::string> texts;
  forEachLine(chain_lines, [&](std::string_view line) {
    if (line.size() < 2 || line[0] != ':') return;
    std::string_view chain = line.substr(1, line.find(' ') - 1);
    if (isTopLevelChain(chain)) texts[chain];
  });
  forEachLine(rule_lines, [&](std::string_view line) {
    if (line.substr(0, 3) != "-A ") return;
    std::string_view rest = line.substr(3);
    auto it = texts.find(rest.substr(0, rest.find(' ')));
    if (it == texts.end()) return;
    it->second.append(line);
    it->second += '\n';
  });
  for (auto& [chain, text] : texts) written_top_level_[{std::string(table), std::string(chain)}] = std::move(text);
}

Result<ApplyReport> IptablesApplier::apply(const IptablesPlan& plan, const ChainNameSet& kernel_nat_chains) {
  const auto start = std::chrono::steady_clock::now();
  ApplyReport report;
  const bool partial = !plan.full_sync && options_.skip_unchanged_top_level && !written_top_level_.empty();
  const size_t declared_nat_chains = static_cast<size_t>(std::count(plan.nat_chains.begin(), plan.nat_chains.end(), '\n'));
  const bool whole_table_cache = !partial && wantsWholeTableCache(declared_nat_chains, kernel_nat_chains.size());
  const bool may_chunk = !partial && !whole_table_cache && plan.full_sync && options_.chunk_full_syncs &&
                         declared_nat_chains >= options_.min_chains_to_chunk;
  if (!partial && !may_chunk) {
    // One restore of the whole payload.
    auto pieces = plan.payloadPieces();
    std::vector<std::string_view> input(pieces.begin(), pieces.end());
    // pieces[3] is "COMMIT\n*nat\n": the hint opens the nat block.
    if (whole_table_cache) input.insert(input.begin() + 4, kWholeTableCacheHint);
    if (auto s = restore(input, report); !s.ok()) return s.error();
    rememberTopLevel("filter", plan.filter_chains, plan.filter_rules);
    rememberTopLevel("nat", plan.nat_chains, plan.nat_rules);
    report.duration = std::chrono::steady_clock::now() - start;
    return report;
  }

  TableSections filter = splitTable("filter", plan.filter_chains, plan.filter_rules);
  TableSections nat = splitTable("nat", plan.nat_chains, plan.nat_rules);
  auto remember = [&](const TableSections& table, auto pick) {
    for (auto chain : table.chains) {
      if (isTopLevelChain(chain) && pick(chain)) {
        written_top_level_[{std::string(table.name), std::string(chain)}] = table.chainText(chain);
      }
    }
  };
  auto all = [](std::string_view) { return true; };

  if (partial) {
    // Partial sync: per-service chains in the plan, and the top-level chains that changed.
    auto changed = [&](const TableSections& table) {
      return [&table, this](std::string_view chain) {
        if (!isTopLevelChain(chain)) return true;
        auto it = written_top_level_.find({std::string(table.name), std::string(chain)});
        return it == written_top_level_.end() || it->second != table.chainText(chain);
      };
    };
    auto filter_pick = changed(filter);
    auto nat_pick = changed(nat);
    std::string input;
    size_t filter_chains = 0, nat_chains = 0;
    {
      std::string filter_text;
      filter_chains = appendTable(filter_text, filter, filter_pick, true);
      if (filter_chains > 0 || !filter.deleted.empty()) input += filter_text;
      std::string nat_text;
      nat_chains = appendTable(nat_text, nat, nat_pick, true);
      if (wantsWholeTableCache(nat_chains, kernel_nat_chains.size())) {
        nat_text.insert(nat.name.size() + 2, kWholeTableCacheHint);  // after "*nat\n"
      }
      if (nat_chains > 0 || !nat.deleted.empty()) input += nat_text;
    }
    if (!input.empty()) {
      if (auto s = restore(input, report); !s.ok()) return s.error();
    }
    remember(filter, filter_pick);
    remember(nat, nat_pick);
    report.duration = std::chrono::steady_clock::now() - start;
    return report;
  }

  // New per-service chains: declared in this plan and absent from the kernel.
  std::vector<std::string_view> new_chains;
  for (auto chain : nat.chains) {
    if (isServiceChainName(chain) && kernel_nat_chains.count(chain) == 0 &&
        std::find(nat.deleted.begin(), nat.deleted.end(), chain) == nat.deleted.end()) {
      new_chains.push_back(chain);
    }
  }
  if (new_chains.size() < options_.min_chains_to_chunk) {
    auto pieces = plan.payloadPieces();
    if (auto s = restore(std::vector<std::string_view>(pieces.begin(), pieces.end()), report); !s.ok()) return s.error();
    remember(filter, all);
    remember(nat, all);
    report.duration = std::chrono::steady_clock::now() - start;
    return report;
  }

  // 1. Chains nothing jumps to yet, in dependency order, a chunk at a time. The first chunk also
  //    (re)writes KUBE-MARK-MASQ, which the new chains jump to and which may not exist yet.
  std::stable_sort(new_chains.begin(), new_chains.end(),
                   [](std::string_view a, std::string_view b) { return creationRank(a) < creationRank(b); });
  std::unordered_set<std::string_view> created;
  for (size_t i = 0; i < new_chains.size(); i += options_.chunk_chains) {
    std::unordered_set<std::string_view> chunk(new_chains.begin() + static_cast<long>(i),
                                               new_chains.begin() + static_cast<long>(std::min(new_chains.size(), i + options_.chunk_chains)));
    if (i == 0) chunk.insert(kMarkMasqChain);
    std::string input;
    appendTable(input, nat, [&](std::string_view c) { return chunk.count(c) != 0; }, false);
    if (auto s = restore(input, report); !s.ok()) return s.error();
    created.insert(chunk.begin(), chunk.end());
  }
  // 2. Everything traffic already uses: the filter table, the top-level nat chains and the
  //    existing per-service chains, in one transaction.
  std::string input;
  appendTable(input, filter, all, false);
  appendTable(input, nat, [&](std::string_view c) { return c == kMarkMasqChain || created.count(c) == 0; }, false);
  if (auto s = restore(input, report); !s.ok()) return s.error();
  // 3. Stale chains, no longer referenced by anything.
  if (!nat.deleted.empty() || !filter.deleted.empty()) {
    std::string deletions;
    auto none = [](std::string_view) { return false; };
    if (!filter.deleted.empty()) appendTable(deletions, filter, none, true);
    if (!nat.deleted.empty()) appendTable(deletions, nat, none, true);
    if (auto s = restore(deletions, report); !s.ok()) return s.error();
  }
  remember(filter, all);
  remember(nat, all);
  report.duration = std::chrono::steady_clock::now() - start;
  return report;
}

}  // namespace kproxy::iptables
