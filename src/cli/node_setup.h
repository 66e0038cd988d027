// What upstream kube-proxy does to the node at start, before any sync: conntrack table sizing and
// timeouts (spec ipvs-and-runtime.md §3.4), and checks of ip_forward and bridge-nf-call-iptables
// with a clear warning. What a mode needs of the node (route_localnet for localhost node ports,
// IPVS sysctls) is its proxier's setUpNode().
#pragma once

#include <string>
#include <vector>

#include "netlink/sysctl.h"
#include "src/config/kube_proxy_configuration.h"

namespace kproxy::cli {

struct NodeSetupResult {
  std::vector<std::string> warnings;
};

// Errors are fatal (upstream: route_localnet cannot be set). Conntrack settings that the kernel
// refuses inside a network namespace other than the initial one are warnings: a deliberate
// deviation from upstream, which exits.
Result<NodeSetupResult> setUpNodeCommon(const config::KubeProxyConfiguration& config, netlink::Sysctl& sysctl, int cpus);

}  // namespace kproxy::cli
