// Validation of KubeProxyConfiguration and kube-proxy's feature gates.
//
// upstream: pkg/proxy/apis/config/validation/validation.go Validate, run on the internal
// configuration after v1alpha1 defaulting, conversion and platform defaulting. Conversion picks
// one sync-period pair by mode (ipvs.* in ipvs mode, nftables.* in nftables mode, iptables.*
// otherwise), which is why the sync-period paths below have no section name. Messages are
// apimachinery field errors: "<path>: Invalid value: <value>: <detail>", the value printed the way
// field.Error does (strings %q, numbers and durations plain, maps and slices %#v).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/config/kube_proxy_configuration.h"
#include "src/util/ip.h"

namespace kproxy::config {
namespace {

// ---------------------------------------------------------------------------------------------
// Feature gates.

enum class Stage { kAlpha, kBeta, kGA, kSpecial };

struct GateSpec {
  std::string_view name;
  bool default_value;
  Stage stage;
  bool locked_to_default;
};

// upstream v1.33: pkg/features/kube_features.go (the gates pkg/proxy reads) and
// component-base/logs/api/v1 (the logging gates logsapi.Validate reads), plus featuregate's
// AllAlpha/AllBeta. Sorted by name. kube-proxy itself accepts every gate of the Kubernetes
// binary; kproxy knows only the ones that change what it does.
constexpr GateSpec kGates[] = {
    {"AllAlpha", false, Stage::kSpecial, false},
    {"AllBeta", false, Stage::kSpecial, false},
    {"ContextualLogging", true, Stage::kBeta, false},
    {"LoadBalancerIPMode", true, Stage::kGA, true},
    {"LoggingAlphaOptions", false, Stage::kAlpha, false},
    {"LoggingBetaOptions", true, Stage::kBeta, false},
    {"NFTablesProxyMode", true, Stage::kGA, true},
    {"PreferSameTrafficDistribution", false, Stage::kAlpha, false},
    {"ServiceTrafficDistribution", true, Stage::kGA, true},
    {"TopologyAwareHints", true, Stage::kGA, true},
};

const GateSpec* findGate(std::string_view name) {
  for (const auto& g : kGates) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

// upstream: featuregate.SetFromMap. Go walks the map in random order and stops at the first
// unknown gate; kproxy walks it sorted so the message is stable.
std::optional<std::string> setFromMapError(const std::map<std::string, bool>& gates) {
  std::vector<std::string> errs;
  for (const auto& [name, value] : gates) {
    const GateSpec* spec = findGate(name);
    if (spec == nullptr) {
      errs.push_back("unrecognized feature gate: " + name);
      break;
    }
    if (spec->locked_to_default && spec->default_value != value) {
      errs.push_back("cannot set feature gate " + name + " to " + (value ? "true" : "false") +
                     ", feature is locked to " + (spec->default_value ? "true" : "false"));
    }
  }
  if (errs.empty()) return std::nullopt;
  if (errs.size() == 1) return errs[0];
  // upstream: utilerrors.NewAggregate(...).Error()
  std::string joined;
  for (const auto& e : errs) joined += (joined.empty() ? "" : ", ") + e;
  return "[" + joined + "]";
}

// ---------------------------------------------------------------------------------------------
// Go's printing of values.

// go: strconv.Quote (non-ASCII code points are taken as printable).
std::string goQuote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      // Copy a well-formed UTF-8 sequence; escape a stray byte as \xNN.
      int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
      bool ok = len > 0 && i + len <= s.size();
      for (int k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
      if (ok) {
        out.append(s.substr(i, len));
        i += len;
      } else {
        out += "\\x";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

// go: fmt %#v of a []string.
std::string goStringSlice(const std::vector<std::string>& list) {
  std::string out = "[]string{";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + goQuote(list[i]);
  return out + "}";
}

// go: fmt %#v of a map[string]bool (keys sorted).
std::string goBoolMap(const std::map<std::string, bool>& m) {
  std::string out = "map[string]bool{";
  bool first = true;
  for (const auto& [k, v] : m) {
    out += (first ? "" : ", ") + goQuote(k) + ":" + (v ? "true" : "false");
    first = false;
  }
  return out + "}";
}

// ---------------------------------------------------------------------------------------------
// Parsing as upstream's helpers do.

// k8s.io/utils/net ParseIPSloppy / ParseCIDRSloppy: no whitespace allowed around the text.
bool hasOuterSpace(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  return !s.empty() && (space(s.front()) || space(s.back()));
}
std::optional<IpAddress> parseIpSloppy(std::string_view s) {
  if (hasOuterSpace(s)) return std::nullopt;
  auto ip = IpAddress::parseSloppy(s);
  if (!ip.ok()) return std::nullopt;
  return *ip;
}
std::optional<Cidr> parseCidrSloppy(std::string_view s) {
  if (hasOuterSpace(s)) return std::nullopt;
  auto cidr = Cidr::parseSloppy(s);
  if (!cidr.ok()) return std::nullopt;
  return *cidr;
}

// go: strconv.Atoi (64-bit int).
std::optional<int64_t> goAtoi(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  const uint64_t limit = neg ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (limit - static_cast<uint64_t>(c - '0')) / 10) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

// go: net.SplitHostPort.
bool splitHostPort(std::string_view hostport, std::string& host, std::string& port) {
  size_t i = hostport.rfind(':');
  if (i == std::string_view::npos) return false;
  size_t j = 0, k = 0;
  if (hostport[0] == '[') {
    size_t end = hostport.find(']');
    if (end == std::string_view::npos || end + 1 != i) return false;
    host = std::string(hostport.substr(1, end - 1));
    j = 1;
    k = end + 1;
  } else {
    host = std::string(hostport.substr(0, i));
    if (host.find(':') != std::string::npos) return false;
  }
  if (hostport.find('[', j) != std::string_view::npos) return false;
  if (hostport.find(']', k) != std::string_view::npos) return false;
  port = std::string(hostport.substr(i + 1));
  return true;
}

// upstream: k8s.io/apimachinery/pkg/util/net PortRange.Set.
bool validPortRange(std::string_view value) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!value.empty() && space(value.front())) value.remove_prefix(1);
  while (!value.empty() && space(value.back())) value.remove_suffix(1);
  if (value.empty()) return true;
  size_t hyphen = value.find('-');
  size_t plus = value.find('+');
  std::optional<int64_t> low, high;
  if (hyphen == std::string_view::npos && plus == std::string_view::npos) {
    low = high = goAtoi(value);
  } else if (plus == std::string_view::npos) {
    low = goAtoi(value.substr(0, hyphen));
    high = goAtoi(value.substr(hyphen + 1));
  } else if (hyphen == std::string_view::npos) {
    low = goAtoi(value.substr(0, plus));
    auto offset = goAtoi(value.substr(plus + 1));
    if (low && offset) {
      if ((*offset > 0 && *low > std::numeric_limits<int64_t>::max() - *offset) ||
          (*offset < 0 && *low < std::numeric_limits<int64_t>::min() - *offset)) {
        return false;  // go: wraps around; such a range is never valid anyway
      }
      high = *low + *offset;
    }
  } else {
    return false;  // only one of '-' or '+' allowed
  }
  if (!low || !high) return false;
  if (*low > 65535 || *high > 65535) return false;
  return *high >= *low;
}

// The current release for --show-hidden-metrics-for-version: kproxy tracks v1.33.
constexpr int kVersionMajor = 1;
constexpr int kVersionMinor = 33;

class Errors {
 public:
  void invalid(const std::string& path, const std::string& value, std::string_view detail) {
    list_.emplace_back(path + ": Invalid value: " + value + ": " + std::string(detail));
  }
  void add(std::string message) { list_.emplace_back(std::move(message)); }
  std::vector<Error> take() { return std::move(list_); }

 private:
  std::vector<Error> list_;
};

void validateDuration(Errors& errs, const std::string& path, Duration d) {
  if (d < Duration(0)) errs.invalid(path, formatDuration(d), "must be greater than or equal to 0");
}

void validateHostPort(Errors& errs, const std::string& path, const std::string& input) {
  std::string host, port;
  if (!splitHostPort(input, host, port)) {
    errs.invalid(path, goQuote(input), "must be IP:port");
    return;
  }
  if (!parseIpSloppy(host)) errs.invalid(path, goQuote(host), "must be a valid IP");
  auto p = goAtoi(port);
  if (!p || *p < 1 || *p > 65535) errs.invalid(path, goQuote(port), "must be a valid port");
}

// upstream: component-base/logs/api/v1 Validate. (The format options are accepted by the decoder
// but not kept, so there is nothing to check for them.)
void validateLogging(Errors& errs, const KubeProxyConfiguration& c, const std::string& path) {
  const LoggingConfiguration& l = c.logging;
  if (l.format != "text" && l.format != "json") {
    errs.invalid(path + ".format", goQuote(l.format), "Unsupported log format");
  } else if (l.format == "json" && !featureEnabled(c, "LoggingBetaOptions")) {
    errs.add(path + ".format: Forbidden: Log format json is disabled, see LoggingBetaOptions feature");
  }
  if (l.vmodule.empty()) return;
  if (l.format != "" && l.format != "text") {
    errs.add(path + ".vmodule: Forbidden: Only supported for text log format");
  }
  // kproxy keeps vmodule as the flag's text; upstream's VModuleConfiguration.Set parses it.
  size_t start = 0;
  int index = 0;
  while (true) {
    size_t comma = l.vmodule.find(',', start);
    std::string item = l.vmodule.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    std::string item_path = path + ".vmodule[" + std::to_string(index) + "]";
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      errs.invalid(path + ".vmodule", goQuote(l.vmodule), goQuote(item) + " does not have the pattern=N format");
    } else {
      auto level = goAtoi(item.substr(eq + 1));
      if (eq == 0) errs.add(item_path + ": Required value: File pattern must not be empty");
      if (!level || *level < 0 || *level > std::numeric_limits<int32_t>::max()) {
        errs.invalid(path + ".vmodule", goQuote(l.vmodule), "parsing verbosity in " + goQuote(item));
      }
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
    ++index;
  }
}

}  // namespace

const std::vector<FeatureGate>& knownFeatureGates() {
  static const std::vector<FeatureGate> gates = [] {
    std::vector<FeatureGate> out;
    for (const auto& g : kGates) out.push_back({g.name, g.default_value});
    return out;
  }();
  return gates;
}

bool featureEnabled(const KubeProxyConfiguration& config, std::string_view gate) {
  if (auto it = config.feature_gates.find(std::string(gate)); it != config.feature_gates.end()) return it->second;
  const GateSpec* spec = findGate(gate);
  if (spec == nullptr) return false;
  // upstream: AllAlpha / AllBeta set every alpha / beta gate that is not set explicitly.
  auto special = [&](const char* name) -> std::optional<bool> {
    auto it = config.feature_gates.find(name);
    if (it == config.feature_gates.end()) return std::nullopt;
    return it->second;
  };
  if (spec->stage == Stage::kAlpha) {
    if (auto v = special("AllAlpha")) return *v;
  }
  if (spec->stage == Stage::kBeta) {
    if (auto v = special("AllBeta")) return *v;
  }
  return spec->default_value;
}

std::vector<Error> validateConfiguration(const KubeProxyConfiguration& c) {
  Errors errs;
  const std::string root = "KubeProxyConfiguration";
  const std::string mode = c.effectiveMode();

  if (auto err = setFromMapError(c.feature_gates)) {
    errs.invalid(root + ".featureGates", goBoolMap(c.feature_gates), *err);
  }

  if (c.iptables.masquerade_bit < 0 || c.iptables.masquerade_bit > 31) {
    errs.invalid(root + ".KubeProxyIPTablesConfiguration.MasqueradeBit", std::to_string(c.iptables.masquerade_bit),
                 "must be within the range [0, 31]");
  }
  if (mode == "ipvs") {
    const std::string ipvs = root + ".KubeProxyIPVSConfiguration";
    validateDuration(errs, ipvs + ".TCPTimeout", c.ipvs.tcp_timeout);
    validateDuration(errs, ipvs + ".TCPFinTimeout", c.ipvs.tcp_fin_timeout);
    validateDuration(errs, ipvs + ".UDPTimeout", c.ipvs.udp_timeout);
    for (size_t i = 0; i < c.ipvs.exclude_cidrs.size(); ++i) {
      if (!parseCidrSloppy(c.ipvs.exclude_cidrs[i])) {
        errs.invalid(ipvs + ".ExcludeCidrs[" + std::to_string(i) + "]", goQuote(c.ipvs.exclude_cidrs[i]),
                     "must be a valid CIDR");
      }
    }
  } else if (mode == "nftables") {
    if (c.nftables.masquerade_bit < 0 || c.nftables.masquerade_bit > 31) {
      errs.invalid(root + ".KubeProxyNFTablesConfiguration.MasqueradeBit", std::to_string(c.nftables.masquerade_bit),
                   "must be within the range [0, 31]");
    }
  }

  const std::string linux_path = root + ".KubeProxyLinuxConfiguration";
  const std::string conntrack = linux_path + ".KubeProxyConntrackConfiguration";
  if (c.conntrack.max_per_core < 0) {
    errs.invalid(conntrack + ".MaxPerCore", std::to_string(c.conntrack.max_per_core),
                 "must be greater than or equal to 0");
  }
  if (c.conntrack.min < 0) {
    errs.invalid(conntrack + ".Min", std::to_string(c.conntrack.min), "must be greater than or equal to 0");
  }
  validateDuration(errs, conntrack + ".TCPEstablishedTimeout", c.conntrack.tcp_established_timeout);
  validateDuration(errs, conntrack + ".TCPCloseWaitTimeout", c.conntrack.tcp_close_wait_timeout);
  validateDuration(errs, conntrack + ".UDPTimeout", c.conntrack.udp_timeout);
  validateDuration(errs, conntrack + ".UDPStreamTimeout", c.conntrack.udp_stream_timeout);
  if (c.oom_score_adj < -1000 || c.oom_score_adj > 1000) {
    errs.invalid(linux_path + ".OOMScoreAdj", std::to_string(c.oom_score_adj),
                 "must be within the range [-1000, 1000]");
  }

  // upstream: validateProxyModeLinux; NFTablesProxyMode is GA and locked on in v1.33, and
  // sets.List sorts the names.
  if (!c.mode.empty() && c.mode != "iptables" && c.mode != "ipvs" && c.mode != "nftables") {
    errs.invalid(root + ".Mode.ProxyMode", goQuote(c.mode),
                 "must be iptables, ipvs, nftables or blank (blank means the best-available proxy [currently "
                 "iptables])");
  }

  if (c.client_connection.burst < 0) {
    errs.invalid(root + ".ClientConnection.Burst", std::to_string(c.client_connection.burst),
                 "must be greater than or equal to 0");
  }

  Duration sync_period = c.iptables.sync_period;
  Duration min_sync_period = c.iptables.min_sync_period;
  if (mode == "ipvs") {
    sync_period = c.ipvs.sync_period;
    min_sync_period = c.ipvs.min_sync_period;
  } else if (mode == "nftables") {
    sync_period = c.nftables.sync_period;
    min_sync_period = c.nftables.min_sync_period;
  }
  if (c.config_sync_period <= Duration(0)) {
    errs.invalid(root + ".ConfigSyncPeriod", formatDuration(c.config_sync_period), "must be greater than 0");
  }
  if (sync_period <= Duration(0)) {
    errs.invalid(root + ".SyncPeriod", formatDuration(sync_period), "must be greater than 0");
  }
  if (min_sync_period < Duration(0)) {
    errs.invalid(root + ".MinSyncPeriod", formatDuration(min_sync_period), "must be greater than or equal to 0");
  }
  if (min_sync_period > sync_period) {
    errs.invalid(root + ".SyncPeriod", formatDuration(min_sync_period),
                 "must be greater than or equal to " + root + ".MinSyncPeriod");
  }

  if (!parseIpSloppy(c.bind_address)) {
    errs.invalid(root + ".BindAddress", goQuote(c.bind_address), "not a valid textual representation of an IP address");
  }
  if (!c.healthz_bind_address.empty()) validateHostPort(errs, root + ".HealthzBindAddress", c.healthz_bind_address);
  validateHostPort(errs, root + ".MetricsBindAddress", c.metrics_bind_address);

  if (!validPortRange(c.port_range)) {
    errs.invalid(root + ".PortRange", goQuote(c.port_range), "must be a valid port range (e.g. 300-2000)");
  }

  const auto& npa = c.node_port_addresses;
  for (size_t i = 0; i < npa.size(); ++i) {
    std::string path = root + ".NodePortAddresses[" + std::to_string(i) + "]";
    if (npa[i] == "primary") {
      if (i != 0 || npa.size() != 1) errs.invalid(path, goQuote(npa[i]), "can't use both 'primary' and CIDRs");
      break;
    }
    if (!parseCidrSloppy(npa[i])) errs.invalid(path, goQuote(npa[i]), "must be a valid CIDR");
  }

  if (!c.show_hidden_metrics_for_version.empty()) {
    std::string valid = std::to_string(kVersionMajor) + "." + std::to_string(kVersionMinor - 1);
    if (c.show_hidden_metrics_for_version != valid) {
      errs.invalid(root + ".ShowHiddenMetricsForVersion", goQuote(c.show_hidden_metrics_for_version),
                   "--show-hidden-metrics-for-version must be omitted or have the value '" + valid +
                       "'. Only the previous minor version is allowed");
    }
  }

  const std::string& dlm = c.detect_local_mode;
  if (dlm != "" && dlm != "ClusterCIDR" && dlm != "NodeCIDR" && dlm != "BridgeInterface" &&
      dlm != "InterfaceNamePrefix") {
    errs.add(root + ".DetectLocalMode: Unsupported value: " + goQuote(dlm) +
             ": supported values: \"ClusterCIDR\", \"NodeCIDR\", \"BridgeInterface\", \"InterfaceNamePrefix\", \"\"");
  }
  const std::string detect_local = root + ".DetectLocalConfiguration";
  const std::string effective_dlm = c.effectiveDetectLocalMode();
  if (effective_dlm == "BridgeInterface" && c.detect_local.bridge_interface.empty()) {
    errs.invalid(detect_local + ".InterfaceName", "\"\"", "must not be empty");
  } else if (effective_dlm == "InterfaceNamePrefix" && c.detect_local.interface_name_prefix.empty()) {
    errs.invalid(detect_local + ".InterfacePrefix", "\"\"", "must not be empty");
  } else if (effective_dlm == "ClusterCIDR" && !c.cluster_cidr.empty()) {
    // upstream: conversion splits clusterCIDR on "," into DetectLocal.ClusterCIDRs.
    std::vector<std::string> cidrs;
    size_t start = 0;
    while (true) {
      size_t comma = c.cluster_cidr.find(',', start);
      cidrs.push_back(c.cluster_cidr.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    const std::string path = detect_local + ".ClusterCIDRs";
    const char* kPairMessage =
        "must be a either a single CIDR or dual-stack pair of CIDRs (e.g. [10.100.0.0/16, fde4:8dba:82e1::/48]";
    if (cidrs.size() > 2) {
      errs.invalid(path, goStringSlice(cidrs), kPairMessage);
    } else {
      std::vector<std::optional<Cidr>> parsed;
      for (size_t i = 0; i < cidrs.size(); ++i) {
        parsed.push_back(parseCidrSloppy(cidrs[i]));
        if (!parsed.back()) {
          errs.invalid(path + "[" + std::to_string(i) + "]", goQuote(cidrs[i]),
                       "must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48)");
        }
      }
      // upstream: netutils.IsDualStackCIDRStrings; no second error when a CIDR did not parse.
      if (parsed.size() == 2 && parsed[0] && parsed[1] && parsed[0]->family() == parsed[1]->family()) {
        errs.invalid(path, goStringSlice(cidrs), kPairMessage);
      }
    }
  }

  validateLogging(errs, c, root + ".logging");
  return errs.take();
}

}  // namespace kproxy::config
