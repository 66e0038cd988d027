// The registry of proxy modes: everything the verbs and the daemon core need to know about a mode,
// in one entry per mode. Verbs ask the registry; nothing else compares mode names. Adding a mode
// is a folder modes/<mode>/ plus one entry in registry.cc.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "modes/common/offline.h"
#include "netlink/iptables_restore.h"
#include "netlink/nfacct.h"
#include "netlink/sysctl.h"
#include "src/config/kube_proxy_configuration.h"
#include "src/config/proxier_settings.h"
#include "src/proxy/metrics.h"
#include "src/proxy/proxier.h"
#include "src/tracker/snapshot.h"
#include "src/util/clock.h"

namespace kproxy::modes {

enum class ProxyMode { kIptables, kIpvs, kNftables };

// upstream: the sync runner of each mode (min interval, max interval) and the retry delay.
struct SyncPeriods {
  std::chrono::nanoseconds sync_period{0};      // retry delay, dataplane check interval, healthz base
  std::chrono::nanoseconds min_sync_period{0};  // the runner's min interval
  std::chrono::nanoseconds max_sync_period{0};  // the runner's max interval (a sync at least this often)
};

// The kernel clients a live verb opens once and shares with every family's proxier. Mode-specific
// clients (IPVS, ip sets, links) are opened by the mode's builder, one set per proxier.
struct LiveClients {
  netlink::IptablesRestore& iptables;
  netlink::NfacctClient* nfacct = nullptr;
  netlink::Sysctl& sysctl;
  const Clock& clock;
};

// What one family's proxier is built from.
struct ProxierRequest {
  const config::KubeProxyConfiguration& config;
  const config::ProxierSettings& settings;  // this family's
  LiveClients clients;
};

// What `kproxy diff` compares in one family: this node against a full sync of `snapshot`.
struct DriftRequest {
  const config::KubeProxyConfiguration& config;
  const config::ProxierSettings& settings;  // this family's
  const tracker::ProxySnapshot& snapshot;
  const tracker::UpdateResult& changes;
  LiveClients clients;
};

struct ModeEntry {
  ProxyMode mode;
  std::string_view name;  // KubeProxyConfiguration's `mode`
  proxy::MetricsProfile metrics;
  SyncPeriods (*periods)(const config::KubeProxyConfiguration& config);
  // The live proxier of one family; errors name what could not be opened or checked.
  Result<std::unique_ptr<proxy::Proxier>> (*build_proxier)(const ProxierRequest& request);
  // The offline twin, for render and trace (`for_trace`: keep what tracer() needs); errors are
  // configuration problems.
  Result<std::unique_ptr<OfflineProxier>> (*build_offline)(const config::KubeProxyConfiguration& config,
                                                           const config::ProxierSettings& settings, bool for_trace);
  // Removes what this mode leaves on a node (upstream's CleanupLeftovers of the mode) in every
  // family given; appends one line per problem. Missing pieces are not problems.
  void (*cleanup)(LiveClients& clients, const std::vector<IpFamily>& families, std::vector<std::string>* errors);
  // `kproxy diff` of one family: "" when the node holds what a full sync would leave, else the
  // drift as unified diffs (the mode's drift.h). Reads the node only (CAP_NET_ADMIN, plus
  // CAP_NET_RAW on the legacy iptables back end); errors say what could not be read. Null: the
  // mode has no diff yet.
  Result<std::string> (*live_drift)(const DriftRequest& request) = nullptr;
};

// Every mode, in upstream's order (iptables, ipvs, nftables).
std::span<const ModeEntry> allModes();
// The entry named `name` (the configuration's effective mode), or an error listing the modes:
// "\"x\" is not one of iptables, ipvs" (callers say which field it came from).
Result<const ModeEntry*> findMode(std::string_view name);
const ModeEntry& modeEntry(ProxyMode mode);

// upstream platformCleanup with --cleanup: every mode's leftovers, in an order where no mode's
// chains are still referenced by another's (IPVS before iptables).
std::vector<std::string> cleanupAllModes(LiveClients& clients, const std::vector<IpFamily>& families);

}  // namespace kproxy::modes
