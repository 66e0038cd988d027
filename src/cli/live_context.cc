#include "src/cli/live_context.h"

#include <unistd.h>

#include <cstdio>

#include "netlink/conntrack_nfct.h"
#include "src/cli/cluster_input.h"
#include "src/cli/node_probe.h"
#include "src/config/proxier_settings.h"

namespace kproxy::cli {

std::unique_ptr<LiveEnvironment> openLiveEnvironment() {
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

const api::Node* LiveContext::node() const { return findNode(state, node_name); }

std::optional<LiveContext> openLiveContext(const LiveVerbOptions& options, std::vector<std::string>* errors) {
  LiveContext ctx;
  if (!options.ip_family.empty() && options.ip_family != "ipv4" && options.ip_family != "ipv6") {
    errors->push_back("--ip-family: \"" + options.ip_family + "\" is not ipv4 or ipv6");
    return std::nullopt;
  }
  auto loaded = loadConfig(options.config_path, errors);
  if (!loaded.ok()) return std::nullopt;
  ctx.config = std::move(loaded->config);
  ctx.warnings = std::move(loaded->warnings);
  if (!options.proxy_mode.empty()) ctx.config.mode = options.proxy_mode;
  config::applyModeDefaults(ctx.config);
  auto mode = modes::findMode(ctx.config.effectiveMode());
  if (!mode.ok()) {
    errors->push_back((options.proxy_mode.empty() ? "mode: " : "--proxy-mode: ") + mode.error().message);
    return std::nullopt;
  }
  ctx.mode = *mode;
  auto node_name = resolveNodeName(options.hostname_override, ctx.config);
  if (!node_name.ok()) {
    errors->push_back(node_name.error().message);
    return std::nullopt;
  }
  ctx.node_name = std::move(*node_name);
  ctx.state = loadManifests(options.files, errors);
  if (!errors->empty()) return std::nullopt;

  ctx.env = openLiveEnvironment();
  auto facts = probeNodeFacts(*ctx.env->iptables, ctx.env->nfacct.get(), *ctx.env->sysctl);
  if (!facts.ok()) {
    errors->push_back(facts.error().message);
    return std::nullopt;
  }
  ctx.facts = std::move(*facts);
  if (options.ip_family == "ipv4") {
    ctx.families = {IpFamily::kIPv4};
  } else if (options.ip_family == "ipv6") {
    ctx.families = {IpFamily::kIPv6};
  } else {
    ctx.families = detectFamilies(*ctx.env);
  }
  return ctx;
}

Result<std::vector<std::unique_ptr<proxy::FamilyProxy>>> buildFamilyProxies(
    LiveEnvironment& env, const config::KubeProxyConfiguration& config, const modes::ModeEntry& mode,
    const std::vector<IpFamily>& families, const std::string& node_name, const api::Node* node,
    const config::NodeFacts& facts, std::vector<std::string>* warnings, std::vector<config::ProxierSettings>* settings_out) {
  std::vector<std::unique_ptr<proxy::FamilyProxy>> out;
  for (IpFamily family : families) {
    auto settings = config::buildProxierSettings(config, family, node_name, node, facts);
    if (!settings.ok()) return settings.error();
    for (auto& w : settings->warnings) warnings->push_back(w);

    auto f = std::make_unique<proxy::FamilyProxy>();
    f->family = family;
    f->tracker = std::make_unique<tracker::ProxyStateTracker>(tracker::ProxyStateTracker::Options{
        .family = family,
        .node_name = node_name,
        .node_hints_enabled = settings->settings.prefer_same_node,
        .start_time = env.clock.wallNow()});
    auto proxier = mode.build_proxier({.config = config, .settings = settings->settings, .clients = env.clients()});
    if (!proxier.ok()) return proxier.error().wrap(std::string(ipFamilyName(family)));
    f->proxier = std::move(*proxier);
    // One conntrack client per family: a netlink handle is not shared across threads.
    if (auto client = netlink::NfctConntrackClient::open(); client.ok()) {
      f->conntrack_client = std::move(*client);
      f->conntrack = std::make_unique<proxy::ConntrackReconciler>(*f->conntrack_client);
    } else {
      warnings->push_back("conntrack: " + client.error().message + "; stale UDP flows will not be cleared");
    }
    out.push_back(std::move(f));
    if (settings_out != nullptr) settings_out->push_back(std::move(settings->settings));
  }
  return out;
}

}  // namespace kproxy::cli
