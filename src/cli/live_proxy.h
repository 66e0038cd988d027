// Wiring of the real kernel clients for the live verbs (sync, run, cleanup, facts): the iptables
// back end (picked like upstream's image), nfacct, conntrack and sysctls, and the per-family
// proxiers built on them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "netlink/conntrack.h"
#include "netlink/iptables_restore.h"
#include "netlink/nfacct.h"
#include "netlink/sysctl.h"
#include "src/cli/proxy_server.h"
#include "src/config/kube_proxy_configuration.h"
#include "src/proxy/conntrack_reconciler.h"

namespace kproxy::cli {

struct LiveEnvironment {
  std::unique_ptr<netlink::IptablesRestore> iptables;
  std::string backend_reason;
  std::unique_ptr<netlink::NfacctClient> nfacct;
  std::unique_ptr<netlink::Sysctl> sysctl;
  RealClock clock;
  // One conntrack client and reconciler per family (a netlink handle is not shared across threads).
  std::vector<std::unique_ptr<netlink::ConntrackClient>> conntrack;
  std::vector<std::unique_ptr<proxy::ConntrackReconciler>> reconcilers;
};

Result<std::unique_ptr<LiveEnvironment>> openLiveEnvironment();

// The IP families this node runs: IPv4, plus IPv6 when the kernel has IPv6 (/proc/net/if_inet6)
// and ip6tables works (upstream: dual-stack when both iptables interfaces are usable).
std::vector<IpFamily> detectFamilies(LiveEnvironment& env);

// Builds the iptables-mode proxy of one family. `node` supplies node IPs, labels and pod CIDRs.
Result<std::unique_ptr<FamilyProxy>> buildIptablesFamily(LiveEnvironment& env, const config::KubeProxyConfiguration& config,
                                                         IpFamily family, const std::string& node_name,
                                                         const api::Node* node, const config::NodeFacts& facts,
                                                         std::vector<std::string>* warnings);

}  // namespace kproxy::cli
