// kube-proxy's flags. upstream: cmd/kube-proxy/app/options.go (AddFlags, Complete,
// processV1Alpha1Flags, processHostnameOverrideFlag, addressFromDeprecatedFlags), component-base
// logsapi.AddFlags and verflag; pflag's parsing rules.
//
// Parsing is two passes: a pflag-compatible scan turns the arguments into canonical tokens
// ("--name=value") and reports unknown flags, positional arguments and missing values the way
// pflag does (plus a "did you mean" hint); CLI11, on which the flag table is registered, then
// parses the canonical tokens and hands every value to the flag's setter. The scan exists because
// CLI11's own rules differ from pflag's in ways kubeadm's command lines reach: "--flag=" (an
// empty value), "-v=2", and bare booleans followed by an argument.
#include "src/config/flags.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>

#include "src/util/ip.h"

namespace kproxy::config {
namespace {

// ---------------------------------------------------------------------------------------------
// Value parsing with Go's rules and messages.

std::string goQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string trim(std::string_view s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  auto b = std::find_if(s.begin(), s.end(), not_space);
  auto e = std::find_if(s.rbegin(), s.rend(), not_space).base();
  return b < e ? std::string(b, e) : std::string();
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// strconv.ParseBool.
Result<bool> parseGoBool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") return false;
  return Error("strconv.ParseBool: parsing " + goQuote(s) + ": invalid syntax");
}

// strconv.ParseInt(s, 0, bits): sign, then 0x / 0o / 0b / 0 prefixes; '_' between digits with a
// prefix.
Result<int64_t> parseGoInt(const std::string& s, int bits) {
  auto syntax = [&] { return Error("strconv.ParseInt: parsing " + goQuote(s) + ": invalid syntax"); };
  std::string_view v = s;
  bool neg = false;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) {
    neg = v[0] == '-';
    v.remove_prefix(1);
  }
  if (v.empty()) return syntax();
  int base = 10;
  bool prefixed = false;
  if (v.size() > 1 && v[0] == '0') {
    const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(v[1])));
    if (p == 'x' || p == 'o' || p == 'b') {
      base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
      v.remove_prefix(2);
    } else {
      base = 8;
      v.remove_prefix(1);
    }
    prefixed = true;
  }
  if (v.empty() && base != 8) return syntax();
  unsigned __int128 value = 0;
  bool last_underscore = true;
  for (char c : v) {
    if (c == '_' && prefixed && !last_underscore) {
      last_underscore = true;
      continue;
    }
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    if (c >= 'a' && c <= 'z') d = c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') d = c - 'A' + 10;
    if (d < 0 || d >= base) return syntax();
    last_underscore = false;
    value = value * base + static_cast<unsigned>(d);
    if (value > (static_cast<unsigned __int128>(1) << 64)) value = static_cast<unsigned __int128>(1) << 64;
  }
  if (last_underscore && !v.empty()) return syntax();
  const unsigned __int128 limit = static_cast<unsigned __int128>(1) << (bits - 1);
  if ((!neg && value >= limit) || (neg && value > limit)) {
    return Error("strconv.ParseInt: parsing " + goQuote(s) + ": value out of range");
  }
  return neg ? -static_cast<int64_t>(value) : static_cast<int64_t>(value);
}

// strconv.ParseFloat(s, 32), the decimal forms kube-proxy's users write.
Result<float> parseGoFloat32(const std::string& s) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s.front()))) {
    return Error("strconv.ParseFloat: parsing " + goQuote(s) + ": invalid syntax");
  }
  errno = 0;
  char* end = nullptr;
  const float v = std::strtof(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return Error("strconv.ParseFloat: parsing " + goQuote(s) + ": invalid syntax");
  if (errno == ERANGE && std::isinf(v)) {
    return Error("strconv.ParseFloat: parsing " + goQuote(s) + ": value out of range");
  }
  return v;
}

// pflag's readAsCSV for string slices: comma-separated, "" is the empty list, double quotes
// group a field that holds commas.
Result<std::vector<std::string>> readAsCsv(const std::string& s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::string field;
  bool quoted = false, was_quoted = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (quoted) {
      if (c == '"' && i + 1 < s.size() && s[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field.push_back(c);
      }
    } else if (c == '"' && field.empty() && !was_quoted) {
      quoted = was_quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(field));
      field.clear();
      was_quoted = false;
    } else if (c == '"') {
      return Error("parse error on line 1, column " + std::to_string(i + 1) + ": bare \" in non-quoted-field");
    } else {
      field.push_back(c);
    }
  }
  if (quoted) return Error("parse error on line 1, column " + std::to_string(s.size()) + ": extraneous or missing \" in quoted-field");
  out.push_back(std::move(field));
  return out;
}

std::string joinCsv(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// net.SplitHostPort succeeds.
std::optional<std::pair<std::string, std::string>> splitHostPort(const std::string& s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = s.substr(0, colon);
  std::string port = s.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;
  }
  if (host.find_first_of("[]") != std::string::npos) return std::nullopt;
  return std::make_pair(host, port);
}

