// KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1): the upstream configuration file,
// with upstream's field names (as YAML keys), v1alpha1 defaults and validation.
// Spec: ../shared/spec/ipvs-and-runtime.md §3.2 (fields, defaults) and §3.3 (decoding, validation).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/util/result.h"

namespace kproxy::config {

using Duration = std::chrono::nanoseconds;

// Go time.Duration text: "30s", "1m0s", "24h0m0s", "1.5h", "300ms", "0s" (and "0").
Result<Duration> parseDuration(std::string_view text);
// Formats the way Go's Duration.String() does ("30s", "1m0s", "24h0m0s", "0s", "1.5s").
std::string formatDuration(Duration d);

struct ClientConnectionConfiguration {
  std::string kubeconfig;
  std::string accept_content_types;
  std::string content_type = "application/vnd.kubernetes.protobuf";
  float qps = 5;
  int32_t burst = 10;
};

struct LoggingConfiguration {
  std::string format = "text";
  Duration flush_frequency = std::chrono::seconds(5);
  int32_t verbosity = 0;
  std::string vmodule;  // "pattern=N,..." (kept as text)
};

struct IPTablesConfiguration {
  int32_t masquerade_bit = 14;
  bool masquerade_all = false;
  bool localhost_node_ports = true;
  Duration sync_period = std::chrono::seconds(30);
  Duration min_sync_period = std::chrono::seconds(1);
};

struct IPVSConfiguration {
  Duration sync_period = std::chrono::seconds(30);
  Duration min_sync_period = Duration(0);
  std::string scheduler;  // "" means rr
  std::vector<std::string> exclude_cidrs;
  bool strict_arp = false;
  Duration tcp_timeout = Duration(0);
  Duration tcp_fin_timeout = Duration(0);
  Duration udp_timeout = Duration(0);
};

struct NFTablesConfiguration {
  int32_t masquerade_bit = 14;
  bool masquerade_all = false;
  Duration sync_period = std::chrono::seconds(30);
  Duration min_sync_period = std::chrono::seconds(1);
};

struct ConntrackConfiguration {
  int32_t max_per_core = 32768;
  int32_t min = 131072;
  Duration tcp_established_timeout = std::chrono::hours(24);
  Duration tcp_close_wait_timeout = std::chrono::hours(1);
  bool tcp_be_liberal = false;
  Duration udp_timeout = Duration(0);
  Duration udp_stream_timeout = Duration(0);
};

struct DetectLocalConfiguration {
  std::string bridge_interface;
  std::string interface_name_prefix;
};

struct KubeProxyConfiguration {
  std::map<std::string, bool> feature_gates;
  ClientConnectionConfiguration client_connection;
  LoggingConfiguration logging;
  std::string hostname_override;
  std::string bind_address = "0.0.0.0";
  std::string healthz_bind_address = "0.0.0.0:10256";
  std::string metrics_bind_address = "127.0.0.1:10249";
  bool bind_address_hard_fail = false;
  bool enable_profiling = false;
  std::string show_hidden_metrics_for_version;
  std::string mode;  // "" means iptables on Linux
  IPTablesConfiguration iptables;
  IPVSConfiguration ipvs;
  NFTablesConfiguration nftables;
  ConntrackConfiguration conntrack;
  int32_t oom_score_adj = -999;
  std::string detect_local_mode;  // "" means ClusterCIDR
  DetectLocalConfiguration detect_local;
  std::string cluster_cidr;  // one CIDR or a comma-separated dual-stack pair
  std::vector<std::string> node_port_addresses;
  Duration config_sync_period = std::chrono::minutes(15);
  std::string port_range;

  // The effective proxy mode: "iptables" when unset.
  std::string effectiveMode() const { return mode.empty() ? "iptables" : mode; }
  // The effective detect-local mode: "ClusterCIDR" when unset.
  std::string effectiveDetectLocalMode() const {
    return detect_local_mode.empty() ? "ClusterCIDR" : detect_local_mode;
  }
};

// Feature gates that change kube-proxy's output, with their v1.33 defaults. Unknown names are a
// validation error, as with upstream's gate parser.
struct FeatureGate {
  std::string_view name;
  bool default_value;
};
const std::vector<FeatureGate>& knownFeatureGates();
bool featureEnabled(const KubeProxyConfiguration& config, std::string_view gate);
inline constexpr char kPreferSameTrafficDistribution[] = "PreferSameTrafficDistribution";

// Decodes a configuration file (YAML or JSON). Strict first; on unknown or duplicate fields it
// retries leniently and reports the strict error as a warning, as upstream does. Defaults are
// applied to everything the file leaves out, and, as upstream's v1alpha1 defaulting does, to some
// explicit zero values (iptables.minSyncPeriod: 0s reads as 1s; healthzBindAddress: "" as the
// default address). `source` names the file in messages.
struct DecodedConfiguration {
  KubeProxyConfiguration config;
  std::vector<std::string> warnings;
};
Result<DecodedConfiguration> decodeConfiguration(std::string_view bytes, std::string_view source);

// Validates like upstream (all errors collected); each message has the shape
// "KubeProxyConfiguration.KubeProxyIPTablesConfiguration.MasqueradeBit: Invalid value: 32: must be within
// the range [0, 31]" (upstream's paths: the internal type's Go field names).
std::vector<Error> validateConfiguration(const KubeProxyConfiguration& config);

// Writes the configuration as a complete v1alpha1 YAML document (for --write-config-to).
std::string encodeConfiguration(const KubeProxyConfiguration& config);

// upstream platformApplyDefaults (Linux), the part that depends on the mode, applied once the mode
// is final (after --proxy-mode): nftables mode's nodePortAddresses default to the node's IPs.
void applyModeDefaults(KubeProxyConfiguration& config);

}  // namespace kproxy::config
