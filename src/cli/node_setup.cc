#include "src/cli/node_setup.h"

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace kproxy::cli {
namespace {

long seconds(config::Duration d) { return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(d).count()); }

// A container without `privileged: true` sees /proc/sys read-only (EROFS), and a network
// namespace other than the initial one keeps nf_conntrack_max read-only (EACCES) whatever the
// capabilities. upstream's answer is --init-only: "perform any initialization steps that must be
// done with full root privileges, and then exit. After doing this, you can run kube-proxy again
// with only the CAP_NET_ADMIN capability" (every write is an ensure, so the second run writes
// nothing).
std::string withPrivilegeHint(const Error& e) {
  if (e.code != EROFS && e.code != EACCES && e.code != EPERM) return e.message;
  return e.message +
         " (writing sysctls needs a writable /proc/sys: run `kube-proxy --init-only` with privileges first, e.g. as "
         "the privileged init container of deploy/03-daemonset.yaml)";
}

}  // namespace

Result<NodeSetupResult> setUpNodeCommon(const config::KubeProxyConfiguration& config, netlink::Sysctl& sysctl, int cpus) {
  NodeSetupResult result;
  auto soft = [&](const Status& s) {
    if (!s.ok()) result.warnings.push_back(withPrivilegeHint(s.error()) + " (not fatal: kproxy goes on)");
  };

  // Conntrack (upstream: server_linux.go, the "conntracker"): max = max(maxPerCore × CPUs, min),
  // only raised, never lowered; hashsize a quarter of it; then the timeouts that are set.
  const auto& ct = config.conntrack;
  if (ct.max_per_core > 0) {
    const long want = std::max<long>(static_cast<long>(ct.max_per_core) * cpus, ct.min);
    auto current = sysctl.get("net/netfilter/nf_conntrack_max");
    if (!current.ok() || *current < want) {
      soft(netlink::ensureSysctl(sysctl, "net/netfilter/nf_conntrack_max", want));
    }
  }
  if (ct.tcp_established_timeout.count() > 0) {
    soft(netlink::ensureSysctl(sysctl, "net/netfilter/nf_conntrack_tcp_timeout_established", seconds(ct.tcp_established_timeout)));
  }
  if (ct.tcp_close_wait_timeout.count() > 0) {
    soft(netlink::ensureSysctl(sysctl, "net/netfilter/nf_conntrack_tcp_timeout_close_wait", seconds(ct.tcp_close_wait_timeout)));
  }
  if (ct.tcp_be_liberal) soft(netlink::ensureSysctl(sysctl, "net/netfilter/nf_conntrack_tcp_be_liberal", 1));
  if (ct.udp_timeout.count() > 0) {
    soft(netlink::ensureSysctl(sysctl, "net/netfilter/nf_conntrack_udp_timeout", seconds(ct.udp_timeout)));
  }
  if (ct.udp_stream_timeout.count() > 0) {
    soft(netlink::ensureSysctl(sysctl, "net/netfilter/nf_conntrack_udp_timeout_stream", seconds(ct.udp_stream_timeout)));
  }

  if (auto forward = sysctl.get("net/ipv4/ip_forward"); forward.ok() && *forward == 0) {
    result.warnings.push_back("net.ipv4.ip_forward is 0: traffic to services from other hosts and pods will not be forwarded");
  }
  auto bridge = sysctl.get("net/bridge/bridge-nf-call-iptables");
  if (!bridge.ok() || *bridge == 0) {
    result.warnings.push_back(
        "missing br_netfilter module or unset sysctl net.bridge.bridge-nf-call-iptables: bridged pod traffic will not "
        "pass through iptables, so services may not work as intended");
  }
  return result;
}

}  // namespace kproxy::cli
