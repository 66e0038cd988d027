#include "modes/registry.h"

#include <sys/utsname.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <mutex>

#include "modes/iptables/cleanup.h"
#include "modes/iptables/drift.h"
#include "modes/iptables/planner.h"
#include "modes/iptables/offline_proxier.h"
#include "modes/iptables/proxier.h"
#include "modes/ipvs/applier.h"
#include "modes/ipvs/cleanup.h"
#include "modes/ipvs/drift.h"
#include "modes/ipvs/offline_proxier.h"
#include "modes/ipvs/proxier.h"
#include "modes/nftables/offline_proxier.h"
#include "netlink/ipset_lib.h"
#include "netlink/ipvs_genl.h"
#include "netlink/link_route.h"

namespace kproxy::modes {
namespace {

// A proxier that owns the kernel clients it was built on (declared first, destroyed last) and,
// when `serial` is set, holds it around every call that touches the kernel.
template <typename Clients>
class OwningProxier final : public proxy::Proxier {
 public:
  OwningProxier(std::unique_ptr<Clients> clients, std::unique_ptr<proxy::Proxier> inner,
                std::shared_ptr<std::mutex> serial)
      : clients_(std::move(clients)), inner_(std::move(inner)), serial_(std::move(serial)) {}

  std::string_view mode() const override { return inner_->mode(); }
  IpFamily family() const override { return inner_->family(); }
  Status setUpNode() override {
    auto lock = serialize();
    return inner_->setUpNode();
  }
  Result<bool> dataplaneIntact() override {
    auto lock = serialize();
    return inner_->dataplaneIntact();
  }
  Result<proxy::SyncReport> sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes) override {
    auto lock = serialize();
    return inner_->sync(snapshot, changes);
  }
  bool nextSyncIsFull(const tracker::UpdateResult& changes) const override { return inner_->nextSyncIsFull(changes); }
  void requestFullSync() override { inner_->requestFullSync(); }
  std::string lastSyncDetails() const override { return inner_->lastSyncDetails(); }
  std::chrono::nanoseconds housekeepingInterval() const override { return inner_->housekeepingInterval(); }
  Status housekeeping() override {
    auto lock = serialize();
    return inner_->housekeeping();
  }

 private:
  std::unique_lock<std::mutex> serialize() {
    return serial_ ? std::unique_lock<std::mutex>(*serial_) : std::unique_lock<std::mutex>();
  }

