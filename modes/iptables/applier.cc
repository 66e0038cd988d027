#include "modes/iptables/applier.h"

#include <algorithm>

#include "modes/iptables/chain_names.h"
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
  if (!partial) {
    // One restore of the whole payload, nat first (see the header).
    std::vector<std::string_view> input = {"*nat\n"};
    if (whole_table_cache) input.push_back(kWholeTableCacheHint);
    for (std::string_view piece : {std::string_view(plan.nat_chains), std::string_view(plan.nat_rules),
                                   std::string_view("COMMIT\n*filter\n"), std::string_view(plan.filter_chains),
                                   std::string_view(plan.filter_rules), std::string_view("COMMIT\n")}) {
      input.push_back(piece);
    }
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

  // Partial sync: per-service chains in the plan, and the top-level chains that changed; nat
  // first, as above.
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
  {
    std::string nat_text;
    const size_t nat_chains = appendTable(nat_text, nat, nat_pick, true);
    if (wantsWholeTableCache(nat_chains, kernel_nat_chains.size())) {
      nat_text.insert(nat.name.size() + 2, kWholeTableCacheHint);  // after "*nat\n"
    }
    if (nat_chains > 0 || !nat.deleted.empty()) input += nat_text;
    std::string filter_text;
    const size_t filter_chains = appendTable(filter_text, filter, filter_pick, true);
    if (filter_chains > 0 || !filter.deleted.empty()) input += filter_text;
  }
  if (!input.empty()) {
    if (auto s = restore(input, report); !s.ok()) return s.error();
  }
  remember(filter, filter_pick);
  remember(nat, nat_pick);
  report.duration = std::chrono::steady_clock::now() - start;
  return report;
}

}  // namespace kproxy::iptables
