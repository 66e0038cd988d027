// OfflineNftablesProxier: nftables mode's offline twin (modes/common/offline.h). It keeps what the
// live proxier keeps between syncs (the table after the last sync, the chains waiting to be
// deleted as stale) so that a partial sync after --from states is the transaction the daemon
// would send. Rendered output: the table as knftables' fake dump prints it (`add table ...`,
// chains, sets, maps, rules, elements), or with --transaction what the last sync sends.
#pragma once

#include "modes/common/offline.h"
#include "modes/nftables/planner.h"
#include "src/config/proxier_settings.h"

namespace kproxy::nftables {

// upstream: a chain flushed as stale is deleted by the first sync more than a second later; the
// offline syncs are taken to be this far apart, so each deletes what the one before flushed.
inline constexpr std::chrono::seconds kOfflineSyncInterval{2};

class OfflineNftablesProxier final : public modes::OfflineProxier {
 public:
  explicit OfflineNftablesProxier(config::ProxierSettings settings) : settings_(std::move(settings)) {}

  void sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes, bool full) override;
  void render(modes::RenderSink& out) const override;
  Status renderTransaction(modes::RenderSink& out) const override;
  size_t renderedSize() const override { return dump_.size(); }
  Result<std::unique_ptr<tracing::Tracer>> tracer(const std::vector<IpAddress>& local_addresses) const override;

  const NftablesPlan& lastPlan() const { return plan_; }

 private:
  config::ProxierSettings settings_;
  bool synced_ = false;
  SteadyTime now_{};
  NftablesPlan plan_;
  std::string dump_;  // plan_.ruleset's dump
};

}  // namespace kproxy::nftables