  std::unique_ptr<Clients> clients_;
  std::unique_ptr<proxy::Proxier> inner_;
  std::shared_ptr<std::mutex> serial_;
};

std::string kernelRelease() {
  utsname u{};
  if (uname(&u) != 0) return "";
  return u.release;
}

// ----- iptables -----

SyncPeriods iptablesPeriods(const config::KubeProxyConfiguration& config) {
  // upstream: the iptables proxier's runner has a max interval of one hour (proxyutil.FullSyncPeriod).
  return {.sync_period = config.iptables.sync_period,
          .min_sync_period = config.iptables.min_sync_period,
          .max_sync_period = iptables::kFullSyncPeriod};
}

Result<std::unique_ptr<proxy::Proxier>> buildIptablesProxier(const ProxierRequest& request) {
  return std::unique_ptr<proxy::Proxier>(std::make_unique<iptables::IptablesProxier>(
      iptables::IptablesProxierDeps{.iptables = request.clients.iptables,
                                    .nfacct = request.clients.nfacct,
                                    .sysctl = &request.clients.sysctl,
                                    .clock = request.clients.clock},
      request.settings));
}

Result<std::unique_ptr<OfflineProxier>> buildIptablesOffline(const config::KubeProxyConfiguration&,
                                                             const config::ProxierSettings& settings, bool for_trace) {
  return std::unique_ptr<OfflineProxier>(std::make_unique<iptables::OfflineIptablesProxier>(settings, for_trace));
}

void cleanupIptables(LiveClients& clients, const std::vector<IpFamily>& families, std::vector<std::string>* errors) {
  iptables::cleanupIptablesMode(clients.iptables, families, errors);
}

Result<std::string> iptablesDrift(const DriftRequest& request) {
  const IpFamily family = request.settings.family;
  const std::string label(ipFamilyName(family));
  iptables::ChainNameSet none;
  iptables::PlanInput input{.snapshot = &request.snapshot, .settings = &request.settings, .full_sync = true,
                            .changes = &request.changes, .existing_nat_chains = &none};
  const iptables::IptablesPlan plan = iptables::planIptables(input);
  auto live = request.clients.iptables.save(family, "");
  if (!live.ok()) return live.error().wrap(label);
  auto drifts = iptables::iptablesDrift(plan, *live, family, label);
  if (!drifts.ok()) return drifts.error().wrap(label);
  std::string out;
  for (const auto& d : *drifts) out += d.diff;
  return out;
}

// ----- ipvs -----

SyncPeriods ipvsPeriods(const config::KubeProxyConfiguration& config) {
  // upstream: the IPVS runner's max interval is ipvs.syncPeriod itself.
  return {.sync_period = config.ipvs.sync_period,
          .min_sync_period = config.ipvs.min_sync_period,
          .max_sync_period = config.ipvs.sync_period};
}

struct IpvsClients {
  std::unique_ptr<netlink::IpvsClient> ipvs;
  std::unique_ptr<netlink::LinkClient> links;
  std::unique_ptr<netlink::IpSetClient> ipsets;
};

// libipset keeps its type list process-wide, so the families' proxiers (one sync thread each)
// never talk to the kernel at the same time.
std::shared_ptr<std::mutex> ipvsSerial() {
  static std::shared_ptr<std::mutex> serial = std::make_shared<std::mutex>();
  return serial;
}

Result<std::unique_ptr<proxy::Proxier>> buildIpvsProxier(const ProxierRequest& request) {
  auto ipvs_settings = ipvs::ipvsSettingsFrom(request.config, request.settings.family);
  if (!ipvs_settings.ok()) return ipvs_settings.error();
  auto clients = std::make_unique<IpvsClients>();
  auto ipvs_client = netlink::GenlIpvsClient::open();
  if (!ipvs_client.ok()) return ipvs_client.error().wrap("can't use the IPVS proxier");
  clients->ipvs = std::move(*ipvs_client);
  auto links = netlink::RouteLinkClient::open();
  if (!links.ok()) return links.error();
  clients->links = std::move(*links);
  auto ipsets = netlink::LibIpSetClient::open();
  if (!ipsets.ok()) return ipsets.error();
  clients->ipsets = std::move(*ipsets);
  auto inner = std::make_unique<ipvs::IpvsProxier>(ipvs::IpvsApplierDeps{.ipvs = *clients->ipvs,
                                                                          .links = *clients->links,
                                                                          .ipsets = *clients->ipsets,
                                                                          .iptables = &request.clients.iptables},
                                                   request.settings, std::move(*ipvs_settings), &request.clients.sysctl,
                                                   kernelRelease());
  return std::unique_ptr<proxy::Proxier>(
      std::make_unique<OwningProxier<IpvsClients>>(std::move(clients), std::move(inner), ipvsSerial()));
}

Result<std::unique_ptr<OfflineProxier>> buildIpvsOffline(const config::KubeProxyConfiguration& config,
                                                         const config::ProxierSettings& settings, bool) {
  auto ipvs_settings = ipvs::ipvsSettingsFrom(config, settings.family);
  if (!ipvs_settings.ok()) return ipvs_settings.error();
  return std::unique_ptr<OfflineProxier>(std::make_unique<ipvs::OfflineIpvsProxier>(settings, std::move(*ipvs_settings)));
}

void cleanupIpvs(LiveClients& clients, const std::vector<IpFamily>& families, std::vector<std::string>* errors) {
  // Each piece the kernel cannot offer is skipped, as upstream skips IPVS when it cannot load it.
  std::unique_ptr<netlink::IpvsClient> ipvs;
  if (auto c = netlink::GenlIpvsClient::open(); c.ok()) ipvs = std::move(*c);
  std::unique_ptr<netlink::LinkClient> links;
  if (auto c = netlink::RouteLinkClient::open(); c.ok()) links = std::move(*c);
  std::unique_ptr<netlink::IpSetClient> ipsets;
  if (auto c = netlink::LibIpSetClient::open(); c.ok()) ipsets = std::move(*c);
  std::lock_guard lock(*ipvsSerial());
  ipvs::cleanupIpvsMode(clients.iptables, ipvs.get(), links.get(), ipsets.get(), families, errors);
}

Result<std::string> ipvsDrift(const DriftRequest& request) {
  const IpFamily family = request.settings.family;
  const std::string label(ipFamilyName(family));
  auto ipvs_settings = ipvs::ipvsSettingsFrom(request.config, family);
  if (!ipvs_settings.ok()) return ipvs_settings.error();
  auto ipvs_client = netlink::GenlIpvsClient::open();
  if (!ipvs_client.ok()) return ipvs_client.error().wrap("can't read IPVS");
  auto links = netlink::RouteLinkClient::open();
  if (!links.ok()) return links.error();
  auto ipsets = netlink::LibIpSetClient::open();
  if (!ipsets.ok()) return ipsets.error();
  std::lock_guard lock(*ipvsSerial());
  // As the proxier plans a sync: from the addresses kube-ipvs0 holds now (they are not node
  // addresses).
  std::vector<IpAddress> bound;
  if (auto listed = (*links)->listAddresses(ipvs::kDummyDevice, family); listed.ok()) {
    bound = std::move(*listed);
  } else if (listed.error().code != ENODEV) {
    return listed.error().wrap(label);
  }
  const ipvs::IpvsPlan plan = ipvs::planIpvs(
      {.snapshot = &request.snapshot, .settings = &request.settings, .ipvs = &*ipvs_settings, .kube_ipvs0_addresses = &bound});
  auto observed = ipvs::readObservedState(**ipvs_client, **links, **ipsets, family, plan.state.ipsets);
  if (!observed.ok()) return observed.error().wrap(label);
  auto live = request.clients.iptables.save(family, "");
  if (!live.ok()) return live.error().wrap(label);
  auto drift = ipvs::ipvsDrift(*observed, plan, *live, label);
  if (!drift.ok()) return drift.error().wrap(label);
  return drift->text;
}

// ----- nftables -----

SyncPeriods nftablesPeriods(const config::KubeProxyConfiguration& config) {
  // upstream: as iptables mode, a sync at least hourly.
  return {.sync_period = config.nftables.sync_period,
          .min_sync_period = config.nftables.min_sync_period,
          .max_sync_period = std::chrono::hours(1)};
}

Result<std::unique_ptr<proxy::Proxier>> buildNftablesProxier(const ProxierRequest&) {
  return Error("nftables mode is rendered and traced offline only so far; the live proxier is not implemented yet");
}

Result<std::unique_ptr<OfflineProxier>> buildNftablesOffline(const config::KubeProxyConfiguration&,
                                                             const config::ProxierSettings& settings, bool) {
  return std::unique_ptr<OfflineProxier>(std::make_unique<nftables::OfflineNftablesProxier>(settings));
}

void cleanupNftables(LiveClients&, const std::vector<IpFamily>&, std::vector<std::string>*) {
  // Nothing to remove until the live nftables proxier exists.
}

const std::array<ModeEntry, 3> kModes = {{
    {.mode = ProxyMode::kIptables,
     .name = "iptables",
     // upstream RegisterMetrics(iptables)
     .metrics = {.sync_duration_by_kind = true,
                 .iptables_restore_failures = true,
                 .iptables_partial_restore_failures = true,
                 .iptables_rule_counts = true,
                 .nfacct_counters = true},
     .periods = iptablesPeriods,
     .build_proxier = buildIptablesProxier,
     .build_offline = buildIptablesOffline,
     .cleanup = cleanupIptables,
     .live_drift = iptablesDrift},
    {.mode = ProxyMode::kIpvs,
     .name = "ipvs",
     // upstream RegisterMetrics(ipvs): only the restore failures of its iptables payload.
     .metrics = {.iptables_restore_failures = true},
     .periods = ipvsPeriods,
     .build_proxier = buildIpvsProxier,
     .build_offline = buildIpvsOffline,
     .cleanup = cleanupIpvs,
     .live_drift = ipvsDrift},
    {.mode = ProxyMode::kNftables,
     .name = "nftables",
     // upstream RegisterMetrics(nftables)
     .metrics = {.nftables_failures = true},
     .periods = nftablesPeriods,
     .build_proxier = buildNftablesProxier,
     .build_offline = buildNftablesOffline,
     .cleanup = cleanupNftables},
}};

}  // namespace

