#include "modes/iptables/planner.h"

#include <cstdio>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "modes/iptables/chain_names.h"
#include "src/tracker/topology.h"
#include "src/util/line_buffer.h"
#include "src/util/safe_text.h"

namespace kproxy::iptables {
namespace {

using tracker::EndpointInfo;
using tracker::EndpointList;
using tracker::EndpointRefs;
using tracker::ServicePortInfo;

// "%0.10f" of 1/n, memoised (upstream precomputes these strings too).
const std::string& probability(size_t n) {
  thread_local std::vector<std::string> cache;
  while (cache.size() <= n) {
    char buf[32];
    size_t i = cache.size();
    std::snprintf(buf, sizeof(buf), "%0.10f", i == 0 ? 0.0 : 1.0 / static_cast<double>(i));
    cache.emplace_back(buf);
  }
  return cache[n];
}

void writeWords(LineBuffer& buf, const std::vector<std::string>& words) {
  for (const auto& w : words) buf.word(w);
}

void writeChainLine(LineBuffer& buf, std::string_view chain) { buf.joined(":", chain, " - [0:0]").endLine(); }

class Planner {
 public:
  explicit Planner(const PlanInput& input)
      : in_(input), snap_(*input.snapshot), s_(*input.settings), skipped_chains_(true), skipped_rules_(true) {}

  IptablesPlan run();

 private:
  struct EndpointChains {
    const EndpointInfo* ep;
    std::string chain;
  };

  void writeServicePort(const ServicePortInfo& port, const EndpointList& endpoints);
  void writeServiceToEndpointRules(LineBuffer& rules, const ServicePortInfo& port, std::string_view chain,
                                   const EndpointRefs& endpoints);
  const std::string& sepChain(const ServicePortInfo& port, const std::string& protocol, const EndpointInfo& ep);
  static constexpr size_t kCommentNameMax = 200;
  static const std::string& commentName(const ServicePortInfo& port, std::string& scratch);
  // The per-endpoint comment is dropped in large-cluster mode (upstream appendServiceCommentLocked).
  void endpointComment(LineBuffer& buf, std::string_view text_a, std::string_view text_b = {},
                       std::string_view text_c = {}, bool quoted = false);

  const PlanInput& in_;
  const tracker::ProxySnapshot& snap_;
  const config::ProxierSettings& s_;
  IptablesPlan plan_;
  bool large_cluster_ = false;
  bool collect_active_ = true;  // fill plan_.active_nat_chains (only needed to find stale chains)

  LineBuffer filter_chains_;
  LineBuffer filter_rules_;
  LineBuffer nat_chains_;
  LineBuffer nat_rules_;
  LineBuffer skipped_chains_;
  LineBuffer skipped_rules_;
  size_t skipped_rule_lines_from_previous_ = 0;