bool isIpSloppy(const std::string& s) {
  return !s.empty() && !std::isspace(static_cast<unsigned char>(s.front())) &&
         !std::isspace(static_cast<unsigned char>(s.back())) && IpAddress::parseSloppy(s).ok();
}

// ---------------------------------------------------------------------------------------------
// The flag table.

using Setter = std::function<Status(KubeProxyFlags&, const std::string& value, bool first)>;

struct FlagDef {
  std::string name;
  char shorthand = 0;
  bool is_bool = false;
  std::string default_text;
  std::string usage;
  Setter set;
  std::string deprecated;  // pflag MarkDeprecated message
  bool kproxy = false;     // kproxy's own extension
};

Setter boolSetter(bool KubeProxyFlags::*field) {
  return [field](KubeProxyFlags& f, const std::string& v, bool) -> Status {
    auto b = parseGoBool(v);
    if (!b.ok()) return b.error();
    f.*field = *b;
    return okStatus();
  };
}

template <typename Get>
Setter configBool(Get get) {
  return [get](KubeProxyFlags& f, const std::string& v, bool) -> Status {
    auto b = parseGoBool(v);
    if (!b.ok()) return b.error();
    get(f.config) = *b;
    return okStatus();
  };
}

template <typename Get>
Setter configString(Get get) {
  return [get](KubeProxyFlags& f, const std::string& v, bool) -> Status {
    get(f.config) = v;
    return okStatus();
  };
}

template <typename Get>
Setter configInt32(Get get) {
  return [get](KubeProxyFlags& f, const std::string& v, bool) -> Status {
    auto n = parseGoInt(v, 32);
    if (!n.ok()) return n.error();
    get(f.config) = static_cast<int32_t>(*n);
    return okStatus();
  };
}

template <typename Get>
Setter configDuration(Get get) {
  return [get](KubeProxyFlags& f, const std::string& v, bool) -> Status {
    auto d = parseDuration(v);
    if (!d.ok()) return d.error();
    get(f.config) = *d;
    return okStatus();
  };
}

Setter placeholderDuration(Duration KubeProxyFlags::*field) {
  return [field](KubeProxyFlags& f, const std::string& v, bool) -> Status {
    auto d = parseDuration(v);
    if (!d.ok()) return d.error();
    f.*field = *d;
    return okStatus();
  };
}

// pflag StringSlice: the first use replaces the default, later uses append.
template <typename Get>
Setter configStringSlice(Get get) {
  return [get](KubeProxyFlags& f, const std::string& v, bool first) -> Status {
    auto items = readAsCsv(v);
    if (!items.ok()) return items.error();
    std::vector<std::string>& out = get(f.config);
    if (first) out.clear();
    out.insert(out.end(), items->begin(), items->end());
    return okStatus();
  };
}

// utilflag.IPVar: "" leaves the value alone.
Setter ipSetter() {
  return [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
    if (v.empty()) return okStatus();
    if (!isIpSloppy(v)) return Error(goQuote(v) + " is not a valid IP address");
    f.config.bind_address = v;
    return okStatus();
  };
}

// utilflag.IPPortVar: "" (or blanks) disables; an IP alone or IP:port.
template <typename Get>
Setter ipPortSetter(Get get) {
  return [get](KubeProxyFlags& f, const std::string& v, bool) -> Status {
    if (trim(v).empty()) {
      get(f.config).clear();
      return okStatus();
    }
    if (isIpSloppy(v)) {
      get(f.config) = v;
      return okStatus();
    }
    auto hp = splitHostPort(v);
    if (!hp) return Error(goQuote(v) + " is not in a valid format (ip or ip:port)");
    if (!isIpSloppy(hp->first)) return Error(goQuote(hp->first) + " is not a valid IP address");
    auto port = parseGoInt(hp->second, 32);
    if (!port.ok() || *port < 0 || *port > 65535 || hp->second.empty() ||
        !std::all_of(hp->second.begin(), hp->second.end(), ::isdigit)) {
      return Error(goQuote(hp->second) + " is not a valid number");
    }
    get(f.config) = v;
    return okStatus();
  };
}

// cliflag.MapStringBool: "k=v,k2=v2"; repeated uses merge.
Setter featureGatesSetter() {
  return [](KubeProxyFlags& f, const std::string& v, bool first) -> Status {
    if (first) f.config.feature_gates.clear();
    std::stringstream ss(v);
    for (std::string item; std::getline(ss, item, ',');) {
      const std::string pair = trim(item);
      if (pair.empty() && v.empty()) break;
      const size_t eq = pair.find('=');
      if (eq == std::string::npos) return Error("malformed pair, expect string=bool");
      const std::string k = trim(pair.substr(0, eq));
      const std::string val = trim(pair.substr(eq + 1));
      auto b = parseGoBool(val);
      if (!b.ok()) return Error("invalid value of " + k + ": " + val + ", err: " + b.error().message);
      f.config.feature_gates[k] = *b;
    }
    return okStatus();
  };
}

