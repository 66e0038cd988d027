// IpvsProxier: IPVS mode for one IP family, as upstream's IPVS syncProxyRules (spec
// ipvs-and-runtime.md §1.2, §1.3): every sync plans the whole state (pure, planner.h) from the
// snapshot and the addresses kube-ipvs0 holds now, then the applier makes the kernel match it.
// Every IPVS sync is a full one (the applier only sends the difference), so requestFullSync()
// has nothing to do. setUpNode() runs upstream's startup (IPVS usable with the configured
// scheduler, sysctls, connection timeouts); housekeeping() is graceful termination's periodic
// sweep.
#pragma once

#include <memory>
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
  bool nextSyncIsFull(const tracker::UpdateResult&) const override { return true; }
  void requestFullSync() override {}
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
};

}  // namespace kproxy::ipvs
