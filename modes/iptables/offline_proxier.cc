#include "modes/iptables/offline_proxier.h"

#include "modes/iptables/packet_tracer.h"
#include "modes/iptables/planner.h"

namespace kproxy::iptables {

OfflineIptablesProxier::OfflineIptablesProxier(config::ProxierSettings settings, bool for_trace)
    : settings_(std::move(settings)), for_trace_(for_trace) {}

void OfflineIptablesProxier::sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes,
                                  bool full) {
  // The emulated kernel's chains only matter to a later sync (40k set inserts at 10k services),
  // so the previous plan is folded in only now.
  if (chains_outdated_) kernel_nat_chains_ = natChainsAfter(kernel_nat_chains_, plan_);
  // Long enough after the previous sync that neither the large-cluster cleanup throttle nor the
  // hourly full sync is in the way.
  now_ += settings_.sync_period + std::chrono::seconds(1);
  PlanInput input{.snapshot = &snapshot,
                  .settings = &settings_,
                  .full_sync = full,
                  .changes = &changes,
                  .existing_nat_chains = &kernel_nat_chains_,
                  .now = now_,
                  .last_stale_cleanup = last_cleanup_};
  plan_ = planIptables(input);
  chains_outdated_ = true;
  if (plan_.stale_chains_checked) last_cleanup_ = now_;
  if (for_trace_ && !trace_error_) {
    // Each sync is one iptables-restore --noflush on top of what the earlier ones left.
    auto payload = restore::parseRestoreText(plan_.payload());
    if (!payload.ok()) {
      trace_error_ = payload.error().wrap("internal: the planned payload does not parse");
    } else {
      restoreNoFlush(tables_, *payload);
    }
  }
}

void OfflineIptablesProxier::render(modes::RenderSink& out) const {
  out.section("iptables.txt", "");
  for (auto piece : plan_.payloadPieces()) out.write(piece);
}

Result<std::unique_ptr<tracing::Tracer>> OfflineIptablesProxier::tracer(const std::vector<IpAddress>& local_addresses) const {
  if (!for_trace_) return Error("internal: this offline proxier was not built for tracing");
  if (trace_error_) return *trace_error_;
  auto tracer = PacketTracer::create(tables_, local_addresses);
  if (!tracer.ok()) return tracer.error();
  return std::unique_ptr<tracing::Tracer>(std::make_unique<PacketTracer>(std::move(*tracer)));
}

}  // namespace kproxy::iptables
