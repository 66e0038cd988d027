// IpvsProxier: IPVS mode for one IP family, as upstream's IPVS syncProxyRules (spec
// ipvs-and-runtime.md §1.2, §1.3): every sync plans the whole state (pure, planner.h) from the
// snapshot and the addresses kube-ipvs0 holds now, then the applier makes the kernel match it.
// Every IPVS sync is a full one (the applier only sends the difference), so requestFullSync()
// has nothing to do. The startup checks (IPVS usable with the configured scheduler, sysctls)
// are free functions the caller runs once before the first sync.
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

class IpvsProxier final : public proxy::Proxier {
 public:
  // With `sysctl`, the first sync ensures the plan's sysctls (ensureIpvsSysctls) before it
  // programs anything, and fails when one cannot be set.
  IpvsProxier(IpvsApplierDeps deps, config::ProxierSettings settings, IpvsSettings ipvs,
              netlink::Sysctl* sysctl = nullptr, std::string kernel_release = "")
      : deps_(deps),
        settings_(std::move(settings)),
        ipvs_(std::move(ipvs)),
        applier_(deps),
        sysctl_(sysctl),
        kernel_release_(std::move(kernel_release)) {}

  Result<proxy::SyncReport> sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes) override;
  void requestFullSync() override {}

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
  bool sysctls_done_ = false;
};

}  // namespace kproxy::ipvs
