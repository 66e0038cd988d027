// Decoding, defaulting and encoding of KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1).
//
// upstream: cmd/kube-proxy/app/server.go loadConfig decodes the file strictly; on a strict error
// (unknown or duplicate field) it decodes again leniently and only logs the strict error. The
// YAML goes through sigs.k8s.io/yaml (go-yaml v2, YAML 1.1 scalars) into JSON and then into the
// Go struct, so a plain `mode: yes` is a bool and fails, and `minSyncPeriod: 0` is a number and
// fails (metav1.Duration only takes strings). The walker below reproduces those typing rules on
// yaml-cpp nodes, which keep line numbers for the messages.
#include "src/config/kube_proxy_configuration.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "src/util/ip.h"

namespace kproxy::config {
namespace {

constexpr std::string_view kApiVersion = "kubeproxy.config.k8s.io/v1alpha1";
constexpr std::string_view kKind = "KubeProxyConfiguration";
constexpr int kHealthzPort = 10256;  // upstream: ports.ProxyHealthzPort
constexpr int kMetricsPort = 10249;  // upstream: ports.ProxyStatusPort

// ---------------------------------------------------------------------------------------------
// YAML 1.1 scalar resolution, as go-yaml v2's resolve() does it for plain (unquoted) scalars.

enum class ScalarType { kNull, kBool, kInt, kFloat, kString };

struct ResolvedScalar {
  ScalarType type = ScalarType::kString;
  bool bool_value = false;
  __int128 int_value = 0;  // kInt: fits int64 or uint64
  double float_value = 0;  // kFloat
};

bool isDecimalDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// go: strconv.ParseInt(s, 0, 64), falling back to ParseUint(s, 0, 64) as go-yaml does.
std::optional<__int128> parseGoInteger(std::string_view s) {
  bool neg = false;
  bool had_sign = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    had_sign = true;
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() >= 2 && s[0] == '0') {
    char p = s[1];
    if (p == 'x' || p == 'X') {
      base = 16;
      s.remove_prefix(2);
    } else if (p == 'b' || p == 'B') {
      base = 2;
      s.remove_prefix(2);
    } else if (p == 'o' || p == 'O') {
      base = 8;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  if (s.empty()) return std::nullopt;
  unsigned __int128 v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return std::nullopt;
    if (d >= base) return std::nullopt;
    v = v * base + d;
    if (v > std::numeric_limits<uint64_t>::max()) return std::nullopt;
  }
  if (neg) {
    if (v > (static_cast<unsigned __int128>(1) << 63)) return std::nullopt;
    return -static_cast<__int128>(v);
  }
  // ParseInt takes a sign, ParseUint does not: "+18446744073709551615" is not an integer.
  if (had_sign && v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<__int128>(v);
}

// go-yaml v2: yamlStyleFloat = ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
bool isYamlStyleFloat(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i - start;
  };
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (digits() == 0) return false;
  } else {
    if (digits() == 0) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits();
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// go: strconv.ParseFloat(s, 64) for the forms isYamlStyleFloat admits; out of range is an error.
std::optional<double> parseFloat(std::string_view s) {
  std::string text(s);
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE || std::isinf(v)) return std::nullopt;
  return v;
}

ResolvedScalar resolvePlain(std::string_view in) {
  static const std::string_view kTrue[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const std::string_view kFalse[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  static const std::string_view kNull[] = {"", "~", "null", "Null", "NULL"};
  for (auto t : kNull) {
    if (in == t) return {.type = ScalarType::kNull};
  }
  for (auto t : kTrue) {
    if (in == t) return {.type = ScalarType::kBool, .bool_value = true};
  }
  for (auto t : kFalse) {
    if (in == t) return {.type = ScalarType::kBool, .bool_value = false};
  }
  for (auto t : {".nan", ".NaN", ".NAN"}) {
    if (in == t) return {.type = ScalarType::kFloat, .float_value = std::nan("")};
  }
  for (auto t : {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"}) {
    if (in == t) return {.type = ScalarType::kFloat, .float_value = HUGE_VAL};
  }
  for (auto t : {"-.inf", "-.Inf", "-.INF"}) {
    if (in == t) return {.type = ScalarType::kFloat, .float_value = -HUGE_VAL};
  }
  char hint = in[0];
  if (hint == '.') {
    std::string_view rest = in.substr(1);
    size_t e = rest.find_first_of("eE");
    bool ok = isDecimalDigits(rest.substr(0, e));
    if (ok && e != std::string_view::npos) {
      std::string_view exp = rest.substr(e + 1);
      if (!exp.empty() && (exp[0] == '+' || exp[0] == '-')) exp.remove_prefix(1);
      ok = isDecimalDigits(exp);
    }
    if (ok) {
      if (auto f = parseFloat(in)) return {.type = ScalarType::kFloat, .float_value = *f};
    }
  } else if ((hint >= '0' && hint <= '9') || hint == '+' || hint == '-') {
    std::string plain;
    for (char c : in) {
      if (c != '_') plain.push_back(c);
    }
    if (auto i = parseGoInteger(plain)) return {.type = ScalarType::kInt, .int_value = *i};
    if (isYamlStyleFloat(plain)) {
      if (auto f = parseFloat(plain)) return {.type = ScalarType::kFloat, .float_value = *f};
    }
  }
  return {};  // a string
}

bool isNonPlain(const YAML::Node& node) { return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str"; }

// The YAML 1.1 type of a node as sigs.k8s.io/yaml sees it.
ResolvedScalar resolve(const YAML::Node& node) {
  if (node.IsNull()) return {.type = ScalarType::kNull};
  if (isNonPlain(node)) return {};
  if (node.Tag() == "tag:yaml.org,2002:null") return {.type = ScalarType::kNull};
  return resolvePlain(node.Scalar());
}

std::string describe(const YAML::Node& node) {
  if (node.IsMap()) return "object";
  if (node.IsSequence()) return "array";
  ResolvedScalar r = resolve(node);
  switch (r.type) {
    case ScalarType::kNull:
      return "null";
    case ScalarType::kBool:
      return r.bool_value ? "bool true" : "bool false";
    case ScalarType::kInt:
    case ScalarType::kFloat:
      return "number " + node.Scalar();
    case ScalarType::kString:
      break;
  }
  std::string quoted = "\"";
  for (char c : node.Scalar().substr(0, 64)) {
    if (c == '"' || c == '\\') quoted.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20) quoted.push_back(c);
  }
  if (node.Scalar().size() > 64) quoted += "...";
  return "string " + quoted + "\"";
}

// ---------------------------------------------------------------------------------------------
// The walker.

struct Value {
  const YAML::Node& node;
  std::string path;  // "iptables.masqueradeBit", "nodePortAddresses[1]"
  int line;          // 1-based; 0 when unknown
};

class Decoder;
using FieldDecoder = std::function<void(Decoder&, const Value&)>;
struct Field {
  std::string_view name;
  FieldDecoder decode;
};

int lineOf(const YAML::Node& node, int fallback) {
  int line = node.Mark().line;
  return line >= 0 ? line + 1 : fallback;
}

class Decoder {
 public:
  explicit Decoder(std::string_view source) : source_(source) {}

  bool failed() const { return error_.has_value(); }
  const std::string& error() const { return *error_; }
  // Sorted by line.
  std::vector<std::string> strictErrors() const {
    auto sorted = strict_errors_;
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (auto& e : sorted) out.push_back(std::move(e.second));
    return out;
  }

  std::string at(int line) const { return line > 0 ? source_ + ":" + std::to_string(line) : source_; }

  void fail(const Value& v, std::string_view detail) {
    if (failed()) return;
    error_ = at(v.line) + ": " + (v.path.empty() ? "" : v.path + ": ") + std::string(detail);
  }
  void typeError(const Value& v, std::string_view target) {
    fail(v, "cannot unmarshal " + describe(v.node) + " into " + std::string(target));
  }

  // The entries of a mapping, the last of duplicate keys winning (go-yaml v2, non-strict); each
  // duplicate is a strict error. Returns false (with the error recorded) for a non-mapping.
  struct Entry {
    std::string key;
    YAML::Node value;
    int line;
  };
  bool entries(const Value& v, std::vector<Entry>& out) {
    if (!v.node.IsMap()) {
      typeError(v, "object");
      return false;
    }
    for (auto it = v.node.begin(); it != v.node.end(); ++it) {
      int line = lineOf(it->first, v.line);
      if (!it->first.IsScalar() && !it->first.IsNull()) {
        fail({it->first, v.path, line}, "a mapping key must be a scalar");
        return false;
      }
      std::string key = it->first.IsNull() ? "" : it->first.Scalar();
      auto dup = std::find_if(out.begin(), out.end(), [&](const Entry& e) { return e.key == key; });
      if (dup != out.end()) {
        strict_errors_.emplace_back(line, at(line) + ": duplicate field \"" + join(v.path, key) + "\"");
        out.erase(dup);
      }
      out.push_back({key, it->second, line});
    }
    return true;
  }

  void object(const Value& v, const std::vector<Field>& fields) {
    if (isAbsent(v.node)) return;
    std::vector<Entry> list;
    if (!entries(v, list)) return;
    for (const Entry& e : list) {
      if (failed()) return;
      std::string path = join(v.path, e.key);
      auto field = std::find_if(fields.begin(), fields.end(), [&](const Field& f) { return f.name == e.key; });
      if (field == fields.end()) {
        strict_errors_.emplace_back(e.line, at(e.line) + ": unknown field \"" + path + "\"");
        continue;
      }
      field->decode(*this, {e.value, path, e.line});
    }
  }

  static bool isAbsent(const YAML::Node& node) {
    // go: JSON null leaves a field as it was (and the defaults fill it).
    if (!node.IsDefined() || node.IsNull()) return true;
    return node.IsScalar() && resolve(node).type == ScalarType::kNull;
  }

  static std::string join(std::string_view path, std::string_view key) {
    if (path.empty()) return std::string(key);
    return std::string(path) + "." + std::string(key);
  }

 private:
  std::string source_;
  std::optional<std::string> error_;
  std::vector<std::pair<int, std::string>> strict_errors_;
};

// Field decoders. Each leaves its target alone when the value is null or absent.

FieldDecoder stringField(std::string& out) {
  return [&out](Decoder& d, const Value& v) {
    if (Decoder::isAbsent(v.node)) return;
    if (!v.node.IsScalar() || resolve(v.node).type != ScalarType::kString) return d.typeError(v, "string");
    out = v.node.Scalar();
  };
}

FieldDecoder boolField(bool& out) {
  return [&out](Decoder& d, const Value& v) {
    if (Decoder::isAbsent(v.node)) return;
    ResolvedScalar r = v.node.IsScalar() ? resolve(v.node) : ResolvedScalar{};
    if (!v.node.IsScalar() || r.type != ScalarType::kBool) return d.typeError(v, "bool");
    out = r.bool_value;
  };
}

// An integral number within [min, max]. go: a YAML float that prints as an integer in JSON
// (below 1e21, no fraction) decodes into an integer field too.
FieldDecoder integerField(int32_t& out, int64_t min, int64_t max, std::string_view type_name) {
  return [&out, min, max, type_name](Decoder& d, const Value& v) {
    if (Decoder::isAbsent(v.node)) return;
    ResolvedScalar r = v.node.IsScalar() ? resolve(v.node) : ResolvedScalar{};
    __int128 value = 0;
    if (v.node.IsScalar() && r.type == ScalarType::kInt) {
      value = r.int_value;
    } else if (v.node.IsScalar() && r.type == ScalarType::kFloat && std::isfinite(r.float_value) &&
               std::fabs(r.float_value) < 1e21 && std::trunc(r.float_value) == r.float_value) {
      value = static_cast<__int128>(r.float_value);
    } else {
      return d.typeError(v, type_name);
    }
    if (value < min || value > max) return d.typeError(v, type_name);
    out = static_cast<int32_t>(value);
  };
}

FieldDecoder int32Field(int32_t& out) {
  return integerField(out, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), "int32");
}

FieldDecoder float32Field(float& out) {
  return [&out](Decoder& d, const Value& v) {
    if (Decoder::isAbsent(v.node)) return;
    ResolvedScalar r = v.node.IsScalar() ? resolve(v.node) : ResolvedScalar{};
    double value;
    if (v.node.IsScalar() && r.type == ScalarType::kInt) {
      value = static_cast<double>(r.int_value);
    } else if (v.node.IsScalar() && r.type == ScalarType::kFloat && std::isfinite(r.float_value)) {
      value = r.float_value;
    } else {
      return d.typeError(v, "float32");
    }
    if (std::fabs(value) > std::numeric_limits<float>::max()) return d.typeError(v, "float32");
    out = static_cast<float>(value);
  };
}

// upstream: metav1.Duration unmarshals a JSON string through time.ParseDuration.
FieldDecoder durationField(Duration& out) {
  return [&out](Decoder& d, const Value& v) {
    if (Decoder::isAbsent(v.node)) return;
    if (!v.node.IsScalar() || resolve(v.node).type != ScalarType::kString) {
      return d.typeError(v, "duration (a string such as \"30s\")");
    }
    auto parsed = parseDuration(v.node.Scalar());
    if (!parsed.ok()) return d.fail(v, parsed.error().message);
    out = *parsed;
  };
}

// upstream: component-base TimeOrMetaDuration takes a duration string or integer nanoseconds.
FieldDecoder timeOrMetaDurationField(Duration& out) {
  return [&out](Decoder& d, const Value& v) {
    if (Decoder::isAbsent(v.node)) return;
    ResolvedScalar r = v.node.IsScalar() ? resolve(v.node) : ResolvedScalar{};
    if (v.node.IsScalar() && r.type == ScalarType::kInt && r.int_value >= std::numeric_limits<int64_t>::min() &&
        r.int_value <= std::numeric_limits<int64_t>::max()) {
      out = Duration(static_cast<int64_t>(r.int_value));
      return;
    }
    durationField(out)(d, v);
  };
}

FieldDecoder stringListField(std::vector<std::string>& out) {
  return [&out](Decoder& d, const Value& v) {
    if (Decoder::isAbsent(v.node)) {
      out.clear();  // go: null sets a slice to nil
      return;
    }
    if (!v.node.IsSequence()) return d.typeError(v, "[]string");
    std::vector<std::string> list;
    for (size_t i = 0; i < v.node.size(); ++i) {
      std::string item;
      const YAML::Node item_node = v.node[i];
      Value child{item_node, v.path + "[" + std::to_string(i) + "]", lineOf(item_node, v.line)};
      if (Decoder::isAbsent(child.node)) {
        list.emplace_back();  // go: null in a []string is ""
        continue;
      }
      stringField(item)(d, child);
      if (d.failed()) return;
      list.push_back(std::move(item));
    }
    out = std::move(list);
  };
}

FieldDecoder objectField(std::vector<Field> fields) {
  return [fields = std::move(fields)](Decoder& d, const Value& v) { d.object(v, fields); };
}

// Accepted for compatibility, type-checked, and dropped (Windows-only or not modelled).
FieldDecoder ignoredString() {
  return [](Decoder& d, const Value& v) {
    std::string sink;
    stringField(sink)(d, v);
  };
}
FieldDecoder ignoredBool() {
  return [](Decoder& d, const Value& v) {
    bool sink = false;
    boolField(sink)(d, v);
  };
}
// resource.Quantity takes a string ("1Mi") or a number.
FieldDecoder ignoredQuantity() {
  return [](Decoder& d, const Value& v) {
    if (Decoder::isAbsent(v.node)) return;
    ResolvedScalar r = v.node.IsScalar() ? resolve(v.node) : ResolvedScalar{};
    if (!v.node.IsScalar() || r.type == ScalarType::kBool) d.typeError(v, "quantity");
  };
}

FieldDecoder featureGatesField(std::map<std::string, bool>& out) {
  return [&out](Decoder& d, const Value& v) {
    if (Decoder::isAbsent(v.node)) return;
    std::vector<Decoder::Entry> list;
    if (!d.entries(v, list)) return;
    for (const auto& e : list) {
      bool value = false;
      boolField(value)(d, {e.value, Decoder::join(v.path, e.key), e.line});
      if (d.failed()) return;
      out[e.key] = value;  // go: a null value stores false
    }
  };
}

// upstream: logsapi.VModuleConfiguration is a list of {filePattern, verbosity}; kproxy keeps it
// as the flag's text form "pattern=N,...".
FieldDecoder vmoduleField(std::string& out) {
  return [&out](Decoder& d, const Value& v) {
    if (Decoder::isAbsent(v.node)) {
      out.clear();
      return;
    }
    if (!v.node.IsSequence()) return d.typeError(v, "[]VModuleItem");
    std::string text;
    for (size_t i = 0; i < v.node.size(); ++i) {
      std::string pattern;
      int32_t verbosity = 0;
      const YAML::Node item_node = v.node[i];
      Value child{item_node, v.path + "[" + std::to_string(i) + "]", lineOf(item_node, v.line)};
      d.object(child, {{"filePattern", stringField(pattern)},
                       {"verbosity", integerField(verbosity, 0, std::numeric_limits<int32_t>::max(), "uint32")}});
      if (d.failed()) return;
      if (!text.empty()) text += ",";
      text += pattern + "=" + std::to_string(verbosity);
    }
    out = std::move(text);
  };
}

std::vector<Field> loggingFields(LoggingConfiguration& c) {
  std::vector<Field> routing = {{"splitStream", ignoredBool()}, {"infoBufferSize", ignoredQuantity()}};
  return {
      {"format", stringField(c.format)},
      {"flushFrequency", timeOrMetaDurationField(c.flush_frequency)},
      {"verbosity", integerField(c.verbosity, 0, std::numeric_limits<int32_t>::max(), "uint32")},
      {"vmodule", vmoduleField(c.vmodule)},
      {"options", objectField({{"text", objectField(routing)}, {"json", objectField(routing)}})},
  };
}

std::vector<Field> configurationFields(KubeProxyConfiguration& c) {
  auto header = [](Decoder&, const Value&) {};  // checked before the walk
  return {
      {"apiVersion", header},
      {"kind", header},
      {"featureGates", featureGatesField(c.feature_gates)},
      {"clientConnection", objectField({
                               {"kubeconfig", stringField(c.client_connection.kubeconfig)},
                               {"acceptContentTypes", stringField(c.client_connection.accept_content_types)},
                               {"contentType", stringField(c.client_connection.content_type)},
                               {"qps", float32Field(c.client_connection.qps)},
                               {"burst", int32Field(c.client_connection.burst)},
                           })},
      {"logging", objectField(loggingFields(c.logging))},
      {"hostnameOverride", stringField(c.hostname_override)},
      {"bindAddress", stringField(c.bind_address)},
      {"healthzBindAddress", stringField(c.healthz_bind_address)},
      {"metricsBindAddress", stringField(c.metrics_bind_address)},
      {"bindAddressHardFail", boolField(c.bind_address_hard_fail)},
      {"enableProfiling", boolField(c.enable_profiling)},
      {"showHiddenMetricsForVersion", stringField(c.show_hidden_metrics_for_version)},
      {"mode", stringField(c.mode)},
      {"iptables", objectField({
                       {"masqueradeBit", int32Field(c.iptables.masquerade_bit)},
                       {"masqueradeAll", boolField(c.iptables.masquerade_all)},
                       {"localhostNodePorts", boolField(c.iptables.localhost_node_ports)},
                       {"syncPeriod", durationField(c.iptables.sync_period)},
                       {"minSyncPeriod", durationField(c.iptables.min_sync_period)},
                   })},
      {"ipvs", objectField({
                   {"syncPeriod", durationField(c.ipvs.sync_period)},
                   {"minSyncPeriod", durationField(c.ipvs.min_sync_period)},
                   {"scheduler", stringField(c.ipvs.scheduler)},
                   {"excludeCIDRs", stringListField(c.ipvs.exclude_cidrs)},
                   {"strictARP", boolField(c.ipvs.strict_arp)},
                   {"tcpTimeout", durationField(c.ipvs.tcp_timeout)},
                   {"tcpFinTimeout", durationField(c.ipvs.tcp_fin_timeout)},
                   {"udpTimeout", durationField(c.ipvs.udp_timeout)},
               })},
      {"nftables", objectField({
                       {"masqueradeBit", int32Field(c.nftables.masquerade_bit)},
                       {"masqueradeAll", boolField(c.nftables.masquerade_all)},
                       {"syncPeriod", durationField(c.nftables.sync_period)},
                       {"minSyncPeriod", durationField(c.nftables.min_sync_period)},
                   })},
      {"conntrack", objectField({
                        {"maxPerCore", int32Field(c.conntrack.max_per_core)},
                        {"min", int32Field(c.conntrack.min)},
                        {"tcpEstablishedTimeout", durationField(c.conntrack.tcp_established_timeout)},
                        {"tcpCloseWaitTimeout", durationField(c.conntrack.tcp_close_wait_timeout)},
                        {"tcpBeLiberal", boolField(c.conntrack.tcp_be_liberal)},
                        {"udpTimeout", durationField(c.conntrack.udp_timeout)},
                        {"udpStreamTimeout", durationField(c.conntrack.udp_stream_timeout)},
                    })},
      {"winkernel", objectField({
                        {"networkName", ignoredString()},
                        {"sourceVip", ignoredString()},
                        {"enableDSR", ignoredBool()},
                        {"rootHnsEndpointName", ignoredString()},
                        {"forwardHealthCheckVip", ignoredBool()},
                    })},
      {"detectLocalMode", stringField(c.detect_local_mode)},
      {"detectLocal", objectField({
                          {"bridgeInterface", stringField(c.detect_local.bridge_interface)},
                          {"interfaceNamePrefix", stringField(c.detect_local.interface_name_prefix)},
                      })},
      {"clusterCIDR", stringField(c.cluster_cidr)},
      {"nodePortAddresses", stringListField(c.node_port_addresses)},
      {"oomScoreAdj", int32Field(c.oom_score_adj)},
      {"configSyncPeriod", durationField(c.config_sync_period)},
      {"portRange", stringField(c.port_range)},
      {"windowsRunAsService", ignoredBool()},
  };
}

// ---------------------------------------------------------------------------------------------
// Defaulting.

// go: net.SplitHostPort succeeds.
bool isHostPort(std::string_view s) {
  size_t i = s.rfind(':');
  if (i == std::string_view::npos) return false;
  size_t j = 0, k = 0;
  if (s[0] == '[') {
    size_t end = s.find(']');
    if (end == std::string_view::npos || end + 1 != i) return false;
    j = 1;
    k = end + 1;
  } else if (s.substr(0, i).find(':') != std::string_view::npos) {
    return false;
  }
  return s.find('[', j) == std::string_view::npos && s.find(']', k) == std::string_view::npos;
}

// k8s.io/utils/net ParseIPSloppy (no surrounding whitespace, unlike IpAddress::parseSloppy).
std::optional<IpAddress> parseIpSloppy(std::string_view s) {
  if (s.empty() || s.front() <= ' ' || s.back() <= ' ') return std::nullopt;
  auto ip = IpAddress::parseSloppy(s);
  if (!ip.ok()) return std::nullopt;
  return *ip;
}

// upstream: pkg/proxy/util AppendPortIfNeeded.
std::string appendPortIfNeeded(const std::string& addr, int port) {
  if (isHostPort(addr)) return addr;
  auto ip = parseIpSloppy(addr);
  if (!ip) return addr;  // left for validation to report
  if (ip->isV4()) return addr + ":" + std::to_string(port);
  return "[" + addr + "]:" + std::to_string(port);
}

// upstream: pkg/proxy/apis/config/v1alpha1 SetDefaults_KubeProxyConfiguration and
// logsapi.SetRecommendedLoggingConfiguration. Pointer fields (masqueradeBit, oomScoreAdj,
// conntrack.*) are defaulted only when absent, which the struct's initialisers already did; the
// fields below are defaulted whenever they hold the zero value, so an explicit
// `iptables.minSyncPeriod: 0s` becomes 1s exactly as in kube-proxy.
void applyDefaults(KubeProxyConfiguration& c) {
  if (c.bind_address.empty()) c.bind_address = "0.0.0.0";
  // upstream: getDefaultAddresses; anything that is not an IPv4 address (even an invalid one)
  // selects the IPv6 defaults.
  auto bind = parseIpSloppy(c.bind_address);
  bool v4 = bind && bind->isV4();
  if (c.healthz_bind_address.empty()) {
    c.healthz_bind_address = std::string(v4 ? "0.0.0.0" : "[::]") + ":" + std::to_string(kHealthzPort);
  } else {
    c.healthz_bind_address = appendPortIfNeeded(c.healthz_bind_address, kHealthzPort);
  }
  if (c.metrics_bind_address.empty()) {
    c.metrics_bind_address = std::string(v4 ? "127.0.0.1" : "[::1]") + ":" + std::to_string(kMetricsPort);
  } else {
    c.metrics_bind_address = appendPortIfNeeded(c.metrics_bind_address, kMetricsPort);
  }
  const KubeProxyConfiguration d;
  auto zeroDefault = [](auto& field, const auto& def) {
    if (field == std::remove_reference_t<decltype(field)>{}) field = def;
  };
  zeroDefault(c.iptables.sync_period, d.iptables.sync_period);
  zeroDefault(c.iptables.min_sync_period, d.iptables.min_sync_period);
  zeroDefault(c.ipvs.sync_period, d.ipvs.sync_period);
  zeroDefault(c.nftables.sync_period, d.nftables.sync_period);
  zeroDefault(c.nftables.min_sync_period, d.nftables.min_sync_period);
  zeroDefault(c.config_sync_period, d.config_sync_period);
  zeroDefault(c.client_connection.content_type, d.client_connection.content_type);
  zeroDefault(c.client_connection.qps, d.client_connection.qps);
  zeroDefault(c.client_connection.burst, d.client_connection.burst);
  zeroDefault(c.logging.format, d.logging.format);
  zeroDefault(c.logging.flush_frequency, d.logging.flush_frequency);
}

// ---------------------------------------------------------------------------------------------
// Encoding.

// A scalar that reads back as the same string: plain when that is unambiguous in YAML 1.1,
// double-quoted otherwise.
void appendString(std::string& out, std::string_view s) {
  auto plain_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '/' || c == '-' || c == ':' || c == '+' || c == '=' || c == '@';
  };
  bool plain = !s.empty() && std::all_of(s.begin(), s.end(), plain_char) &&
               ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= '0' && s[0] <= '9')) &&
               s.back() != ':' && resolvePlain(s).type == ScalarType::kString;
  if (plain) {
    out += s;
    return;
  }
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

// go: encoding/json writes a float32 in the shortest form that reads back exactly, in %f notation
// between 1e-6 and 1e21 and in exponent notation outside.
std::string formatFloat32(float f) {
  char buf[64];
  double a = std::fabs(static_cast<double>(f));
  auto fmt = (a == 0 || (a >= 1e-6 && a < 1e21)) ? std::chars_format::fixed : std::chars_format::scientific;
  auto res = std::to_chars(buf, buf + sizeof(buf), f, fmt);
  return std::string(buf, res.ptr);
}

class YamlWriter {
 public:
  void key(std::string_view k) {
    indent();
    appendString(out_, k);
    out_ += ":";
  }
  void beginObject(std::string_view k) {
    key(k);
    out_ += "\n";
    depth_ += 2;
  }
  void endObject() { depth_ -= 2; }
  void string(std::string_view k, std::string_view v) {
    key(k);
    out_ += " ";
    appendString(out_, v);
    out_ += "\n";
  }
  void raw(std::string_view k, std::string_view v) {
    key(k);
    out_ += " ";
    out_ += v;
    out_ += "\n";
  }
  void boolean(std::string_view k, bool v) { raw(k, v ? "true" : "false"); }
  void integer(std::string_view k, int64_t v) { raw(k, std::to_string(v)); }
  void duration(std::string_view k, Duration d) { string(k, formatDuration(d)); }
  void stringList(std::string_view k, const std::vector<std::string>& list) {
    if (list.empty()) return raw(k, "null");
    beginList(k);
    for (const auto& item : list) {
      indent();
      out_ += "- ";
      appendString(out_, item);
      out_ += "\n";
    }
  }
  void beginList(std::string_view k) {
    key(k);
    out_ += "\n";
  }
  void rawLine(std::string_view line) {
    indent();
    out_ += line;
    out_ += "\n";
  }
  std::string take() { return std::move(out_); }

