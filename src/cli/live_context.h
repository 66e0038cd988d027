// The shared prelude of the verbs that touch this node (sync, diff, cleanup, facts, run): the real
// kernel clients of the current network namespace, what a verb given on the command line knows of
// the node (configuration, mode, node name, manifests, probed facts, IP families), and the daemon
// core's per-family pipelines built for the configured mode.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "modes/registry.h"
#include "netlink/iptables_restore.h"
#include "netlink/nfacct.h"
#include "netlink/sysctl.h"
#include "src/api/decode.h"
#include "src/config/kube_proxy_configuration.h"
#include "src/config/node_facts.h"
#include "src/proxy/proxy_server.h"

namespace kproxy::cli {

struct LiveEnvironment {
  std::unique_ptr<netlink::IptablesRestore> iptables;
  std::string backend_reason;  // why this iptables back end (upstream's image picks it the same way)
  std::unique_ptr<netlink::NfacctClient> nfacct;
  std::unique_ptr<netlink::Sysctl> sysctl;
  RealClock clock;

  modes::LiveClients clients() {
    return {.iptables = *iptables, .nfacct = nfacct.get(), .sysctl = *sysctl, .clock = clock};
  }
};

std::unique_ptr<LiveEnvironment> openLiveEnvironment();

// The IP families this node runs: IPv4, plus IPv6 when the kernel has IPv6 (/proc/net/if_inet6)
// and ip6tables works (upstream: dual-stack when both iptables interfaces are usable).
std::vector<IpFamily> detectFamilies(LiveEnvironment& env);

// The command line of a live verb.
struct LiveVerbOptions {
  std::vector<std::string> files;  // manifests ("-" is stdin); may be empty
  std::string config_path;
  std::string hostname_override;
  std::string proxy_mode;  // overrides the configuration's
  std::string ip_family;   // "" = every family the node has, else ipv4 / ipv6
};

struct LiveContext {
  config::KubeProxyConfiguration config;
  const modes::ModeEntry* mode = nullptr;
  std::string node_name;
  api::ClusterState state;  // the manifests
  std::unique_ptr<LiveEnvironment> env;
  config::NodeFacts facts;
  std::vector<IpFamily> families;
  std::vector<std::string> warnings;  // the configuration's

  // This node's Node in the manifests, or null.
  const api::Node* node() const;
};

// Loads and probes everything; every problem is one line in `errors` (the verb then exits 2
// without touching the kernel).
std::optional<LiveContext> openLiveContext(const LiveVerbOptions& options, std::vector<std::string>* errors);

// The daemon core's pipeline of each family for `mode`: a change tracker, the mode's proxier and a
// conntrack reconciler. `node` supplies node IPs, labels and pod CIDRs (null when unknown). With
// `settings`, each family's proxier settings are appended there too.
Result<std::vector<std::unique_ptr<proxy::FamilyProxy>>> buildFamilyProxies(
    LiveEnvironment& env, const config::KubeProxyConfiguration& config, const modes::ModeEntry& mode,
    const std::vector<IpFamily>& families, const std::string& node_name, const api::Node* node,
    const config::NodeFacts& facts, std::vector<std::string>* warnings,
    std::vector<config::ProxierSettings>* settings = nullptr);

}  // namespace kproxy::cli