// klog's verbosity: a non-negative 32-bit number.
Setter verbositySetter() {
  return [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
    if (v.empty() || !std::all_of(v.begin(), v.end(), ::isdigit)) {
      return Error("strconv.ParseUint: parsing " + goQuote(v) + ": invalid syntax");
    }
    auto n = parseGoInt(v, 33);
    if (!n.ok() || *n > INT32_MAX) return Error("strconv.ParseUint: parsing " + goQuote(v) + ": value out of range");
    f.config.logging.verbosity = static_cast<int32_t>(*n);
    return okStatus();
  };
}

// resource.QuantityValue (the buffer sizes): accepted and checked for shape only; kproxy's
// logger does not buffer.
Setter quantitySetter() {
  return [](KubeProxyFlags&, const std::string& v, bool) -> Status {
    static const char* kSuffixes[] = {"", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "m"};
    size_t i = 0;
    while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
    const std::string suffix = v.substr(i);
    const bool ok = i > 0 && std::any_of(std::begin(kSuffixes), std::end(kSuffixes),
                                         [&](const char* s) { return suffix == s; });
    if (!ok) return Error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    return okStatus();
  };
}

const std::vector<FlagDef>& flagTable() {
  using C = KubeProxyConfiguration;
  static const std::vector<FlagDef> table = [] {
    std::vector<FlagDef> t;
    auto add = [&](FlagDef d) { t.push_back(std::move(d)); };
    const std::string ignored = " This parameter is ignored if a config file is specified by --config.";
    add({"config", 0, false, "", "The path to the configuration file.",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           f.config_file = v;
           return okStatus();
         }});
    add({"write-config-to", 0, false, "", "If set, write the default configuration values to this file and exit.",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           f.write_config_to = v;
           return okStatus();
         }});
    add({"cleanup", 0, true, "false", "If true cleanup iptables and ipvs rules and exit.",
         boolSetter(&KubeProxyFlags::cleanup)});
    add({"feature-gates", 0, false, "",
         "A set of key=value pairs that describe feature gates for alpha/experimental features." + ignored,
         featureGatesSetter()});
    add({"kubeconfig", 0, false, "",
         "Path to kubeconfig file with authorization information (the master location can be overridden by the "
         "master flag).",
         configString([](C& c) -> std::string& { return c.client_connection.kubeconfig; })});
    add({"master", 0, false, "", "The address of the Kubernetes API server (overrides any value in kubeconfig)",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           f.master = v;
           return okStatus();
         }});
    add({"kube-api-content-type", 0, false, "application/vnd.kubernetes.protobuf",
         "Content type of requests sent to apiserver.",
         configString([](C& c) -> std::string& { return c.client_connection.content_type; })});
    add({"kube-api-burst", 0, false, "10", "Burst to use while talking with kubernetes apiserver",
         configInt32([](C& c) -> int32_t& { return c.client_connection.burst; })});
    add({"kube-api-qps", 0, false, "5", "QPS to use while talking with kubernetes apiserver",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           auto q = parseGoFloat32(v);
           if (!q.ok()) return q.error();
           f.config.client_connection.qps = *q;
           return okStatus();
         }});
    add({"hostname-override", 0, false, "",
         "If non-empty, will be used as the name of the Node that kube-proxy is running on. If unset, the node name "
         "is assumed to be the same as the node's hostname.",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           f.hostname_override = v;
           return okStatus();
         }});
    add({"bind-address", 0, false, "0.0.0.0",
         "Overrides kube-proxy's idea of what its node's primary IP is (no socket is bound to it)." + ignored,
         ipSetter()});
    add({"healthz-bind-address", 0, false, "0.0.0.0:10256",
         "The IP address and port for the health check server to serve on, defaulting to \"0.0.0.0:10256\"." + ignored,
         ipPortSetter([](C& c) -> std::string& { return c.healthz_bind_address; })});
    add({"metrics-bind-address", 0, false, "127.0.0.1:10249",
         "The IP address and port for the metrics server to serve on, defaulting to \"127.0.0.1:10249\". (Set to "
         "\"0.0.0.0:10249\" / \"[::]:10249\" to bind on all interfaces.) Set empty to disable." + ignored,
         ipPortSetter([](C& c) -> std::string& { return c.metrics_bind_address; })});
    add({"bind-address-hard-fail", 0, true, "false",
         "If true kube-proxy will treat failure to bind to a port as fatal and exit",
         configBool([](C& c) -> bool& { return c.bind_address_hard_fail; })});
    add({"profiling", 0, true, "false",
         "If true enables profiling via web interface on /debug/pprof handler (kproxy: accepted, not served)." +
             ignored,
         configBool([](C& c) -> bool& { return c.enable_profiling; })});
    add({"show-hidden-metrics-for-version", 0, false, "",
         "The previous version for which you want to show hidden metrics (format <major>.<minor>)." + ignored,
         configString([](C& c) -> std::string& { return c.show_hidden_metrics_for_version; })});
    add({"init-only", 0, true, "false",
         "If true, perform any initialization steps that must be done with full root privileges, and then exit.",
         boolSetter(&KubeProxyFlags::init_only)});
    add({"proxy-mode", 0, false, "",
         "Which proxy mode to use: on Linux this can be 'iptables' (default), 'ipvs', or 'nftables'." + ignored,
         configString([](C& c) -> std::string& { return c.mode; })});
    add({"iptables-masquerade-bit", 0, false, "14",
         "If using the iptables or ipvs proxy mode, the bit of the fwmark space to mark packets requiring SNAT with. "
         "Must be within the range [0, 31].",
         configInt32([](C& c) -> int32_t& { return c.iptables.masquerade_bit; })});
    add({"masquerade-all", 0, true, "false",
         "SNAT all traffic sent via Service cluster IPs. This may be required with some CNI plugins.",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           auto b = parseGoBool(v);
           if (!b.ok()) return b.error();
           // upstream: one internal field, written to nftables.* in nftables mode, iptables.* otherwise.
           f.config.iptables.masquerade_all = *b;
           f.config.nftables.masquerade_all = *b;
           return okStatus();
         }});
    add({"iptables-localhost-nodeports", 0, true, "true",
         "If false, kube-proxy will disable the legacy behavior of allowing NodePort services to be accessed via "
         "localhost. (Applies only to iptables mode and IPv4.)",
         configBool([](C& c) -> bool& { return c.iptables.localhost_node_ports; })});
    add({"iptables-sync-period", 0, false, "30s",
         "An interval (e.g. '5s', '1m', '2h22m') indicating how frequently various re-synchronizing and cleanup "
         "operations are performed. Must be greater than 0.",
         placeholderDuration(&KubeProxyFlags::iptables_sync_period)});
    add({"iptables-min-sync-period", 0, false, "1s",
         "The minimum period between iptables rule resyncs (e.g. '5s', '1m', '2h22m'). A value of 0 means every "
         "Service or EndpointSlice change will result in an immediate iptables resync.",
         placeholderDuration(&KubeProxyFlags::iptables_min_sync_period)});
    add({"ipvs-sync-period", 0, false, "30s",
         "An interval (e.g. '5s', '1m', '2h22m') indicating how frequently various re-synchronizing and cleanup "
         "operations are performed. Must be greater than 0.",
         placeholderDuration(&KubeProxyFlags::ipvs_sync_period)});
    add({"ipvs-min-sync-period", 0, false, "1s",
         "The minimum period between IPVS rule resyncs (e.g. '5s', '1m', '2h22m'). A value of 0 means every Service "
         "or EndpointSlice change will result in an immediate IPVS resync.",
         placeholderDuration(&KubeProxyFlags::ipvs_min_sync_period)});
    add({"ipvs-scheduler", 0, false, "", "The ipvs scheduler type when proxy mode is ipvs",
         configString([](C& c) -> std::string& { return c.ipvs.scheduler; })});
    add({"ipvs-exclude-cidrs", 0, false, "[]",
         "A comma-separated list of CIDRs which the ipvs proxier should not touch when cleaning up IPVS rules.",
         configStringSlice([](C& c) -> std::vector<std::string>& { return c.ipvs.exclude_cidrs; })});
    add({"ipvs-strict-arp", 0, true, "false", "Enable strict ARP by setting arp_ignore to 1 and arp_announce to 2",
         configBool([](C& c) -> bool& { return c.ipvs.strict_arp; })});
    add({"ipvs-tcp-timeout", 0, false, "0s",
         "The timeout for idle IPVS TCP connections, 0 to leave as-is. (e.g. '5s', '1m', '2h22m').",
         configDuration([](C& c) -> Duration& { return c.ipvs.tcp_timeout; })});
    add({"ipvs-tcpfin-timeout", 0, false, "0s",
         "The timeout for IPVS TCP connections after receiving a FIN packet, 0 to leave as-is. (e.g. '5s', '1m', "
         "'2h22m').",
         configDuration([](C& c) -> Duration& { return c.ipvs.tcp_fin_timeout; })});
    add({"ipvs-udp-timeout", 0, false, "0s",
         "The timeout for IPVS UDP packets, 0 to leave as-is. (e.g. '5s', '1m', '2h22m').",
         configDuration([](C& c) -> Duration& { return c.ipvs.udp_timeout; })});
    add({"detect-local-mode", 0, false, "", "Mode to use to detect local traffic." + ignored,
         configString([](C& c) -> std::string& { return c.detect_local_mode; })});
    add({"pod-bridge-interface", 0, false, "",
         "A bridge interface name. When --detect-local-mode is set to BridgeInterface, kube-proxy will consider "
         "traffic to be local if it originates from this bridge.",
         configString([](C& c) -> std::string& { return c.detect_local.bridge_interface; })});
    add({"pod-interface-name-prefix", 0, false, "",
         "An interface name prefix. When --detect-local-mode is set to InterfaceNamePrefix, kube-proxy will "
         "consider traffic to be local if it originates from any interface whose name begins with this prefix.",
         configString([](C& c) -> std::string& { return c.detect_local.interface_name_prefix; })});
    add({"cluster-cidr", 0, false, "",
         "The CIDR range of the pods in the cluster (a comma-separated dual-stack pair is allowed). When "
         "--detect-local-mode is set to ClusterCIDR, kube-proxy will consider traffic to be local if its source IP "
         "is in this range." + ignored,
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           f.cluster_cidrs = v;
           return okStatus();
         }});
    add({"nodeport-addresses", 0, false, "[]",
         "A list of CIDR ranges that contain valid node IPs, or alternatively, the single string 'primary'. If "
         "unset, NodePort connections will be accepted on all local IPs." + ignored,
         configStringSlice([](C& c) -> std::vector<std::string>& { return c.node_port_addresses; })});
    add({"oom-score-adj", 0, false, "-999",
         "The oom-score-adj value for kube-proxy process. Values must be within the range [-1000, 1000]." + ignored,
         configInt32([](C& c) -> int32_t& { return c.oom_score_adj; })});
    add({"conntrack-max-per-core", 0, false, "32768",
         "Maximum number of NAT connections to track per CPU core (0 to leave the limit as-is and ignore "
         "conntrack-min).",
         configInt32([](C& c) -> int32_t& { return c.conntrack.max_per_core; })});
    add({"conntrack-min", 0, false, "131072",
         "Minimum number of conntrack entries to allocate, regardless of conntrack-max-per-core (set "
         "conntrack-max-per-core=0 to leave the limit as-is).",
         configInt32([](C& c) -> int32_t& { return c.conntrack.min; })});
    add({"conntrack-tcp-timeout-established", 0, false, "24h0m0s",
         "Idle timeout for established TCP connections (0 to leave as-is)",
         configDuration([](C& c) -> Duration& { return c.conntrack.tcp_established_timeout; })});
    add({"conntrack-tcp-timeout-close-wait", 0, false, "1h0m0s",
         "NAT timeout for TCP connections in the CLOSE_WAIT state",
         configDuration([](C& c) -> Duration& { return c.conntrack.tcp_close_wait_timeout; })});
    add({"conntrack-tcp-be-liberal", 0, true, "false",
         "Enable liberal mode for tracking TCP packets by setting nf_conntrack_tcp_be_liberal to 1",
         configBool([](C& c) -> bool& { return c.conntrack.tcp_be_liberal; })});
    add({"conntrack-udp-timeout", 0, false, "0s", "Idle timeout for UNREPLIED UDP connections (0 to leave as-is)",
         configDuration([](C& c) -> Duration& { return c.conntrack.udp_timeout; })});
    add({"conntrack-udp-timeout-stream", 0, false, "0s",
         "Idle timeout for ASSURED UDP connections (0 to leave as-is)",
         configDuration([](C& c) -> Duration& { return c.conntrack.udp_stream_timeout; })});
    add({"config-sync-period", 0, false, "15m0s",
         "How often configuration from the apiserver is refreshed.  Must be greater than 0.",
         configDuration([](C& c) -> Duration& { return c.config_sync_period; })});
    add({"healthz-port", 0, false, "10256", "The port to bind the health check server. Use 0 to disable.",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           auto n = parseGoInt(v, 32);
           if (!n.ok()) return n.error();
           f.healthz_port = static_cast<int32_t>(*n);
           return okStatus();
         },
         "This flag is deprecated and will be removed in a future release. Please use --healthz-bind-address "
         "instead."});
    add({"metrics-port", 0, false, "10249", "The port to bind the metrics server. Use 0 to disable.",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           auto n = parseGoInt(v, 32);
           if (!n.ok()) return n.error();
           f.metrics_port = static_cast<int32_t>(*n);
           return okStatus();
         },
         "This flag is deprecated and will be removed in a future release. Please use --metrics-bind-address "
         "instead."});
    add({"proxy-port-range", 0, false, "",
         "Range of host ports (beginPort-endPort, single port or beginPort+offset, inclusive) that may be consumed "
         "in order to proxy service traffic.",
         configString([](C& c) -> std::string& { return c.port_range; }),
         "This flag has no effect and will be removed in a future release."});
    // component-base logsapi.AddFlags.
    add({"logging-format", 0, false, "text", "Sets the log format. Permitted formats: \"json\", \"text\".",
         configString([](C& c) -> std::string& { return c.logging.format; })});
    add({"log-flush-frequency", 0, false, "5s", "Maximum number of seconds between log flushes",
         configDuration([](C& c) -> Duration& { return c.logging.flush_frequency; })});
    add({"v", 'v', false, "0", "number for the log level verbosity", verbositySetter()});
    add({"vmodule", 0, false, "",
         "comma-separated list of pattern=N settings for file-filtered logging (only works for text log format)",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           // upstream's VModuleConfigurationPflag appends.
           if (!v.empty()) f.config.logging.vmodule += (f.config.logging.vmodule.empty() ? "" : ",") + v;
           return okStatus();
         }});
    add({"log-text-split-stream", 0, true, "false",
         "[Alpha] In text format, write error messages to stderr and info messages to stdout.",
         [](KubeProxyFlags&, const std::string& v, bool) -> Status {
           auto b = parseGoBool(v);
           return b.ok() ? okStatus() : Status(b.error());
         }});
    add({"log-text-info-buffer-size", 0, false, "0",
         "[Alpha] In text format with split output streams, the info messages can be buffered for a while to "
         "increase performance.",
         quantitySetter()});
    add({"log-json-split-stream", 0, true, "false",
         "[Alpha] In JSON format, write error messages to stderr and info messages to stdout.",
         [](KubeProxyFlags&, const std::string& v, bool) -> Status {
           auto b = parseGoBool(v);
           return b.ok() ? okStatus() : Status(b.error());
         }});
    add({"log-json-info-buffer-size", 0, false, "0",
         "[Alpha] In JSON format with split output streams, the info messages can be buffered for a while to "
         "increase performance.",
         quantitySetter()});
    // verflag.
    add({"version", 0, true, "false", "--version, --version=raw prints version information and quits",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           if (v == "raw") {
             f.version = "raw";
             return okStatus();
           }
           auto b = parseGoBool(v);
           if (!b.ok()) return b.error();
           f.version = *b ? "true" : "false";
           return okStatus();
         }});
    add({"help", 'h', true, "false", "help for kube-proxy", boolSetter(&KubeProxyFlags::help)});
    // kproxy's extensions.
    add({"objects", 0, false, "[]",
         "kproxy: take Services, EndpointSlices and Nodes from these manifest files (re-read when they change) "
         "instead of the Kubernetes API.",
         [](KubeProxyFlags& f, const std::string& v, bool) -> Status {
           f.objects.push_back(v);
           return okStatus();
         },
         "", true});
    return t;
  }();
  return table;
}

