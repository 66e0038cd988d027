// IpvsProxier: IPVS mode for one IP family, as upstream's IPVS syncProxyRules (spec
// ipvs-and-runtime.md §1.2, §1.3): every sync plans the whole state (pure, planner.h) from the
// snapshot and the addresses kube-ipvs0 holds, then the applier makes the kernel match it. Unlike
// upstream, only some syncs read the kernel: a full sync (the first, one asked for, the first after
// a failure, and the first once ipvs.syncPeriod has passed since the last full one: the runner
// syncs at least that often) reads every virtual server, set and address and repairs drift; the
// syncs in between diff the plan against the state the last sync left (applier.h), so a
// one-endpoint change sends one or two netlink messages and no iptables-restore when IPVS mode's
// rules did not change. setUpNode() runs upstream's startup (IPVS usable with the configured
// scheduler, sysctls, connection timeouts); housekeeping() is graceful termination's periodic
// sweep.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "modes/ipvs/applier.h"
#include "modes/ipvs/planner.h"
#include "netlink/sysctl.h"
#include "src/config/proxier_settings.h"
#include "src/proxy/proxier.h"

namespace kproxy::ipvs {

// upstream CanUseIPVSProxier: IPVS answers and knows `scheduler` (a virtual server already using
// it, or a probe virtual server 198.51.100.0:20000/TCP added, listed and deleted). The error says
// "can't use the IPVS proxier: ..." with the kernel's reason.
Status checkIpvsUsable(netlink::IpvsClient& ipvs, const std::string& scheduler);

// The sysctls of IPVS mode (§1.11): those the plan lists, plus net/ipv4/vs/conn_reuse_mode=0 on
// kernels 4.1 <= version < 5.9 (`kernel_release` as uname -r prints it). Each is read and written
// only when it differs; the first failure is the error.
Status ensureIpvsSysctls(netlink::Sysctl& sysctl, const std::vector<Sysctl>& sysctls, const std::string& kernel_release);

// upstream gracefulTerminationManager: rsCheckDeleteInterval, how often quiesced real servers are
// looked at again.
inline constexpr std::chrono::minutes kGracefulTerminationSweepPeriod{1};

class IpvsProxier final : public proxy::Proxier {
 public:
  // With `sysctl`, setUpNode() ensures the sysctls (ensureIpvsSysctls) and fails when one cannot
  // be set.
  IpvsProxier(IpvsApplierDeps deps, config::ProxierSettings settings, IpvsSettings ipvs,
              netlink::Sysctl* sysctl = nullptr, std::string kernel_release = "")
      : deps_(deps),
        settings_(std::move(settings)),
        ipvs_(std::move(ipvs)),
        applier_(deps),
        sysctl_(sysctl),
        kernel_release_(std::move(kernel_release)) {}

  // proxy::Proxier
  std::string_view mode() const override { return "ipvs"; }
  IpFamily family() const override { return settings_.family; }
  Status setUpNode() override;
  Result<proxy::SyncReport> sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes) override;
  bool nextSyncIsFull(const tracker::UpdateResult& changes) const override;
  void requestFullSync() override { full_requested_ = true; }
  // "# ipvs IPv4 changes", the change list, then "# ipvs IPv4 timings: ..." (bench/ipvs-bench.sh
  // and the kernel scenarios read it).
  std::string lastSyncDetails() const override;
  std::chrono::nanoseconds housekeepingInterval() const override { return kGracefulTerminationSweepPeriod; }
  Status housekeeping() override;

  // The plan of the last sync and what its apply did (tests, benchmarks, `kproxy sync -v`).
  const IpvsPlan& lastPlan() const { return last_plan_; }
  const ApplyReport& lastApply() const { return last_apply_; }
  IpvsApplier& applier() { return applier_; }
  const config::ProxierSettings& settings() const { return settings_; }

 private:
  IpvsApplierDeps deps_;
  config::ProxierSettings settings_;
  IpvsSettings ipvs_;
  IpvsApplier applier_;
  IpvsPlan last_plan_;
  ApplyReport last_apply_;
  netlink::Sysctl* sysctl_;
  std::string kernel_release_;
  bool full_requested_ = true;
  std::optional<std::chrono::steady_clock::time_point> last_full_sync_;
};

}  // namespace kproxy::ipvs
