#include "modes/nftables/offline_proxier.h"

#include "modes/nftables/tracer.h"

namespace kproxy::nftables {
namespace {

// The table of the last offline sync, owned (the offline proxier may be gone before tracing).
class RulesetTracer final : public tracing::Tracer {
 public:
  RulesetTracer(Ruleset ruleset, std::vector<IpAddress> local) : ruleset_(std::move(ruleset)), local_(std::move(local)) {}
  tracing::TraceResult trace(const tracing::TracePacket& packet) const override {
    return tracePacket(ruleset_, local_, packet);
  }

 private:
  Ruleset ruleset_;
  std::vector<IpAddress> local_;
};

}  // namespace

void OfflineNftablesProxier::sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes,
                                  bool full) {
  now_ += kOfflineSyncInterval;
  PlanInput input{.snapshot = &snapshot,
                  .settings = &settings_,
                  .service_cidrs = snapshot.service_cidrs,
                  .full_sync = full,
                  .changes = &changes,
                  .existing = synced_ ? &plan_.ruleset : nullptr,
                  .stale_chains = synced_ ? &plan_.stale_chains : nullptr,
                  .first_sync = !synced_,
                  .now = now_};
  plan_ = planNftables(input);
  synced_ = true;
  dump_.clear();
  plan_.ruleset.dumpTo(dump_);
}

void OfflineNftablesProxier::render(modes::RenderSink& out) const {
  out.section("nftables.txt", "");
  out.write(dump_);
}

Status OfflineNftablesProxier::renderTransaction(modes::RenderSink& out) const {
  std::string text;
  if (!plan_.stale_chain_deletion.empty()) {
    text += "# transaction 1 of 2: delete the chains an earlier sync flushed as stale\n";
    plan_.stale_chain_deletion.textTo(text);
    text += "# transaction 2 of 2: the ";
  } else {
    text += "# transaction: the ";
  }
  text += plan_.full_sync ? "full sync\n" : "partial sync\n";
  plan_.transaction.textTo(text);
  out.section("transaction.txt", "");
  out.write(text);
  return okStatus();
}

Result<std::unique_ptr<tracing::Tracer>> OfflineNftablesProxier::tracer(const std::vector<IpAddress>& local_addresses) const {
  return std::unique_ptr<tracing::Tracer>(std::make_unique<RulesetTracer>(plan_.ruleset, local_addresses));
}

}  // namespace kproxy::nftables