const FlagDef* findFlag(std::string_view name) {
  for (const auto& d : flagTable()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const FlagDef* findShorthand(char c) {
  for (const auto& d : flagTable()) {
    if (d.shorthand == c) return &d;
  }
  return nullptr;
}

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string unknownFlag(const std::string& shown, const std::string& name) {
  const std::string near = nearestFlag(name);
  std::string msg = "unknown flag: " + shown;
  // A hint only when it is plausibly a typo of that flag.
  if (!near.empty() && editDistance(name, near) <= std::max<size_t>(2, near.size() / 3)) {
    msg += " (did you mean --" + near + "?)";
  } else {
    msg += " (see --help for the list of flags)";
  }
  return msg;
}

std::string shownName(const FlagDef& d) {
  return d.shorthand != 0 ? std::string("-") + d.shorthand + ", --" + d.name : "--" + d.name;
}

struct Occurrence {
  const FlagDef* def;
  std::string value;
};

// pflag's parseArgs, producing (flag, value) pairs.
Result<std::vector<Occurrence>> scan(const std::vector<std::string>& args, bool* help) {
  std::vector<Occurrence> out;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& s = args[i];
    if (s.size() < 2 || s[0] != '-') {
      positional.push_back(s);
      continue;
    }
    if (s == "--") {
      positional.insert(positional.end(), args.begin() + static_cast<long>(i) + 1, args.end());
      break;
    }
    if (s[1] == '-') {
      const std::string body = s.substr(2);
      const size_t eq = body.find('=');
      const std::string name = body.substr(0, eq);
      if (name.empty() || name[0] == '-' || name[0] == '=') return Error("bad flag syntax: " + s);
      const FlagDef* d = findFlag(name);
      if (d == nullptr) return Error(unknownFlag("--" + name, name));
      std::string value;
      if (eq != std::string::npos) {
        value = body.substr(eq + 1);
      } else if (d->is_bool) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return Error("flag needs an argument: --" + name);
      }
      if (d->name == "help") {
        *help = true;
        return out;
      }
      out.push_back({d, value});
      continue;
    }
    // Shorthands: -v 2, -v=2, -v2, -h.
    const char c = s[1];
    const FlagDef* d = findShorthand(c);
    if (d == nullptr) {
      std::string msg = std::string("unknown shorthand flag: '") + c + "' in " + s;
      // "-config=x" is a long flag written with one dash.
      const std::string as_long = s.substr(1, s.find('=') == std::string::npos ? std::string::npos : s.find('=') - 1);
      if (as_long.size() < 2) {
        // a single unknown letter: no hint
      } else if (findFlag(as_long) != nullptr) {
        msg += " (did you mean --" + as_long + "?)";
      } else {
        const std::string near = nearestFlag(as_long);
        if (!near.empty() && editDistance(as_long, near) <= std::max<size_t>(2, near.size() / 3)) {
          msg += " (did you mean --" + near + "?)";
        }
      }
      return Error(msg);
    }
    const std::string rest = s.substr(2);
    std::string value;
    if (!rest.empty() && rest[0] == '=') {
      value = rest.substr(1);
    } else if (d->is_bool) {
      if (!rest.empty()) return Error(std::string("unknown shorthand flag: '") + rest[0] + "' in " + s);
      value = "true";
    } else if (!rest.empty()) {
      value = rest;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Error(std::string("flag needs an argument: '") + c + "' in -" + c);
    }
    if (d->name == "help") {
      *help = true;
      return out;
    }
    out.push_back({d, value});
  }
  if (!positional.empty()) {
    std::string list;
    for (const auto& p : positional) list += (list.empty() ? "" : " ") + goQuote(p);
    return Error("\"kube-proxy\" does not take any arguments, got [" + list + "]");
  }
  return out;
}

