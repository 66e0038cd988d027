#include "modes/ipvs/offline_proxier.h"

#include "modes/common/restore_text.h"
#include "modes/ipvs/tracer.h"

namespace kproxy::ipvs {

OfflineIpvsProxier::OfflineIpvsProxier(config::ProxierSettings settings, IpvsSettings ipvs)
    : settings_(std::move(settings)), ipvs_(std::move(ipvs)) {}

void OfflineIpvsProxier::sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult&, bool) {
  // No kube-ipvs0 here: the node facts must then not list its addresses (planner.h).
  plan_ = planIpvs({.snapshot = &snapshot, .settings = &settings_, .ipvs = &ipvs_});
  const bool v4 = settings_.family == IpFamily::kIPv4;
  sections_ = {
      {"ipvsadm.txt", "# ipvsadm -S -n: virtual and real servers (ipvsadm -R)\n", formatIpvsadmSave(plan_.state)},
      {"ipset.txt", "# ipset save: IP sets (ipset restore)\n", formatIpsetSave(plan_.state)},
      {"kube-ipvs0.txt", "# kube-ipvs0: dummy interface and its addresses (sh)\n", formatKubeIpvs0Commands(plan_.state)},
      {"iptables.txt",
       v4 ? "# iptables-restore --noflush: rules of IPVS mode\n" : "# ip6tables-restore --noflush: rules of IPVS mode\n",
       plan_.iptables_payload},
  };
}

void OfflineIpvsProxier::render(modes::RenderSink& out) const {
  for (const auto& s : sections_) {
    out.section(s.file, s.header);
    out.write(s.text);
  }
}

size_t OfflineIpvsProxier::renderedSize() const {
  size_t n = 0;
  for (const auto& s : sections_) n += s.header.size() + s.text.size();
  return n;
}

Result<std::unique_ptr<tracing::Tracer>> OfflineIpvsProxier::tracer(const std::vector<IpAddress>& local_addresses) const {
  auto rules = restore::parseRestoreText(plan_.iptables_payload);
  if (!rules.ok()) return Error("trace: IPVS mode's iptables rules: " + rules.error().message);
  auto compiled = IpvsTracer::create(*rules, plan_.state, local_addresses);
  if (!compiled.ok()) return Error("trace: " + compiled.error().message);
  return std::unique_ptr<tracing::Tracer>(std::make_unique<IpvsTracer>(std::move(*compiled)));
}

}  // namespace kproxy::ipvs
