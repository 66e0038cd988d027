// OfflineIptablesProxier: iptables mode's offline twin (modes/common/offline.h). It keeps what the
// live proxier keeps between syncs (the per-service chains the kernel holds, when stale chains
// were last cleaned up) so that a partial sync after --from states is the one the daemon would
// write. Rendered output: the last sync's iptables-restore input; traced state: the nat and filter
// tables after every payload was restored with --noflush in turn.
#pragma once

#include <optional>

#include "modes/common/offline.h"
#include "modes/common/restore_text.h"
#include "modes/iptables/chain_name_set.h"
#include "modes/iptables/plan.h"
#include "modes/iptables/planner.h"
#include "src/config/proxier_settings.h"

namespace kproxy::iptables {

class OfflineIptablesProxier final : public modes::OfflineProxier {
 public:
  // `for_trace`: also keep the restored tables (parsing every payload), which tracer() needs.
  OfflineIptablesProxier(config::ProxierSettings settings, bool for_trace);

  void sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes, bool full) override;
  void render(modes::RenderSink& out) const override;
  size_t renderedSize() const override { return plan_.payloadSize(); }
  Result<std::unique_ptr<tracing::Tracer>> tracer(const std::vector<IpAddress>& local_addresses) const override;

  const IptablesPlan& lastPlan() const { return plan_; }

 private:
  config::ProxierSettings settings_;
  bool for_trace_;
  ChainNameSet kernel_nat_chains_;  // the per-service chains the emulated kernel holds
  bool chains_outdated_ = false;    // plan_ is not in kernel_nat_chains_ yet
  std::optional<SteadyTime> last_cleanup_;
  SteadyTime now_{};
  IptablesPlan plan_;
  restore::RestoreText tables_;  // for_trace_ only
  std::optional<Error> trace_error_;
};

}  // namespace kproxy::iptables