 private:
  void indent() { out_.append(static_cast<size_t>(depth_), ' '); }
  std::string out_;
  int depth_ = 0;
};

// "pattern=N,..." back into upstream's list form.
void writeVModule(YamlWriter& w, const std::string& text) {
  if (text.empty()) return;
  w.beginList("vmodule");
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    size_t eq = item.rfind('=');
    std::string pattern = eq == std::string::npos ? item : item.substr(0, eq);
    std::string level = eq == std::string::npos ? "0" : item.substr(eq + 1);
    std::string line = "- filePattern: ";
    appendString(line, pattern);
    w.rawLine(line);
    w.rawLine("  verbosity: " + (isDecimalDigits(level) ? level : "0"));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
}

}  // namespace

Result<DecodedConfiguration> decodeConfiguration(std::string_view bytes, std::string_view source) {
  const std::string src(source);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(bytes));
  } catch (const YAML::Exception& e) {
    std::string where = e.mark.line >= 0 ? src + ":" + std::to_string(e.mark.line + 1) : src;
    return Error(where + ": failed to decode: yaml: " + e.msg);
  } catch (const std::exception& e) {
    return Error(src + ": failed to decode: " + e.what());
  }

  try {
    Value top{root, "", lineOf(root, 1)};
    if (Decoder::isAbsent(root)) return Error(src + ": failed to decode: Object 'Kind' is missing");
    if (!root.IsMap()) {
      return Error(Decoder(source).at(top.line) + ": failed to decode: cannot unmarshal " + describe(root) +
                   " into KubeProxyConfiguration");
    }

    // upstream: the serializer reads apiVersion and kind before anything else. (A decoder of its
    // own, so that duplicate keys are reported once, by the full walk below.)
    Decoder header(source);
    std::vector<Decoder::Entry> entries;
    if (!header.entries(top, entries)) return Error(header.error());
    std::string api_version, kind;
    int kind_line = top.line;
    for (const auto& e : entries) {
      if (e.key == "apiVersion") stringField(api_version)(header, {e.value, e.key, e.line});
      if (e.key == "kind") {
        stringField(kind)(header, {e.value, e.key, e.line});
        kind_line = e.line;
      }
    }
    if (header.failed()) return Error(header.error());
    Decoder d(source);
    if (kind.empty()) return Error(src + ": failed to decode: Object 'Kind' is missing");
    if (api_version.empty()) return Error(src + ": failed to decode: Object 'apiVersion' is missing");
    std::string at_kind = d.at(kind_line);
    if (kind != kKind) {
      return Error(at_kind + ": got unexpected config type: " + api_version + ", Kind=" + kind);
    }
    if (api_version != kApiVersion) {
      return Error(at_kind + ": failed to decode: no kind \"" + kind + "\" is registered for version \"" + api_version +
                   "\"");
    }

    DecodedConfiguration out;
    KubeProxyConfiguration& c = out.config;
    // Defaulted from bindAddress after the walk (see applyDefaults), so start them empty.
    c.healthz_bind_address.clear();
    c.metrics_bind_address.clear();
    d.object(top, configurationFields(c));
    if (d.failed()) return Error(d.error());
    applyDefaults(c);
    if (!d.strictErrors().empty()) {
      std::string joined;
      for (const auto& e : d.strictErrors()) joined += (joined.empty() ? "" : ", ") + e;
      out.warnings.push_back("Using lenient decoding as strict decoding failed: strict decoding error: " + joined);
    }
    return out;
  } catch (const std::exception& e) {
    return Error(src + ": failed to decode: " + e.what());
  }
}