std::span<const ModeEntry> allModes() { return kModes; }

Result<const ModeEntry*> findMode(std::string_view name) {
  if (name.empty()) name = "iptables";  // upstream's default on Linux
  std::string known;
  for (const auto& entry : kModes) {
    if (entry.name == name) return &entry;
    if (!known.empty()) known.append(", ");
    known.append(entry.name);
  }
  // Appended piece by piece: GCC 12 at -O3 mistakes `"literal" + std::string(...)` for an
  // overlapping copy (-Wrestrict).
  std::string message = "\"";
  message.append(name).append("\" is not one of ").append(known);
  return Error(std::move(message));
}

const ModeEntry& modeEntry(ProxyMode mode) {
  for (const auto& entry : kModes) {
    if (entry.mode == mode) return entry;
  }
  std::abort();  // every ProxyMode value has an entry
}

std::vector<std::string> cleanupAllModes(LiveClients& clients, const std::vector<IpFamily>& families) {
  // The modes share chain names (KUBE-SERVICES, KUBE-MARK-MASQ, ...) and each mode's chains go in
  // one atomic restore per table, so a chain of one mode can still be jumped to from a chain of
  // another and that restore fails as busy. A second pass, once the other mode's chains are gone,
  // removes what the first could not; only the last pass's problems count.
  std::vector<std::string> errors;
  for (int pass = 0; pass < 2; ++pass) {
    errors.clear();
    for (auto it = kModes.rbegin(); it != kModes.rend(); ++it) it->cleanup(clients, families, &errors);
    if (errors.empty()) break;
  }
  return errors;
}

}  // namespace kproxy::modes