std::string valueText(const FlagDef& d, const KubeProxyFlags& f, const std::string& last) {
  // pflag prints slices as [a,b]; everything else as the text given.
  if (d.name == "nodeport-addresses") return "[" + joinCsv(f.config.node_port_addresses) + "]";
  if (d.name == "ipvs-exclude-cidrs") return "[" + joinCsv(f.config.ipvs.exclude_cidrs) + "]";
  if (d.name == "objects") return "[" + joinCsv(f.objects) + "]";
  if (d.name == "vmodule") return f.config.logging.vmodule;
  if (d.name == "feature-gates") {
    std::string out;
    for (const auto& [k, v] : f.config.feature_gates) out += (out.empty() ? "" : ",") + k + "=" + (v ? "true" : "false");
    return out;
  }
  return last;
}

std::string appendPortIfNeeded(const std::string& addr, int32_t port) {
  if (splitHostPort(addr)) return addr;
  if (!isIpSloppy(addr)) return addr;
  auto ip = IpAddress::parseSloppy(addr);
  if (ip->isV4()) return addr + ":" + std::to_string(port);
  return "[" + addr + "]:" + std::to_string(port);
}

}  // namespace

std::string addressFromDeprecatedFlags(const std::string& address, int32_t port) {
  if (port == 0) return "";
  return appendPortIfNeeded(address, port);
}

