#include "src/cli/live_proxy.h"

#include <unistd.h>

#include <cstdio>

#include "netlink/conntrack_nfct.h"
#include "src/util/log.h"

namespace kproxy::cli {

Result<std::unique_ptr<LiveEnvironment>> openLiveEnvironment() {
  auto env = std::make_unique<LiveEnvironment>();
  std::string backend_warning;
  auto backend = netlink::detectIptablesBackend(&env->backend_reason, &backend_warning);
  // Straight to stderr, once, for every live verb: stdout carries diff's and facts' output.
  if (!backend_warning.empty()) std::fprintf(stderr, "warning: %s\n", backend_warning.c_str());
  env->iptables = netlink::newProcessIptables(backend);
  env->nfacct = netlink::newNetlinkNfacct();
  env->sysctl = netlink::newProcSysctl();
  return env;
}

std::vector<IpFamily> detectFamilies(LiveEnvironment& env) {
  std::vector<IpFamily> families = {IpFamily::kIPv4};
  if (access("/proc/net/if_inet6", F_OK) == 0 && env.iptables->save(IpFamily::kIPv6, "nat").ok()) {
    families.push_back(IpFamily::kIPv6);
  }
  return families;
}

Result<std::unique_ptr<FamilyProxy>> buildIptablesFamily(LiveEnvironment& env, const config::KubeProxyConfiguration& config,
                                                         IpFamily family, const std::string& node_name,
                                                         const api::Node* node, const config::NodeFacts& facts,
                                                         std::vector<std::string>* warnings) {
  auto settings = config::buildProxierSettings(config, family, node_name, node, facts);
  if (!settings.ok()) return settings.error();
  for (auto& w : settings->warnings) warnings->push_back(w);

  auto f = std::make_unique<FamilyProxy>();
  f->family = family;
  f->tracker = std::make_unique<tracker::ProxyStateTracker>(tracker::ProxyStateTracker::Options{
      .family = family,
      .node_name = node_name,
      .node_hints_enabled = settings->settings.prefer_same_node,
      .start_time = env.clock.wallNow()});

  proxy::ConntrackReconciler* reconciler = nullptr;
  if (auto client = netlink::NfctConntrackClient::open(); client.ok()) {
    env.conntrack.push_back(std::move(*client));
    env.reconcilers.push_back(std::make_unique<proxy::ConntrackReconciler>(*env.conntrack.back()));
    reconciler = env.reconcilers.back().get();
  } else {
    warnings->push_back("conntrack: " + client.error().message + "; stale UDP flows will not be cleared");
  }
  iptables::ApplyOptions apply;
  apply.chunk_full_syncs = env.iptables->backend() == netlink::IptablesBackend::kNft;
  f->proxier = std::make_unique<iptables::IptablesProxier>(
      iptables::IptablesProxierDeps{.iptables = *env.iptables,
                                    .nfacct = env.nfacct.get(),
                                    .conntrack = reconciler,
                                    .clock = env.clock},
      settings->settings, apply);
  return f;
}

}  // namespace kproxy::cli