void applyModeDefaults(KubeProxyConfiguration& c) {
  if (c.effectiveMode() == "nftables" && c.node_port_addresses.empty()) c.node_port_addresses = {"primary"};
}

std::string encodeConfiguration(const KubeProxyConfiguration& c) {
  // upstream: --write-config-to marshals to JSON and then to YAML, so the keys come out sorted.
  YamlWriter w;
  w.string("apiVersion", kApiVersion);
  w.string("bindAddress", c.bind_address);
  w.boolean("bindAddressHardFail", c.bind_address_hard_fail);
  w.beginObject("clientConnection");
  w.string("acceptContentTypes", c.client_connection.accept_content_types);
  w.integer("burst", c.client_connection.burst);
  w.string("contentType", c.client_connection.content_type);
  w.string("kubeconfig", c.client_connection.kubeconfig);
  w.raw("qps", formatFloat32(c.client_connection.qps));
  w.endObject();
  w.string("clusterCIDR", c.cluster_cidr);
  w.duration("configSyncPeriod", c.config_sync_period);
  w.beginObject("conntrack");
  w.integer("maxPerCore", c.conntrack.max_per_core);
  w.integer("min", c.conntrack.min);
  w.boolean("tcpBeLiberal", c.conntrack.tcp_be_liberal);
  w.duration("tcpCloseWaitTimeout", c.conntrack.tcp_close_wait_timeout);
  w.duration("tcpEstablishedTimeout", c.conntrack.tcp_established_timeout);
  w.duration("udpStreamTimeout", c.conntrack.udp_stream_timeout);
  w.duration("udpTimeout", c.conntrack.udp_timeout);
  w.endObject();
  w.beginObject("detectLocal");
  w.string("bridgeInterface", c.detect_local.bridge_interface);
  w.string("interfaceNamePrefix", c.detect_local.interface_name_prefix);
  w.endObject();
  w.string("detectLocalMode", c.detect_local_mode);
  w.boolean("enableProfiling", c.enable_profiling);
  if (c.feature_gates.empty()) {
    w.raw("featureGates", "{}");
  } else {
    w.beginObject("featureGates");
    for (const auto& [name, value] : c.feature_gates) w.boolean(name, value);
    w.endObject();
  }
  w.string("healthzBindAddress", c.healthz_bind_address);
  w.string("hostnameOverride", c.hostname_override);
  w.beginObject("iptables");
  w.boolean("localhostNodePorts", c.iptables.localhost_node_ports);
  w.boolean("masqueradeAll", c.iptables.masquerade_all);
  w.integer("masqueradeBit", c.iptables.masquerade_bit);
  w.duration("minSyncPeriod", c.iptables.min_sync_period);
  w.duration("syncPeriod", c.iptables.sync_period);
  w.endObject();
  w.beginObject("ipvs");
  w.stringList("excludeCIDRs", c.ipvs.exclude_cidrs);
  w.duration("minSyncPeriod", c.ipvs.min_sync_period);
  w.string("scheduler", c.ipvs.scheduler);
  w.boolean("strictARP", c.ipvs.strict_arp);
  w.duration("syncPeriod", c.ipvs.sync_period);
  w.duration("tcpFinTimeout", c.ipvs.tcp_fin_timeout);
  w.duration("tcpTimeout", c.ipvs.tcp_timeout);
  w.duration("udpTimeout", c.ipvs.udp_timeout);
  w.endObject();
  w.string("kind", kKind);
  w.beginObject("logging");
  w.duration("flushFrequency", c.logging.flush_frequency);
  w.string("format", c.logging.format);
  w.beginObject("options");
  w.beginObject("json");
  w.string("infoBufferSize", "0");
  w.endObject();
  w.beginObject("text");
  w.string("infoBufferSize", "0");
  w.endObject();
  w.endObject();
  w.integer("verbosity", c.logging.verbosity);
  writeVModule(w, c.logging.vmodule);
  w.endObject();
  w.string("metricsBindAddress", c.metrics_bind_address);
  w.string("mode", c.mode);
  w.beginObject("nftables");
  w.boolean("masqueradeAll", c.nftables.masquerade_all);
  w.integer("masqueradeBit", c.nftables.masquerade_bit);
  w.duration("minSyncPeriod", c.nftables.min_sync_period);
  w.duration("syncPeriod", c.nftables.sync_period);
  w.endObject();
  w.stringList("nodePortAddresses", c.node_port_addresses);
  w.integer("oomScoreAdj", c.oom_score_adj);
  w.string("portRange", c.port_range);
  w.string("showHiddenMetricsForVersion", c.show_hidden_metrics_for_version);
  w.beginObject("winkernel");
  w.boolean("enableDSR", false);
  w.boolean("forwardHealthCheckVip", false);
  w.string("networkName", "");
  w.string("rootHnsEndpointName", "");
  w.string("sourceVip", "");
  w.endObject();
  w.boolean("windowsRunAsService", false);
  return w.take();
}

}  // namespace kproxy::config