std::string nearestFlag(const std::string& name) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const auto& d : flagTable()) {
    const size_t dist = editDistance(name, d.name);
    if (dist < best_distance) {
      best_distance = dist;
      best = d.name;
    }
  }
  return best;
}

void registerKubeProxyFlags(CLI::App& app, std::function<void(const std::string&, const std::string&)> on_value) {
  app.set_help_flag();  // --help is one of the table's flags
  for (const auto& d : flagTable()) {
    std::string names = d.shorthand != 0 ? std::string("-") + d.shorthand + ",--" + d.name : "--" + d.name;
    std::string usage = d.usage;
    if (!d.deprecated.empty()) usage += " (DEPRECATED: " + d.deprecated + ")";
    app.add_option_function<std::vector<std::string>>(
           names,
           [name = d.name, on_value](const std::vector<std::string>& values) {
             for (const auto& v : values) on_value(name, v);
           },
           usage)
        ->expected(1)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        ->default_str(d.default_text)
        ->group(d.kproxy ? "kproxy" : "kube-proxy");
  }
}

Result<KubeProxyFlags> parseKubeProxyFlags(const std::vector<std::string>& args) {
  KubeProxyFlags flags;
  for (const auto& d : flagTable()) flags.values.emplace_back(d.name, d.default_text == "[]" ? "[]" : d.default_text);
  auto occurrences = scan(args, &flags.help);
  if (!occurrences.ok()) return occurrences.error();
  if (flags.help) return flags;

  // CLI11 parses the canonical form of what the scan accepted.
  CLI::App app{"kube-proxy"};
  std::vector<std::string> errors;
  std::map<std::string, std::string> last;
  registerKubeProxyFlags(app, [&](const std::string& name, const std::string& value) {
    const FlagDef* d = findFlag(name);
    const bool first = flags.changed.insert(name).second;
    if (auto s = d->set(flags, value, first); !s.ok()) {
      errors.push_back("invalid argument " + goQuote(value) + " for " + goQuote(shownName(*d)) + " flag: " +
                       s.error().message);
      return;
    }
    last[name] = value;
  });
  std::vector<std::string> canonical;
  for (const auto& o : occurrences.value()) {
    if (o.value.empty()) {
      canonical.push_back("--" + o.def->name);
      canonical.push_back("");
    } else {
      canonical.push_back("--" + o.def->name + "=" + o.value);
    }
  }
  std::reverse(canonical.begin(), canonical.end());  // CLI11 takes them back to front
  try {
    app.parse(canonical);
  } catch (const CLI::ParseError& e) {
    return Error(e.what());
  }
  // pflag stops at the first bad value, in command-line order.
  for (const auto& o : occurrences.value()) {
    for (const auto& e : errors) {
      if (e.find(goQuote(shownName(*o.def))) != std::string::npos) return Error(e);
    }
  }
  if (!errors.empty()) return Error(errors.front());
  // pflag prints a deprecation notice at each use, in command-line order; once is enough here.
  std::set<std::string> noted;
  for (const auto& o : occurrences.value()) {
    if (!o.def->deprecated.empty() && noted.insert(o.def->name).second) {
      flags.warnings.push_back("Flag --" + o.def->name + " has been deprecated, " + o.def->deprecated);
    }
  }
  for (auto& [name, text] : flags.values) {
    const FlagDef* d = findFlag(name);
    auto it = last.find(name);
    text = valueText(*d, flags, it != last.end() ? it->second : text);
  }
  return flags;
}

