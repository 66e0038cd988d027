#include "modes/iptables/proxier.h"

#include "modes/common/restore_text.h"
#include "modes/iptables/chain_names.h"
#include "src/util/log.h"

#include <cerrno>
#include <map>

namespace kproxy::iptables {

const std::vector<JumpRule>& jumpRules() {
  static const std::vector<JumpRule> rules = {
      {"filter", "INPUT", "KUBE-EXTERNAL-SERVICES", "kubernetes externally-visible service portals", true, false},
      {"filter", "FORWARD", "KUBE-EXTERNAL-SERVICES", "kubernetes externally-visible service portals", true, false},
      {"filter", "INPUT", "KUBE-NODEPORTS", "kubernetes health check service ports", false, false},
      {"filter", "FORWARD", "KUBE-SERVICES", "kubernetes service portals", true, false},
      {"filter", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", true, false},
      {"filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules", false, false},
      {"filter", "INPUT", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall", true, false},
      {"filter", "OUTPUT", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall", true, false},
      {"filter", "FORWARD", "KUBE-PROXY-FIREWALL", "kubernetes load balancer firewall", true, false},
      {"nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals", false, false},
      {"nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals", false, false},
      {"nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules", false, false},
      {"filter", "INPUT", "KUBE-FIREWALL", "", false, true},
      {"filter", "OUTPUT", "KUBE-FIREWALL", "", false, true},
  };
  return rules;
}

std::vector<std::string> jumpRuleArgs(const JumpRule& rule) {
  std::vector<std::string> args;
  if (rule.new_only) args = {"-m", "conntrack", "--ctstate", "NEW"};
  if (*rule.comment != '\0') {
    args.insert(args.end(), {"-m", "comment", "--comment", rule.comment});
  }
  args.insert(args.end(), {"-j", rule.to});
  return args;
}

std::string jumpRulesRestoreText() {
  std::string out;
  for (const char* table : {"filter", "nat"}) {
    std::string chains, inserts;
    for (const auto& rule : jumpRules()) {
      if (std::string(rule.table) != table) continue;
      if (chains.find(std::string(":") + rule.to + " ") == std::string::npos) chains += std::string(":") + rule.to + " - [0:0]\n";
      inserts += std::string("-I ") + rule.from + " 1";
      for (const auto& arg : jumpRuleArgs(rule)) inserts += arg.find(' ') == std::string::npos ? " " + arg : " \"" + arg + "\"";
      inserts += "\n";
    }
    out += std::string("*") + table + "\n" + chains + inserts + "COMMIT\n";
  }
  return out;
}

IptablesProxier::IptablesProxier(IptablesProxierDeps deps, config::ProxierSettings settings, ApplyOptions apply_options)
    : deps_(deps), settings_(std::move(settings)), applier_(deps.iptables, settings_.family, apply_options) {
  settings_.facts.random_fully = deps_.iptables.hasRandomFully();
  // Counters are only trusted once ensured by a full sync (upstream starts with them absent).
  settings_.facts.nfacct_counters.clear();
}

namespace {

// Whether a saved rule is the jump `rule` (iptables-save may reorder matches on nf_tables, so the
// target and the comment identify it).
bool isJump(const std::string& saved_rule, const JumpRule& rule) {
  auto words = restore::splitRuleWords(saved_rule);
  std::string target, comment;
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    if (words[i] == "-j") target = words[i + 1];
    if (words[i] == "--comment") comment = words[i + 1];
  }
  return target == rule.to && comment == rule.comment;
}

}  // namespace

Status IptablesProxier::ensureJumpRules() {
  // One iptables-save of every table tells which chains and jumps are missing; only those are
  // created (upstream runs iptables -N/-C/-I for each of the 14 rows on every full sync).
  auto saved = deps_.iptables.save(settings_.family, "");
  if (!saved.ok()) return saved.error();
  auto parsed = restore::parseRestoreText(*saved);
  if (!parsed.ok()) return parsed.error().wrap("parse iptables-save output");
  // Missing chains and jumps go in one restore per table ("-I CHAIN 1" lines are applied in order,
  // so the result is the same as upstream's iptables -I calls).
  std::map<std::string, std::string> chain_lines, insert_lines;
  for (const auto& rule : jumpRules()) {
    const restore::Table* table = parsed->find(rule.table);
    if ((table == nullptr || table->find(rule.to) == nullptr) &&
        chain_lines[rule.table].find(std::string(":") + rule.to + " ") == std::string::npos) {
      chain_lines[rule.table] += std::string(":") + rule.to + " - [0:0]\n";
    }
    bool present = false;
    if (table != nullptr) {
      if (const restore::Chain* from = table->find(rule.from)) {
        for (const auto& r : from->rules) present = present || isJump(r, rule);
      }
    }
    if (!present) {
      std::string line = std::string("-I ") + rule.from + " 1";
      for (const auto& arg : jumpRuleArgs(rule)) line += arg.find(' ') == std::string::npos ? " " + arg : " \"" + arg + "\"";
      insert_lines[rule.table] += line + "\n";
    }
  }
  std::string input;
  for (const char* table : {"filter", "nat"}) {
    if (chain_lines[table].empty() && insert_lines[table].empty()) continue;
    input += std::string("*") + table + "\n" + chain_lines[table] + insert_lines[table] + "COMMIT\n";
  }
  if (!input.empty()) {
    if (auto s = deps_.iptables.restore(settings_.family, {input}); !s.ok()) return s;
  }
  return okStatus();
}

void IptablesProxier::ensureNfacctCounters() {
  settings_.facts.nfacct_counters.clear();
  if (deps_.nfacct == nullptr) return;
  for (const char* name : {config::kNfacctInvalidDropped, config::kNfacctLocalhostNodePorts}) {
    // upstream: a counter that cannot be created is marked absent and its match left out.
    if (deps_.nfacct->ensure(name).ok()) settings_.facts.nfacct_counters.insert(name);
  }
}

void IptablesProxier::readKernelNatChains() {
  // On a full sync, learn the chains the kernel really holds (a previous kube-proxy may have left
  // some); partial syncs rely on the chains this proxier tracked, so they never run iptables-save.
  auto saved = deps_.iptables.save(settings_.family, "nat");
  if (!saved.ok()) return;  // upstream: log and skip stale-chain deletion; we keep what we tracked
  std::vector<std::string> chains;
  size_t pos = 0;
  const std::string& text = *saved;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    if (text[pos] == ':') {
      size_t sp = text.find(' ', pos);
      if (sp != std::string::npos && sp < nl) {
        std::string name = text.substr(pos + 1, sp - pos - 1);
        if (isServiceChainName(name)) chains.push_back(std::move(name));
      }
    }
    pos = nl + 1;
  }
  kernel_nat_chains_ = ChainNameSet(chains);
}

bool IptablesProxier::nextSyncIsFull(const tracker::UpdateResult& changes) const {
  return need_full_sync_ || changes.node_labels_changed || !last_full_sync_ ||
         deps_.clock.now() - *last_full_sync_ > kFullSyncPeriod;
}

Status IptablesProxier::setUpNode() {
  if (settings_.localhost_node_ports && deps_.sysctl != nullptr) {
    if (auto s = netlink::ensureSysctl(*deps_.sysctl, "net/ipv4/conf/all/route_localnet", 1); !s.ok()) {
      const int code = s.error().code;
      if (code != EROFS && code != EACCES && code != EPERM) return s;
      // Without privileges /proc/sys is read-only: say how upstream expects this to be solved.
      return Error(s.error().message + " (run `kproxy --init-only` with privileges first, e.g. as the privileged init "
                                       "container of deploy/03-daemonset.yaml)",
                   code);
    }
  }
  return ensureCanaries();
}

Result<proxy::SyncReport> IptablesProxier::sync(const tracker::ProxySnapshot& snapshot,
                                                const tracker::UpdateResult& changes) {
  const SteadyTime start = deps_.clock.now();
  const bool full = nextSyncIsFull(changes);
  if (full) {
    // A full sync also puts back the canaries (the monitor found them gone, or this is the first).
    if (auto s = ensureCanaries(); !s.ok()) {
      need_full_sync_ = true;
      return s.error().wrap("ensure canary chains");
    }
    if (auto s = ensureJumpRules(); !s.ok()) {
      need_full_sync_ = true;
      return s.error().wrap("ensure jump rules");
    }
    ensureNfacctCounters();
    readKernelNatChains();
  }

  PlanInput input{.snapshot = &snapshot,
                  .settings = &settings_,
                  .full_sync = full,
                  .changes = &changes,
                  .existing_nat_chains = &kernel_nat_chains_,
                  .now = start,
                  .last_stale_cleanup = last_stale_cleanup_};
  ServicePortChainsMap recorded;
  input.previous_service_chains = full ? nullptr : &service_chains_;
  input.record_service_chains = &recorded;
  const SteadyTime planning = deps_.clock.now();
  IptablesPlan plan = planIptables(input);
  const SteadyTime applying = deps_.clock.now();
  auto applied = applier_.apply(plan, kernel_nat_chains_);
  const SteadyTime applied_at = deps_.clock.now();
  if (!applied.ok()) {
    // The changes were consumed, so only a full sync can bring the kernel up to date.
    need_full_sync_ = true;
    service_chains_.clear();
    if (!full) applier_.invalidate();
    // iptables-restore commits table by table: when filter failed, nat's new chains are real now.
    readKernelNatChains();
    return applied.error();
  }

  need_full_sync_ = false;
  service_chains_ = std::move(recorded);
  if (full) last_full_sync_ = start;
  if (plan.stale_chains_checked) last_stale_cleanup_ = start;
  // As natChainsAfter(), in place: at 10k services the set holds ~110k names.
  kernel_nat_chains_.update(plan.written_nat_chains, plan.deleted_nat_chains);

  proxy::SyncReport report;
  report.full_sync = full;
  report.bytes_written = applied->bytes_written;
  report.kernel_transactions = applied->restores;
  // upstream: the filter table is rewritten whole on every sync, so its total is its last.
  report.rule_counts = {{.table = "filter", .total = plan.filter_rule_count, .last = plan.filter_rule_count},
                        {.table = "nat", .total = plan.natRulesTotal(), .last = plan.natRulesLast()}};
  report.no_local_endpoints_internal = plan.no_local_endpoints_internal;
  report.no_local_endpoints_external = plan.no_local_endpoints_external;
  if (keep_last_plan_) last_plan_ = std::move(plan);
  report.duration = deps_.clock.now() - start;
  auto ms = [](SteadyTime::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  log::info(4, "{} sync phases (ms): prepare {:.1f}, plan {:.1f}, apply {:.1f}, account {:.1f}", ipFamilyName(settings_.family),
            ms(planning - start), ms(applying - planning), ms(applied_at - applying), ms(report.duration - (applied_at - start)));
  return report;
}

Result<bool> IptablesProxier::dataplaneIntact() {
  for (const char* table : {"mangle", "nat", "filter"}) {
    auto exists = deps_.iptables.chainExists(settings_.family, table, kProxyCanaryChain);
    if (!exists.ok()) return exists.error();
    if (!*exists) return false;
  }
  return true;
}

Status IptablesProxier::ensureCanaries() {
  for (const char* table : {"mangle", "nat", "filter"}) {
    if (auto s = deps_.iptables.ensureChain(settings_.family, table, kProxyCanaryChain); !s.ok()) return s;
  }
  return okStatus();
}

}  // namespace kproxy::iptables