  // KUBE-SEP names of the current service port's endpoints (each hashed once per port).
  std::unordered_map<const EndpointInfo*, std::string> sep_names_;
};

// The service port's name as comments carry it ("ns/name:port"): one word that can end neither
// the rule nor a quoted comment, whatever reached the planner (validation in src/api refuses such
// names; this is the writer's own guard). At most 200 bytes, so that every comment stays within
// the 255 bytes of xt_comment. Names that pass validation come back unchanged.
const std::string& Planner::commentName(const ServicePortInfo& port, std::string& scratch) {
  return safeWord(port.name_string, scratch, kCommentNameMax);
}

void Planner::endpointComment(LineBuffer& buf, std::string_view a, std::string_view b, std::string_view c,
                              bool quoted) {
  if (large_cluster_) return;
  buf.words("-m", "comment", "--comment");
  if (quoted) {
    buf.joined("\"", a, b, c, "\"");
  } else {
    buf.joined(a, b, c);
  }
}

const std::string& Planner::sepChain(const ServicePortInfo& port, const std::string& protocol, const EndpointInfo& ep) {
  auto [it, inserted] = sep_names_.try_emplace(&ep);
  if (inserted) it->second = endpointChainName(port.name_string, protocol, ep.endpoint);
  return it->second;
}

IptablesPlan Planner::run() {
  plan_.family = s_.family;
  plan_.full_sync = in_.full_sync;
  const std::string& mark = s_.masquerade_mark;
  const bool is_ipv6 = s_.family == IpFamily::kIPv6;

  // Top-level chains, rewritten on every sync.
  for (auto chain : {kServicesChain, kExternalServicesChain, kForwardChain, kNodePortsChain, kProxyFirewallChain}) {
    writeChainLine(filter_chains_, chain);
  }
  for (auto chain : {kServicesChain, kNodePortsChain, kPostroutingChain, kMarkMasqChain}) {
    writeChainLine(nat_chains_, chain);
  }

  // Masquerade marked packets, and clear the mark so a re-traversal is not masqueraded again.
  nat_rules_.words("-A", kPostroutingChain, "-m", "mark", "!", "--mark").joined(mark, "/", mark).words("-j", "RETURN").endLine();
  nat_rules_.words("-A", kPostroutingChain, "-j", "MARK", "--xor-mark", mark).endLine();
  nat_rules_.words("-A", kPostroutingChain, "-m", "comment", "--comment", "\"kubernetes service traffic requiring SNAT\"",
                   "-j", "MASQUERADE");
  if (s_.facts.random_fully) nat_rules_.word("--random-fully");
  nat_rules_.endLine();
  nat_rules_.words("-A", kMarkMasqChain, "-j", "MARK", "--or-mark", mark).endLine();

  if (!is_ipv6 && s_.localhost_node_ports) {
    // upstream: route_localnet opens 127.0.0.0/8 to the network (issue 90259); this copy of
    // kubelet's rule closes it again except for connections kube-proxy DNATs.
    writeChainLine(filter_chains_, kKubeletFirewallChain);
    filter_rules_.words("-A", kKubeletFirewallChain, "-m", "comment", "--comment",
                        "\"block incoming localnet connections\"", "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m",
                        "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP")
        .endLine();
  }

  // Large-cluster mode: total endpoints over every service port present in the service map.
  // Both maps are sorted by ServicePortName: walk them together instead of looking each port up.
  std::vector<const EndpointList*> endpoints_of;
  endpoints_of.reserve(snap_.services.size());
  static const EndpointList kNoEndpoints;
  auto ep_it = snap_.endpoints.begin();
  for (const auto& [name, port] : snap_.services) {
    while (ep_it != snap_.endpoints.end() && ep_it->first < name) ++ep_it;
    endpoints_of.push_back(ep_it != snap_.endpoints.end() && ep_it->first == name ? ep_it->second.get() : &kNoEndpoints);
  }
  size_t total_endpoints = 0;
  for (const auto* list : endpoints_of) total_endpoints += list->size();
  plan_.total_endpoints = total_endpoints;
  large_cluster_ = total_endpoints > kLargeClusterEndpointsThreshold;
  plan_.large_cluster_mode = large_cluster_;

  // Rough sizes (a service port writes ~500 bytes of rules, an endpoint ~350) so the buffers grow
  // at most once or twice.
  // A partial sync writes the top-level chains (~200 bytes a port) and few service chains.
  if (in_.full_sync) {
    nat_rules_.reserve(snap_.services.size() * 500 + total_endpoints * 350);
    nat_chains_.reserve(snap_.services.size() * 70 + total_endpoints * 40);
  } else {
    nat_rules_.reserve(snap_.services.size() * 200 + 64 * 1024);
  }
  // Stale per-service chains are looked for unless unknown or throttled (large-cluster mode:
  // at most once per syncPeriod); only then is the list of chains in use needed. Skipping it
  // spares a 10k-service partial sync ~110k string copies.
  const bool throttled = large_cluster_ && in_.last_stale_cleanup.has_value() &&
                         in_.now - *in_.last_stale_cleanup <= s_.sync_period;
  const bool check_stale = in_.existing_nat_chains != nullptr && !throttled;
  collect_active_ = check_stale;
  if (collect_active_) plan_.active_nat_chains.reserve(snap_.services.size() * 2 + total_endpoints);
  plan_.written_nat_chains.reserve(in_.full_sync ? snap_.services.size() * 2 + total_endpoints : 64);

  size_t index = 0;
  for (const auto& [name, port] : snap_.services) writeServicePort(*port, *endpoints_of[index++]);

  // Stale per-service chains: in the kernel, not used by this sync.
  if (check_stale) {
    std::unordered_set<std::string_view> active;
    if (!in_.existing_nat_chains->empty()) {
      active.reserve(plan_.active_nat_chains.size());
      for (const auto& chain : plan_.active_nat_chains) active.insert(chain);
    }
    for (std::string_view chain : *in_.existing_nat_chains) {
      if (!isServiceChainName(chain) || active.count(chain) != 0) continue;
      writeChainLine(nat_chains_, chain);
      nat_rules_.words("-X", chain).endLine();
      plan_.deleted_nat_chains.emplace_back(chain);
    }
    plan_.stale_chains_checked = true;
  }

  // Last rule of KUBE-SERVICES: everything addressed to the node goes on to KUBE-NODEPORTS.
  static constexpr std::string_view kNodePortsComment =
      "\"kubernetes service nodeports; NOTE: this must be the last rule in this chain\"";
  if (s_.node_port_addresses.match_all) {
    nat_rules_.words("-A", kServicesChain, "-m", "comment", "--comment", kNodePortsComment, "-m", "addrtype",
                     "--dst-type", "LOCAL");
    // Localhost node ports never work for IPv6, and for IPv4 only with route_localnet.
    if (is_ipv6) {
      nat_rules_.words("!", "-d", "::1/128");
    } else if (!s_.localhost_node_ports) {
      nat_rules_.words("!", "-d", "127.0.0.0/8");
    }
    nat_rules_.words("-j", kNodePortsChain).endLine();
  } else {
    for (const auto& ip : s_.node_port_addresses.nodeIps(s_.facts.local_addresses)) {
      // upstream logs an error and skips loopback addresses it cannot serve.
      if (ip.isLoopback() && (is_ipv6 || !s_.localhost_node_ports)) continue;
      nat_rules_.words("-A", kServicesChain, "-m", "comment", "--comment", kNodePortsComment, "-d")
          .ip(ip)
          .words("-j", kNodePortsChain)
          .endLine();
    }
  }

  // Drop INVALID packets unless the kernel is liberal about TCP windows (upstream issue 74839).
  if (!s_.facts.conntrack_tcp_be_liberal) {
    filter_rules_.words("-A", kForwardChain, "-m", "conntrack", "--ctstate", "INVALID");
    if (s_.facts.nfacct_counters.count(config::kNfacctInvalidDropped) != 0) {
      filter_rules_.words("-m", "nfacct", "--nfacct-name", config::kNfacctInvalidDropped);
    }
    filter_rules_.words("-j", "DROP").endLine();
  }
  filter_rules_.words("-A", kForwardChain, "-m", "comment", "--comment", "\"kubernetes forwarding rules\"", "-m",
                      "mark", "--mark")
      .joined(mark, "/", mark)
      .words("-j", "ACCEPT")
      .endLine();
  filter_rules_.words("-A", kForwardChain, "-m", "comment", "--comment", "\"kubernetes forwarding conntrack rule\"",
                      "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
      .endLine();

  plan_.filter_rule_count = filter_rules_.lines();
  plan_.nat_rule_count = nat_rules_.lines();
  plan_.nat_rules_skipped_count = skipped_rules_.lines() + skipped_rule_lines_from_previous_;

  plan_.filter_chains = filter_chains_.release();
  plan_.filter_rules = filter_rules_.release();
  plan_.nat_chains = nat_chains_.release();
  plan_.nat_rules = nat_rules_.release();
  return std::move(plan_);
}

void Planner::writeServicePort(const ServicePortInfo& port, const EndpointList& all_endpoints) {
  const std::string protocol = api::protocolLowerName(port.protocol);
  std::string spn_scratch;
  const std::string& spn = commentName(port, spn_scratch);
  // In a partial sync an unchanged port's own chains are not written; what the previous plan
  // recorded for it stands in for rendering them (same names, same rule count).
  const bool own_chains_skipped =
      !in_.full_sync && (in_.changes == nullptr || !in_.changes->serviceUpdated(port.name.service));
  std::shared_ptr<const ServicePortChains> previous;
  if (own_chains_skipped && in_.previous_service_chains != nullptr) {
    auto it = in_.previous_service_chains->find(port.name);
    if (it != in_.previous_service_chains->end()) previous = it->second;
  }
  const ServiceChainNames computed_chains = previous ? ServiceChainNames{} : serviceChainNames(port.name_string, protocol);
  const ServiceChainNames& chains = previous ? previous->names : computed_chains;
  sep_names_.clear();

  auto cat = tracker::categorizeEndpoints(all_endpoints, port, snap_.node_name, snap_.node_labels, s_.prefer_same_node);

  const bool uses_cluster_chain = !cat.cluster.empty() && port.usesClusterEndpoints();
  const bool uses_local_chain = !cat.local.empty() && port.usesLocalEndpoints();
  const bool has_endpoints = cat.has_any_endpoints;

  const std::string* internal_chain = &chains.svc;
  bool has_internal = has_endpoints;
  if (port.internal_policy_local) {
    internal_chain = &chains.svl;
    if (cat.local.empty()) has_internal = false;
  }
  const std::string* external_policy_chain = &chains.svc;
  bool has_external = has_endpoints;
  if (port.external_policy_local) {
    external_policy_chain = &chains.svl;
    if (cat.local.empty()) has_external = false;
  }
  // EXT is used whenever there are endpoints: its short-circuit rules for local traffic matter
  // even when no endpoint serves external traffic.
  const bool uses_ext = has_endpoints && port.externallyAccessible();
  const bool uses_fw = has_endpoints && !port.load_balancer_vips.empty() && !port.load_balancer_source_ranges.empty();
  const std::string& lb_chain = uses_fw ? chains.fw : chains.ext;

  std::string internal_filter_target, internal_filter_comment;
  std::string external_filter_target, external_filter_comment;
  if (!has_endpoints) {
    internal_filter_target = external_filter_target = "REJECT";
    internal_filter_comment = external_filter_comment = "\"" + spn + " has no endpoints\"";
  } else {
    if (!has_internal) {
      internal_filter_target = "DROP";
      internal_filter_comment = "\"" + spn + " has no local endpoints\"";
      ++plan_.no_local_endpoints_internal;
    }
    if (!has_external) {
      external_filter_target = "DROP";
      external_filter_comment = "\"" + spn + " has no local endpoints\"";
      ++plan_.no_local_endpoints_external;
    }
  }

  auto protoMatch = [&](LineBuffer& buf) { buf.words("-m", protocol, "-p", protocol); };

  // ClusterIP.
  if (has_internal) {
    nat_rules_.words("-A", kServicesChain, "-m", "comment", "--comment").joined("\"", spn, " cluster IP\"");
    protoMatch(nat_rules_);
    nat_rules_.word("-d").ip(port.cluster_ip).word("--dport").decimal(port.port).words("-j", *internal_chain).endLine();
  } else {
    filter_rules_.words("-A", kServicesChain, "-m", "comment", "--comment", internal_filter_comment);
    protoMatch(filter_rules_);
    filter_rules_.word("-d").ip(port.cluster_ip).word("--dport").decimal(port.port).words("-j", internal_filter_target).endLine();
  }

  // External IPs.
  for (const auto& ip : port.external_ips) {
    if (has_endpoints) {
      nat_rules_.words("-A", kServicesChain, "-m", "comment", "--comment").joined("\"", spn, " external IP\"");
      protoMatch(nat_rules_);
      nat_rules_.word("-d").ip(ip).word("--dport").decimal(port.port).words("-j", chains.ext).endLine();
    }
    if (!has_external) {
      filter_rules_.words("-A", kExternalServicesChain, "-m", "comment", "--comment", external_filter_comment);
      protoMatch(filter_rules_);
      filter_rules_.word("-d").ip(ip).word("--dport").decimal(port.port).words("-j", external_filter_target).endLine();
    }
  }

  // Load-balancer ingress IPs.
  for (const auto& vip : port.load_balancer_vips) {
    if (has_endpoints) {
      nat_rules_.words("-A", kServicesChain, "-m", "comment", "--comment").joined("\"", spn, " loadbalancer IP\"");
      protoMatch(nat_rules_);
      nat_rules_.word("-d").ip(vip).word("--dport").decimal(port.port).words("-j", lb_chain).endLine();
    }
    if (uses_fw) {
      filter_rules_.words("-A", kProxyFirewallChain, "-m", "comment", "--comment")
          .joined("\"", spn, " traffic not accepted by ", chains.fw, "\"");
      protoMatch(filter_rules_);
      filter_rules_.word("-d").ip(vip).word("--dport").decimal(port.port).words("-j", "DROP").endLine();
    }
  }
  if (!has_external) {
    for (const auto& vip : port.load_balancer_vips) {
      filter_rules_.words("-A", kExternalServicesChain, "-m", "comment", "--comment", external_filter_comment);
      protoMatch(filter_rules_);
      filter_rules_.word("-d").ip(vip).word("--dport").decimal(port.port).words("-j", external_filter_target).endLine();
    }
  }

  // Node port (loadBalancerSourceRanges do not apply to it).
  if (port.node_port != 0) {
    if (has_endpoints) {
      if (s_.localhost_node_ports && s_.family == IpFamily::kIPv4 &&
          s_.facts.nfacct_counters.count(config::kNfacctLocalhostNodePorts) != 0) {
        nat_rules_.words("-A", kNodePortsChain, "-m", "comment", "--comment", spn);
        protoMatch(nat_rules_);
        nat_rules_.words("-d", "127.0.0.0/8", "--dport")
            .decimal(port.node_port)
            .words("-m", "nfacct", "--nfacct-name", config::kNfacctLocalhostNodePorts, "-j", chains.ext)
            .endLine();
      }
      nat_rules_.words("-A", kNodePortsChain, "-m", "comment", "--comment", spn);
      protoMatch(nat_rules_);
      nat_rules_.word("--dport").decimal(port.node_port).words("-j", chains.ext).endLine();
    }
    if (!has_external) {
      filter_rules_.words("-A", kExternalServicesChain, "-m", "comment", "--comment", external_filter_comment, "-m",
                          "addrtype", "--dst-type", "LOCAL");
      protoMatch(filter_rules_);
      filter_rules_.word("--dport").decimal(port.node_port).words("-j", external_filter_target).endLine();
    }
  }

  // Health-check node port: accepted whether or not there are local endpoints.
  if (port.health_check_node_port != 0) {
    filter_rules_.words("-A", kNodePortsChain, "-m", "comment", "--comment")
        .joined("\"", spn, " health check node port\"")
        .words("-m", "tcp", "-p", "tcp", "--dport")
        .decimal(port.health_check_node_port)
        .words("-j", "ACCEPT")
        .endLine();
  }

  // The service's own chains: in a partial sync, left out unless the service changed (they are
  // still counted, and still active so they are not deleted as stale).
  if (previous) {
    if (collect_active_) {
      for (const ChainName& chain : previous->chains) plan_.active_nat_chains.emplace_back(chain.view());
    }
    skipped_rule_lines_from_previous_ += previous->rule_lines;
    if (in_.record_service_chains != nullptr) {
      in_.record_service_chains->emplace_hint(in_.record_service_chains->end(), port.name, std::move(previous));
    }
    return;
  }
  LineBuffer* nat_chains = &nat_chains_;
  LineBuffer* nat_rules = &nat_rules_;
  const bool written = !own_chains_skipped;
  if (!written) {
    nat_chains = &skipped_chains_;
    nat_rules = &skipped_rules_;
  }
  std::shared_ptr<ServicePortChains> record;
  if (in_.record_service_chains != nullptr) {
    record = std::make_shared<ServicePortChains>();
    record->names = chains;
  }
  const size_t rule_lines_before = nat_rules->lines();
  auto declare = [&](const std::string& chain) {
    writeChainLine(*nat_chains, chain);
    if (collect_active_) plan_.active_nat_chains.push_back(chain);
    if (written) plan_.written_nat_chains.push_back(chain);
    if (record) record->chains.emplace_back(chain);
  };

  // Masquerade off-cluster traffic to the cluster IP (it may be routed here from outside).
  if (has_internal) {
    auto clusterIpMatch = [&](LineBuffer& buf) {
      buf.words("-A", *internal_chain, "-m", "comment", "--comment").joined("\"", spn, " cluster IP\"");
      protoMatch(buf);
      buf.word("-d").ip(port.cluster_ip).word("--dport").decimal(port.port);
    };
    if (s_.masquerade_all) {
      clusterIpMatch(*nat_rules);
      nat_rules->words("-j", kMarkMasqChain).endLine();
    } else if (s_.local_detector.implemented()) {
      clusterIpMatch(*nat_rules);
      writeWords(*nat_rules, s_.local_detector.ifNotLocal());
      nat_rules->words("-j", kMarkMasqChain).endLine();
    }
  }

  if (uses_ext) {
    declare(chains.ext);
    if (!port.external_policy_local) {
      // Endpoints may be on other nodes: masquerade so replies come back through this node.
      nat_rules->words("-A", chains.ext, "-m", "comment", "--comment")
          .joined("\"masquerade traffic for ", spn, " external destinations\"")
          .words("-j", kMarkMasqChain)
          .endLine();
    } else {
      if (s_.local_detector.implemented()) {
        // Pods reaching an external address get the cluster-wide endpoints, as if the packet had
        // gone out to the load balancer and come back.
        nat_rules->words("-A", chains.ext, "-m", "comment", "--comment")
            .joined("\"pod traffic for ", spn, " external destinations\"");
        writeWords(*nat_rules, s_.local_detector.ifLocal());
        nat_rules->words("-j", chains.svc).endLine();
      }
      // Traffic from the node itself has a local source address: masquerade and use the cluster chain.
      nat_rules->words("-A", chains.ext, "-m", "comment", "--comment")
          .joined("\"masquerade LOCAL traffic for ", spn, " external destinations\"")
          .words("-m", "addrtype", "--src-type", "LOCAL", "-j", kMarkMasqChain)
          .endLine();
      nat_rules->words("-A", chains.ext, "-m", "comment", "--comment")
          .joined("\"route LOCAL traffic for ", spn, " external destinations\"")
          .words("-m", "addrtype", "--src-type", "LOCAL", "-j", chains.svc)
          .endLine();
    }
    if (has_external) nat_rules->words("-A", chains.ext, "-j", *external_policy_chain).endLine();
  }

  if (uses_fw) {
    declare(chains.fw);
    bool allow_from_node = false;
    for (const auto& cidr : port.load_balancer_source_ranges) {
      nat_rules->words("-A", chains.fw, "-m", "comment", "--comment")
          .joined("\"", spn, " loadbalancer IP\"")
          .words("-s", cidr.toString(), "-j", chains.ext)
          .endLine();
      if (cidr.contains(s_.node_ip)) allow_from_node = true;
    }
    // A VIP that is also a local address makes node-originated requests arrive with the VIP as
    // their source: let those through too.
    if (allow_from_node) {
      for (const auto& vip : port.load_balancer_vips) {
        nat_rules->words("-A", chains.fw, "-m", "comment", "--comment")
            .joined("\"", spn, " loadbalancer IP\"")
            .word("-s")
            .ip(vip)
            .words("-j", chains.ext)
            .endLine();
      }
    }
    // No target on purpose: unmatched packets return and are dropped by KUBE-PROXY-FIREWALL.
    nat_rules->words("-A", chains.fw, "-m", "comment", "--comment")
        .joined("\"other traffic to ", spn, " will be dropped by KUBE-PROXY-FIREWALL\"")
        .endLine();
  }

  if (uses_cluster_chain) {
    declare(chains.svc);
    writeServiceToEndpointRules(*nat_rules, port, chains.svc, cat.cluster);
  }
  if (uses_local_chain) {
    declare(chains.svl);
    writeServiceToEndpointRules(*nat_rules, port, chains.svl, cat.local);
  }

  for (const auto& ep : cat.reachable) {
    const std::string& sep = sepChain(port, protocol, *ep);
    declare(sep);
    // Hairpin: a pod reaching itself through the service must be masqueraded.
    nat_rules->words("-A", sep);
    endpointComment(*nat_rules, spn);
    nat_rules->words("-s", ep->ipText(), "-j", kMarkMasqChain).endLine();
    nat_rules->words("-A", sep);
    endpointComment(*nat_rules, spn);
    if (port.session_affinity_client_ip) nat_rules->words("-m", "recent", "--name", sep, "--set");
    protoMatch(*nat_rules);
    nat_rules->words("-j", "DNAT", "--to-destination", ep->endpoint).endLine();
  }
  if (record) {
    record->rule_lines = nat_rules->lines() - rule_lines_before;
    in_.record_service_chains->emplace_hint(in_.record_service_chains->end(), port.name, std::move(record));
  }
}

void Planner::writeServiceToEndpointRules(LineBuffer& rules, const ServicePortInfo& port, std::string_view chain,
                                          const EndpointRefs& endpoints) {
  const std::string protocol = api::protocolLowerName(port.protocol);
  std::string spn_scratch;
  const std::string& spn = commentName(port, spn_scratch);
  if (port.session_affinity_client_ip) {
    for (const auto& ep : endpoints) {
      const std::string& sep = sepChain(port, protocol, *ep);
      rules.words("-A", chain);
      endpointComment(rules, spn, " -> ", ep->endpoint, true);
      rules.words("-m", "recent", "--name", sep, "--rcheck", "--seconds")
          .decimal(port.sticky_max_age_seconds)
          .words("--reap", "-j", sep)
          .endLine();
    }
  }
  const size_t n = endpoints.size();
  for (size_t i = 0; i < n; ++i) {
    const EndpointInfo& ep = *endpoints[i];
    rules.words("-A", chain);
    endpointComment(rules, spn, " -> ", ep.endpoint, true);
    if (i + 1 < n) rules.words("-m", "statistic", "--mode", "random", "--probability", probability(n - i));
    rules.words("-j", sepChain(port, protocol, ep)).endLine();
  }
}

}  // namespace

IptablesPlan planIptables(const PlanInput& input) { return Planner(input).run(); }

std::string IptablesPlan::payload() const {
  std::string out;
  out.reserve(payloadSize());
  for (auto piece : payloadPieces()) out.append(piece);
  return out;
}

size_t IptablesPlan::payloadSize() const {
  size_t n = 0;
  for (auto piece : payloadPieces()) n += piece.size();
  return n;
}

ChainNameSet natChainsAfter(const ChainNameSet& before, const IptablesPlan& plan) {
  ChainNameSet after = before;
  after.update(plan.written_nat_chains, plan.deleted_nat_chains);
  return after;
}

}  // namespace kproxy::iptables