std::string kubeProxyUsage() {
  std::string out =
      "The Kubernetes network proxy runs on each node. This reflects services as defined in the Kubernetes API on "
      "each node and can do simple TCP, UDP, and SCTP stream forwarding or round robin TCP, UDP, and SCTP "
      "forwarding across a set of backends. (kproxy: a C++ reimplementation of kube-proxy.)\n\n"
      "Usage:\n  kube-proxy [flags]\n\nFlags:\n";
  for (const auto& d : flagTable()) {
    std::string left = d.shorthand != 0 ? std::string("  -") + d.shorthand + ", --" + d.name : "      --" + d.name;
    if (!d.is_bool) left += " value";
    std::string usage = d.usage;
    if (!d.default_text.empty() && d.default_text != "false" && d.default_text != "[]" && d.default_text != "0s" &&
        d.default_text != "0") {
      usage += " (default " + (d.is_bool ? d.default_text : goQuote(d.default_text)) + ")";
    }
    if (!d.deprecated.empty()) usage += " (DEPRECATED: " + d.deprecated + ")";
    if (d.kproxy) usage += " [kproxy extension]";
    if (left.size() < 48) left.resize(48, ' ');
    out += left + " " + usage + "\n";
  }
  return out;
}

Result<CompletedConfiguration> completeConfiguration(const KubeProxyFlags& flags, const FileReader& read_file) {
  CompletedConfiguration out;
  out.warnings = flags.warnings;
  KubeProxyConfiguration cfg = flags.config;
  if (flags.config_file.empty() && flags.write_config_to.empty()) {
    cfg.healthz_bind_address = addressFromDeprecatedFlags(cfg.healthz_bind_address, flags.healthz_port);
    cfg.metrics_bind_address = addressFromDeprecatedFlags(cfg.metrics_bind_address, flags.metrics_port);
  }
  if (!flags.config_file.empty()) {
    auto bytes = read_file(flags.config_file);
    if (!bytes.ok()) return bytes.error();
    auto decoded = decodeConfiguration(*bytes, flags.config_file);
    if (!decoded.ok()) return decoded.error();
    KubeProxyConfiguration c = std::move(decoded->config);
    for (auto& w : decoded->warnings) out.warnings.push_back(std::move(w));
    // upstream copyLogsFromFlags: logging flags given on the command line win over the file;
    // vmodule entries from the flags come first, then the file's.
    if (flags.given("v")) c.logging.verbosity = flags.config.logging.verbosity;
    if (flags.given("logging-format")) c.logging.format = flags.config.logging.format;
    if (flags.given("log-flush-frequency")) c.logging.flush_frequency = flags.config.logging.flush_frequency;
    if (flags.given("vmodule")) {
      c.logging.vmodule = flags.config.logging.vmodule +
                          (c.logging.vmodule.empty() || flags.config.logging.vmodule.empty() ? "" : ",") +
                          c.logging.vmodule;
    }
    cfg = std::move(c);
  } else {
    // upstream processV1Alpha1Flags. The internal configuration has one sync-period pair, which
    // starts as the defaults converted with an empty mode (iptables' 30s / 1s); the iptables
    // flags replace it unless the mode is ipvs, the ipvs flags only in ipvs mode.
    Duration sync = std::chrono::seconds(30);
    Duration min_sync = std::chrono::seconds(1);
    const bool ipvs = cfg.mode == "ipvs";
    if (flags.given("iptables-sync-period") && !ipvs) sync = flags.iptables_sync_period;
    if (flags.given("iptables-min-sync-period") && !ipvs) min_sync = flags.iptables_min_sync_period;
    if (flags.given("ipvs-sync-period") && ipvs) sync = flags.ipvs_sync_period;
    if (flags.given("ipvs-min-sync-period") && ipvs) min_sync = flags.ipvs_min_sync_period;
    if (ipvs) {
      cfg.ipvs.sync_period = sync;
      cfg.ipvs.min_sync_period = min_sync;
    } else if (cfg.mode == "nftables") {
      cfg.nftables.sync_period = sync;
      cfg.nftables.min_sync_period = min_sync;
    } else {
      cfg.iptables.sync_period = sync;
      cfg.iptables.min_sync_period = min_sync;
    }
    if (flags.given("cluster-cidr")) cfg.cluster_cidr = flags.cluster_cidrs;
  }
  // upstream platformApplyDefaults (Linux).
  if (cfg.mode.empty()) cfg.mode = "iptables";
  applyModeDefaults(cfg);
  if (cfg.detect_local_mode.empty()) cfg.detect_local_mode = "ClusterCIDR";
  // upstream processHostnameOverrideFlag: the flag always wins.
  if (!flags.hostname_override.empty()) {
    const std::string name = trim(flags.hostname_override);
    if (name.empty()) return Error("empty hostname-override is invalid");
    cfg.hostname_override = lower(name);
  }
  out.config = std::move(cfg);
  return out;
}

std::vector<std::string> printFlags(const KubeProxyFlags& flags) {
  std::vector<std::pair<std::string, std::string>> sorted = flags.values;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> out;
  for (const auto& [name, value] : sorted) out.push_back("FLAG: --" + name + "=" + goQuote(value));
  return out;
}

}  // namespace kproxy::config
