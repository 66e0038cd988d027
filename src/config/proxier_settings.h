// ProxierSettings: everything a mode's planner needs besides the snapshot, derived once from the
// configuration, this node's Node object and the node facts, for one IP family (what upstream's
// server code computes before it constructs a proxier: local-traffic detector, node IP,
// node-port addresses, masquerade mark, localhost node ports).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "src/api/objects.h"
#include "src/config/kube_proxy_configuration.h"
#include "src/config/node_facts.h"
#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::config {

// How "local" (pod) traffic is recognised (upstream LocalTrafficDetector).
struct LocalTrafficDetector {
  enum class Kind { kNone, kCidr, kBridgeInterface, kInterfaceNamePrefix };
  Kind kind = Kind::kNone;
  std::string value;  // CIDR text, bridge name, or prefix

  bool implemented() const { return kind != Kind::kNone; }
  // iptables match words: "-s CIDR", "-i BRIDGE", "-i PREFIX+" (and the negations).
  std::vector<std::string> ifLocal() const;
  std::vector<std::string> ifNotLocal() const;
};

// The --nodeport-addresses filter for one family (upstream NodePortAddresses).
struct NodePortAddresses {
  std::vector<Cidr> cidrs;  // this family only; {0.0.0.0/0} or {::/0} when unset
  bool match_all = true;
  bool contains_ipv4_loopback = true;

  // The node's addresses (from the node facts) inside any of the CIDRs, deduplicated, sorted.
  std::vector<IpAddress> nodeIps(const std::vector<InterfaceAddress>& local_addresses) const;
};

struct ProxierSettings {
  IpFamily family = IpFamily::kIPv4;
  std::string node_name;
  // The node's primary IP of this family (Node status.addresses, bindAddress overriding the
  // primary family), loopback when unknown, as upstream's detectNodeIPs.
  IpAddress node_ip;
  std::map<std::string, std::string> node_labels;
  std::string masquerade_mark;  // Go "%#08x" of 1<<masqueradeBit: "0x00004000"
  bool masquerade_all = false;
  bool localhost_node_ports = false;  // effective value for this family
  LocalTrafficDetector local_detector;
  NodePortAddresses node_port_addresses;
  NodeFacts facts;
  std::chrono::nanoseconds sync_period = std::chrono::seconds(30);
  bool prefer_same_node = false;  // PreferSameTrafficDistribution
};

// The node's host IPs as upstream's GetNodeHostIPs: InternalIPs then ExternalIPs, the first one,
// plus the first of the other family.
std::vector<IpAddress> nodeHostIps(const api::Node& node);

// Builds the settings for `family`. `node` is this node's Node object (null when unknown).
// Errors name the configuration field (e.g. a NodeCIDR detector on a Node without podCIDRs is not
// an error: upstream waits; kproxy renders without a detector and says so in `warnings`).
struct SettingsResult {
  ProxierSettings settings;
  std::vector<std::string> warnings;
};
Result<SettingsResult> buildProxierSettings(const KubeProxyConfiguration& config, IpFamily family,
                                            const std::string& node_name, const api::Node* node,
                                            const NodeFacts& facts);

// Go's fmt "%#08x".
std::string formatMasqueradeMark(int bit);

}  // namespace kproxy::config
