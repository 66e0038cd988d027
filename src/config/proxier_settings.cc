#include "src/config/proxier_settings.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

namespace kproxy::config {
namespace {

std::vector<std::string> splitComma(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

// upstream MapCIDRsByIPFamily(...)[family][0]: the first CIDR of the family, canonical.
std::optional<Cidr> firstCidrOfFamily(const std::vector<std::string>& texts, IpFamily family) {
  for (const auto& text : texts) {
    auto cidr = Cidr::parseSloppy(text);
    if (cidr.ok() && cidr->family() == family) return *cidr;
  }
  return std::nullopt;
}

}  // namespace

std::vector<std::string> LocalTrafficDetector::ifLocal() const {
  switch (kind) {
    case Kind::kCidr:
      return {"-s", value};
    case Kind::kBridgeInterface:
      return {"-i", value};
    case Kind::kInterfaceNamePrefix:
      return {"-i", value + "+"};
    case Kind::kNone:
      break;
  }
  return {};
}

std::vector<std::string> LocalTrafficDetector::ifNotLocal() const {
  auto words = ifLocal();
  if (!words.empty()) words.insert(words.begin(), "!");
  return words;
}

std::vector<IpAddress> NodePortAddresses::nodeIps(const std::vector<InterfaceAddress>& local_addresses) const {
  std::set<IpAddress> found;
  for (const auto& cidr : cidrs) {
    for (const auto& addr : local_addresses) {
      if (cidr.contains(addr.ip)) found.insert(addr.ip);
    }
  }
  return {found.begin(), found.end()};
}

std::vector<IpAddress> nodeHostIps(const api::Node& node) {
  std::vector<IpAddress> all;
  for (const char* type : {"InternalIP", "ExternalIP"}) {
    for (const auto& addr : node.addresses) {
      if (addr.type != type) continue;
      auto ip = IpAddress::parseSloppy(addr.address);
      if (ip.ok()) all.push_back(*ip);
    }
  }
  std::vector<IpAddress> out;
  if (all.empty()) return out;
  out.push_back(all[0]);
  for (const auto& ip : all) {
    if (ip.family() != all[0].family()) {
      out.push_back(ip);
      break;
    }
  }
  return out;
}

std::string formatMasqueradeMark(int bit) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%08x", 1u << bit);
  return buf;
}

Result<SettingsResult> buildProxierSettings(const KubeProxyConfiguration& config, IpFamily family,
                                            const std::string& node_name, const api::Node* node,
                                            const NodeFacts& facts) {
  SettingsResult result;
  ProxierSettings& s = result.settings;
  s.family = family;
  s.node_name = node_name;
  s.facts = facts;
  if (node != nullptr) s.node_labels = node->meta.labels;

  const bool nftables = config.effectiveMode() == "nftables";
  const bool ipvs = config.effectiveMode() == "ipvs";
  s.masquerade_mark = formatMasqueradeMark(nftables ? config.nftables.masquerade_bit : config.iptables.masquerade_bit);
  s.masquerade_all = nftables ? config.nftables.masquerade_all : config.iptables.masquerade_all;
  s.sync_period = ipvs ? config.ipvs.sync_period : (nftables ? config.nftables.sync_period : config.iptables.sync_period);
  s.prefer_same_node = featureEnabled(config, kPreferSameTrafficDistribution);

  // Node IPs (upstream detectNodeIPs): loopback unless the Node says otherwise; a bindAddress
  // that is not 0.0.0.0/:: overrides the primary family's.
  IpAddress v4 = *IpAddress::parse("127.0.0.1");
  IpAddress v6 = *IpAddress::parse("::1");
  if (node != nullptr) {
    for (const auto& ip : nodeHostIps(*node)) (ip.isV4() ? v4 : v6) = ip;
  }
  if (auto bind = IpAddress::parseSloppy(config.bind_address); bind.ok() && !bind->isUnspecified()) {
    (bind->isV4() ? v4 : v6) = *bind;
  }
  s.node_ip = family == IpFamily::kIPv4 ? v4 : v6;
  if (s.node_ip.isLoopback()) {
    result.warnings.push_back("can't determine this node's " + std::string(ipFamilyName(family)) +
                              " address (no Node object \"" + node_name +
                              "\" with addresses), assuming loopback; set bindAddress to override");
  }

  // --nodeport-addresses (upstream NewNodePortAddresses), with "primary" meaning the node IPs.
  // upstream server.go: only a known (non-loopback) node IP of a family is used; a family without
  // one falls back below to matching every address.
  std::vector<std::string> npa_texts = config.node_port_addresses;
  if (npa_texts.size() == 1 && npa_texts[0] == "primary") {
    npa_texts.clear();
    if (!v4.isLoopback()) npa_texts.push_back(v4.toString() + "/32");
    if (!v6.isLoopback()) npa_texts.push_back(v6.toString() + "/128");
  }
  NodePortAddresses& npa = s.node_port_addresses;
  npa.cidrs.clear();
  npa.match_all = false;
  npa.contains_ipv4_loopback = false;
  std::vector<Cidr> family_cidrs;
  for (const auto& text : npa_texts) {
    auto cidr = Cidr::parseSloppy(text);
    if (!cidr.ok()) return Error("nodePortAddresses: " + cidr.error().message);
    if (cidr->family() == family) family_cidrs.push_back(*cidr);
  }
  if (family_cidrs.empty()) {
    family_cidrs.push_back(family == IpFamily::kIPv4 ? *Cidr::parse("0.0.0.0/0") : *Cidr::parse("::/0"));
  }
  const IpAddress loopback_start = *IpAddress::parse("127.0.0.0");
  for (const auto& cidr : family_cidrs) {
    if (cidr.family() == IpFamily::kIPv4 && (cidr.address().isLoopback() || cidr.contains(loopback_start))) {
      npa.contains_ipv4_loopback = true;
    }
    if (cidr.prefixLength() == 0) {
      npa.cidrs = {cidr};
      npa.match_all = true;
      break;
    }
    npa.cidrs.push_back(cidr);
  }
  // upstream: localhost node ports only for IPv4, and only if nodePortAddresses allows loopback.
  s.localhost_node_ports = family == IpFamily::kIPv4 && config.iptables.localhost_node_ports &&
                           npa.contains_ipv4_loopback;

  // Local traffic detector.
  const std::string mode = config.effectiveDetectLocalMode();
  if (mode == "ClusterCIDR") {
    if (auto cidr = firstCidrOfFamily(splitComma(config.cluster_cidr), family)) {
      s.local_detector = {LocalTrafficDetector::Kind::kCidr, cidr->toString()};
    }
  } else if (mode == "NodeCIDR") {
    std::optional<Cidr> cidr;
    if (node != nullptr) cidr = firstCidrOfFamily(node->pod_cidrs, family);
    if (cidr) {
      s.local_detector = {LocalTrafficDetector::Kind::kCidr, cidr->toString()};
    } else {
      result.warnings.push_back("detectLocalMode NodeCIDR: Node \"" + node_name + "\" has no " +
                                std::string(ipFamilyName(family)) +
                                " podCIDR; rendering without a local-traffic detector");
    }
  } else if (mode == "BridgeInterface") {
    s.local_detector = {LocalTrafficDetector::Kind::kBridgeInterface, config.detect_local.bridge_interface};
  } else if (mode == "InterfaceNamePrefix") {
    s.local_detector = {LocalTrafficDetector::Kind::kInterfaceNamePrefix, config.detect_local.interface_name_prefix};
  }
  return result;
}

}  // namespace kproxy::config
