#include "src/cli/ipvs_live.h"

#include <sys/utsname.h>

#include <chrono>

#include "modes/common/restore_text.h"
#include "modes/ipvs/proxier.h"
#include "netlink/errors.h"
#include "netlink/ipset_lib.h"
#include "netlink/ipvs_genl.h"
#include "netlink/link_route.h"
#include "src/cli/cluster_input.h"
#include "src/cli/live_proxy.h"
#include "src/cli/node_probe.h"
#include "src/cli/simulated_sync.h"
#include "src/tracker/snapshot.h"

namespace kproxy::cli {
namespace {

std::string kernelRelease() {
  utsname u{};
  if (uname(&u) != 0) return "";
  return u.release;
}

std::string millis(std::chrono::nanoseconds d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(d).count() / 1000.0) + " ms";
}

}  // namespace

int runSyncIpvs(const SyncOptions& options, std::string& err) {
  std::vector<std::string> errors;
  auto fail = [&](int code) {
    for (const auto& e : errors) err += "error: " + e + "\n";
    return code;
  };
  auto loaded = loadConfig(options.config_path, &errors);
  if (!loaded.ok()) return fail(2);
  config::KubeProxyConfiguration cfg = loaded->config;
  cfg.mode = "ipvs";
  auto node_name = resolveNodeName(options.hostname_override, cfg);
  if (!node_name.ok()) {
    errors.push_back(node_name.error().message);
    return fail(2);
  }
  api::ClusterState state = loadManifests(options.files, &errors);
  if (!errors.empty()) return fail(2);

  auto env = openLiveEnvironment();
  if (!env.ok()) {
    errors.push_back(env.error().message);
    return fail(1);
  }
  auto ipvs_client = netlink::GenlIpvsClient::open();
  if (!ipvs_client.ok()) {
    errors.push_back("can't use the IPVS proxier: " + ipvs_client.error().message);
    return fail(1);
  }
  auto link_client = netlink::RouteLinkClient::open();
  if (!link_client.ok()) {
    errors.push_back(link_client.error().message);
    return fail(1);
  }
  auto ipset_client = netlink::LibIpSetClient::open();
  if (!ipset_client.ok()) {
    errors.push_back(ipset_client.error().message);
    return fail(1);
  }
  auto facts = probeNodeFacts(*(*env)->iptables, (*env)->nfacct.get(), *(*env)->sysctl);
  if (!facts.ok()) {
    errors.push_back(facts.error().message);
    return fail(1);
  }
  std::vector<IpFamily> families = detectFamilies(**env);
  if (options.ip_family == "ipv4") families = {IpFamily::kIPv4};
  if (options.ip_family == "ipv6") families = {IpFamily::kIPv6};

  const api::Node* node = findNode(state, *node_name);
  const std::string release = kernelRelease();
  for (IpFamily family : families) {
    const std::string fam(ipFamilyName(family));
    auto settings = config::buildProxierSettings(cfg, family, *node_name, node, *facts);
    if (!settings.ok()) {
      errors.push_back(settings.error().message);
      return fail(2);
    }
    for (const auto& w : settings->warnings) err += "warning: " + w + "\n";
    auto ipvs_settings = ipvs::ipvsSettingsFrom(cfg, family);
    if (!ipvs_settings.ok()) {
      errors.push_back(ipvs_settings.error().message);
      return fail(2);
    }
    if (auto s = ipvs::checkIpvsUsable(**ipvs_client, ipvs_settings->scheduler); !s.ok()) {
      errors.push_back(s.error().message);
      return fail(1);
    }
    tracker::ProxyStateTracker tracker(
        {.family = family, .node_name = *node_name, .node_hints_enabled = settings->settings.prefer_same_node});
    api::ClusterState empty;
    feedClusterState(tracker, empty, state);
    auto [snapshot, changes] = tracker.checkout();

    ipvs::IpvsProxier proxier({.ipvs = **ipvs_client,
                               .links = **link_client,
                               .ipsets = **ipset_client,
                               .iptables = (*env)->iptables.get()},
                              settings->settings, *ipvs_settings, (*env)->sysctl.get(), release);
    auto synced = proxier.sync(*snapshot, changes);
    const ipvs::ApplyReport& applied = proxier.lastApply();
    if (options.verbosity >= 1) {
      err += "# ipvs " + fam + " changes\n" + applied.changes;
      err += "# ipvs " + fam + " timings: virtual+real servers " + millis(applied.ipvs_duration) + " (" +
             std::to_string(applied.ipvs_operations) + " operations), sets " + millis(applied.ipset_duration) +
             ", iptables " + millis(applied.iptables_duration) + ", apply " + millis(applied.total_duration) + "\n";
    }
    if (!synced.ok()) {
      errors.push_back(fam + ": " + synced.error().message);
      return fail(1);
    }
  }
  return 0;
}

CleanupReport cleanupIpvs(netlink::IptablesRestore& iptables, const std::vector<IpFamily>& families) {
  CleanupReport report;
  // IPVS itself (skipped when the kernel has none, as upstream skips it when modprobe fails).
  if (auto ipvs = netlink::GenlIpvsClient::open(); ipvs.ok()) {
    if (auto s = (*ipvs)->flush(); !s.ok()) report.errors.push_back(s.error().message);
  }
  if (auto links = netlink::RouteLinkClient::open(); links.ok()) {
    if (auto s = (*links)->deleteDummyLink(ipvs::kDummyDevice); !s.ok() && !netlink::isNotFound(s.error())) {
      report.errors.push_back(s.error().message);
    }
  }
  for (IpFamily family : families) {
    for (const auto& jump : ipvs::ipvsChainJumps()) {
      deleteRuleEveryCopy(iptables, family, jump.table, jump.from,
                          {"-m", "comment", "--comment", std::string(jump.comment), "-j", std::string(jump.to)}, report);
    }
    for (const char* table : {"nat", "filter"}) {
      deleteOwnedChains(
          iptables, family, table,
          [table](const std::string& name) {
            for (const auto& owned : ipvs::ipvsChains()) {
              if (owned.table == table && owned.chain == name) return true;
            }
            return false;
          },
          report);
    }
  }
  // Sets last: a set still referenced by a rule cannot be destroyed.
  if (auto sets = netlink::LibIpSetClient::open(); sets.ok()) {
    for (IpFamily family : families) {
      for (const auto& info : ipvs::ipSetTable()) {
        const std::string name = ipvs::ipSetName(info.name, family);
        if (auto s = (*sets)->destroy(name); !s.ok() && s.error().code != ENOENT) {
          report.errors.push_back(s.error().message);
        }
      }
    }
  }
  return report;
}

}  // namespace kproxy::cli
