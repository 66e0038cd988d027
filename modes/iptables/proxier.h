// IptablesProxier: iptables mode for one IP family, as upstream's syncProxyRules: decide full or
// partial, plan (pure), apply, track the chains the kernel holds (the core reconciles conntrack).
// Full syncs also ensure the jump rules from the built-in chains and the nfacct counters
// (spec iptables-mode.md §2.2, §6).
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "modes/iptables/applier.h"
#include "modes/iptables/planner.h"
#include "netlink/iptables_restore.h"
#include "netlink/nfacct.h"
#include "netlink/sysctl.h"
#include "src/config/proxier_settings.h"
#include "src/proxy/proxier.h"
#include "src/util/clock.h"

namespace kproxy::iptables {

// upstream proxyutil.FullSyncPeriod: a full sync at least this often.
inline constexpr std::chrono::hours kFullSyncPeriod{1};

struct IptablesProxierDeps {
  netlink::IptablesRestore& iptables;
  netlink::NfacctClient* nfacct = nullptr;  // null: no counters (rules without -m nfacct)
  netlink::Sysctl* sysctl = nullptr;        // null: setUpNode() leaves route_localnet alone
  const Clock& clock;
};

class IptablesProxier final : public proxy::Proxier {
 public:
  IptablesProxier(IptablesProxierDeps deps, config::ProxierSettings settings, ApplyOptions apply_options = {});

  // proxy::Proxier
  std::string_view mode() const override { return "iptables"; }
  IpFamily family() const override { return settings_.family; }
  // upstream NewProxier: route_localnet for localhost node ports (fatal when it cannot be set),
  // then the canary chains its monitor watches.
  Status setUpNode() override;
  // The canary chains (KUBE-PROXY-CANARY in mangle, nat and filter) exist; false means someone
  // flushed our tables and a full sync is needed (upstream's iptables monitor). Full syncs
  // recreate them.
  Result<bool> dataplaneIntact() override;
  Result<proxy::SyncReport> sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes) override;
  bool nextSyncIsFull(const tracker::UpdateResult& changes) const override;
  void requestFullSync() override { need_full_sync_ = true; }

  Status ensureCanaries();

  // The last plan is kept only when asked (benchmarks, tests): at 10k services it is ~40 MB.
  void keepLastPlan(bool keep) { keep_last_plan_ = keep; }
  const IptablesPlan& lastPlan() const { return last_plan_; }
  const config::ProxierSettings& settings() const { return settings_; }
  const ChainNameSet& kernelNatChains() const { return kernel_nat_chains_; }
  const std::string& lastFailedRestoreInput() const { return applier_.lastFailedInput(); }

 private:
  Status ensureJumpRules();
  void ensureNfacctCounters();
  void readKernelNatChains();

  IptablesProxierDeps deps_;
  config::ProxierSettings settings_;
  IptablesApplier applier_;
  bool need_full_sync_ = true;
  std::optional<SteadyTime> last_full_sync_;
  std::optional<SteadyTime> last_stale_cleanup_;
  ChainNameSet kernel_nat_chains_;
  // What the last successful plan wrote per service port (partial syncs reuse it).
  ServicePortChainsMap service_chains_;
  IptablesPlan last_plan_;
  bool keep_last_plan_ = false;
};

// The jump rules of spec iptables-mode.md §2.2 (rows 1-12; `kubelet` marks rows 13-14, which
// cleanup leaves alone).
struct JumpRule {
  const char* table;
  const char* from;
  const char* to;
  const char* comment;  // "" for none
  bool new_only;        // "-m conntrack --ctstate NEW"
  bool kubelet;
};
const std::vector<JumpRule>& jumpRules();
std::vector<std::string> jumpRuleArgs(const JumpRule& rule);
// The jump rules as restore input for an empty kernel: their chains declared and the rules
// inserted at position 1 in table order (so the result is upstream's order on a fresh node).
std::string jumpRulesRestoreText();

}  // namespace kproxy::iptables
