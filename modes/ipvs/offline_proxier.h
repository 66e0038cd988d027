// OfflineIpvsProxier: IPVS mode's offline twin (modes/common/offline.h). Every IPVS sync plans the
// whole state, so earlier syncs only matter through the tracker. Rendered output: the virtual and
// real servers as `ipvsadm -S -n` saves them, the ip sets as `ipset save` prints them, the
// kube-ipvs0 commands, and the iptables-restore input of IPVS mode.
#pragma once

#include "modes/common/offline.h"
#include "modes/ipvs/planner.h"
#include "src/config/proxier_settings.h"

namespace kproxy::ipvs {

class OfflineIpvsProxier final : public modes::OfflineProxier {
 public:
  OfflineIpvsProxier(config::ProxierSettings settings, IpvsSettings ipvs);

  void sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes, bool full) override;
  void render(modes::RenderSink& out) const override;
  size_t renderedSize() const override;
  Result<std::unique_ptr<tracing::Tracer>> tracer(const std::vector<IpAddress>& local_addresses) const override;

  const IpvsPlan& lastPlan() const { return plan_; }

 private:
  config::ProxierSettings settings_;
  IpvsSettings ipvs_;
  IpvsPlan plan_;
  // The formatted sections of the last plan (file name, stdout header, text).
  struct Section {
    std::string file, header, text;
  };
  std::vector<Section> sections_;
};

}  // namespace kproxy::ipvs
