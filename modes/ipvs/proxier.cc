#include "modes/ipvs/proxier.h"

#include <chrono>
#include <cstdio>

#include "netlink/errors.h"
#include "src/util/log.h"

namespace kproxy::ipvs {
namespace {

// (major, minor) of "6.1.0-57-cloud-amd64"; (0, 0) when unreadable.
std::pair<int, int> kernelVersion(const std::string& release) {
  int major = 0, minor = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &major, &minor) != 2) return {0, 0};
  return {major, minor};
}

}  // namespace

Status checkIpvsUsable(netlink::IpvsClient& ipvs, const std::string& scheduler) {
  auto services = ipvs.listServices();
  if (!services.ok()) return Error("can't use the IPVS proxier: " + services.error().message, services.error().code);
  for (const auto& s : *services) {
    if (s.scheduler == scheduler) return okStatus();
  }
  netlink::IpvsService probe;
  probe.address = IpAddress::parse("198.51.100.0").value();
  probe.protocol = netlink::kIpvsProtoTcp;
  probe.port = 20000;
  probe.scheduler = scheduler;
  if (auto s = ipvs.addService(probe); !s.ok() && !netlink::isAlreadyExists(s.error())) {
    return Error("can't use the IPVS proxier: " + s.error().message, s.error().code);
  }
  auto again = ipvs.listServices();
  Status removed = ipvs.deleteService(probe);
  if (!again.ok()) return Error("can't use the IPVS proxier: " + again.error().message, again.error().code);
  if (again->empty()) return Error("can't use the IPVS proxier: the kernel lists no virtual servers after adding one", EINVAL);
  if (!removed.ok()) return Error("can't use the IPVS proxier: " + removed.error().message, removed.error().code);
  return okStatus();
}

Status ensureIpvsSysctls(netlink::Sysctl& sysctl, const std::vector<Sysctl>& sysctls, const std::string& kernel_release) {
  for (const auto& s : sysctls) {
    if (auto st = netlink::ensureSysctl(sysctl, s.name, s.value); !st.ok()) return st;
  }
  auto [major, minor] = kernelVersion(kernel_release);
  const bool reuse_matters = (major > 4 || (major == 4 && minor >= 1)) && (major < 5 || (major == 5 && minor < 9));
  if (reuse_matters) return netlink::ensureSysctl(sysctl, "net/ipv4/vs/conn_reuse_mode", 0);
  return okStatus();
}

Status IpvsProxier::setUpNode() {
  if (auto s = checkIpvsUsable(deps_.ipvs, ipvs_.scheduler); !s.ok()) return s;
  if (sysctl_ != nullptr) {
    if (auto s = ensureIpvsSysctls(*sysctl_, ipvsSysctls(ipvs_), kernel_release_); !s.ok()) return s;
  }
  // upstream: one IPVS_CMD_SET_CONFIG when any timeout is configured; a failure is only logged.
  if (ipvs_.tcp_timeout > 0 || ipvs_.tcp_fin_timeout > 0 || ipvs_.udp_timeout > 0) {
    netlink::IpvsTimeouts timeouts{.tcp = ipvs_.tcp_timeout, .tcp_fin = ipvs_.tcp_fin_timeout, .udp = ipvs_.udp_timeout};
    if (auto s = deps_.ipvs.setTimeouts(timeouts); !s.ok()) {
      log::error("Failed to set IPVS timeouts: {}", s.error().message);
    }
  }
  return okStatus();
}

std::string IpvsProxier::lastSyncDetails() const {
  auto millis = [](std::chrono::nanoseconds d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(d).count() / 1000.0) + " ms";
  };
  const std::string fam(ipFamilyName(settings_.family));
  const ApplyReport& a = last_apply_;
  return "# ipvs " + fam + " changes\n" + a.changes + "# ipvs " + fam + " timings: virtual+real servers " +
         millis(a.ipvs_duration) + " (" + std::to_string(a.ipvs_operations) + " operations), sets " +
         millis(a.ipset_duration) + ", iptables " + millis(a.iptables_duration) + ", apply " +
         millis(a.total_duration) + "\n";
}

Status IpvsProxier::housekeeping() {
  auto deleted = applier_.sweep();
  if (!deleted.ok()) return deleted.error();
  if (*deleted > 0) log::info(2, "{} graceful termination: deleted {} idle real server(s)", ipFamilyName(settings_.family), *deleted);
  return okStatus();
}

bool IpvsProxier::nextSyncIsFull(const tracker::UpdateResult&) const {
  // The runner's periodic run comes syncPeriod after the previous one; a tenth of slack keeps its
  // timer's jitter from turning that run into a partial one.
  const auto due = ipvs_.full_sync_period - ipvs_.full_sync_period / 10;
  return full_requested_ || !applier_.knownState() || !last_full_sync_ ||
         std::chrono::steady_clock::now() - *last_full_sync_ >= due;
}

Result<proxy::SyncReport> IpvsProxier::sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes) {
  const auto start = std::chrono::steady_clock::now();
  const bool full = nextSyncIsFull(changes);
  // Until this sync has gone through, the next one is full (a failure forgets the known state).
  full_requested_ = true;
  std::vector<IpAddress> bound;
  if (!full) {
    bound = applier_.knownState()->kube_ipvs0_addresses;
  } else if (auto listed = deps_.links.listAddresses(kDummyDevice, settings_.family); listed.ok()) {
    bound = std::move(*listed);
  } else if (listed.error().code != ENODEV) {
    return listed.error();
  }
  last_plan_ = planIpvs({.snapshot = &snapshot, .settings = &settings_, .ipvs = &ipvs_, .kube_ipvs0_addresses = &bound});
  auto applied = applier_.apply(last_plan_, full ? ApplyKind::kFull : ApplyKind::kPartial);
  if (!applied.ok()) return applied.error();
  last_apply_ = std::move(*applied);
  proxy::SyncReport report;
  report.full_sync = last_apply_.read_kernel_state;
  report.bytes_written = last_apply_.iptables_restored ? last_plan_.iptables_payload.size() : 0;
  report.kernel_transactions = last_apply_.ipvs_operations + (last_apply_.iptables_restored ? 1 : 0);
  report.no_local_endpoints_internal = last_plan_.no_local_endpoints_internal;
  report.no_local_endpoints_external = last_plan_.no_local_endpoints_external;
  report.duration = std::chrono::steady_clock::now() - start;
  if (!last_apply_.errors.empty()) {
    std::string all;
    for (const auto& e : last_apply_.errors) all += (all.empty() ? "" : "; ") + e;
    return Error("ipvs: " + std::to_string(last_apply_.errors.size()) + " item(s) failed: " + all);
  }
  full_requested_ = false;
  // From the end: under load a full sync can take longer than ipvs.syncPeriod itself, and the
  // syncs that follow it must still be partial.
  if (report.full_sync) last_full_sync_ = std::chrono::steady_clock::now();
  return report;
}

}  // namespace kproxy::ipvs
