#include "src/api/validate.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "src/api/decode_internal.h"
#include "src/util/ip.h"

namespace kproxy::api {
namespace internal {
namespace {

// Longest value echoed in a message; longer ones are cut (at a UTF-8 boundary) and marked "...".
constexpr size_t kMaxQuoted = 64;

void appendEscaped(std::string& out, std::string_view text, bool escape_quotes) {
  static const char kHex[] = "0123456789abcdef";
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else if (escape_quotes && (c == '"' || c == '\\')) {
      out.push_back('\\');
      out.push_back(ch);
    } else {
      out.push_back(ch);
    }
  }
}

bool oneOf(std::string_view value, std::initializer_list<std::string_view> allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

std::string indexed(std::string_view path, size_t i) {
  std::string out(path);
  out += '[';
  out += std::to_string(i);
  out += ']';
  return out;
}

bool isLower(char c) { return c >= 'a' && c <= 'z'; }
bool isDigitChar(char c) { return c >= '0' && c <= '9'; }
bool isLowerAlnum(char c) { return isLower(c) || isDigitChar(c); }
bool isAlnum(char c) { return isLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

std::string tooLong(size_t max) {
  std::string out = "must be no more than ";
  out += std::to_string(max);
  out += " characters";
  return out;
}

// The reasons (joined with "; ") `value` breaks one lowercase RFC 1123 label, in the order
// upstream reports them; `first_letter` for RFC 1035 labels.
void labelReasons(std::string_view value, bool first_letter, std::vector<std::string>& reasons) {
  if (value.empty()) {
    reasons.emplace_back("must not be empty");
    return;
  }
  bool charset = std::all_of(value.begin(), value.end(), [](char c) { return isLowerAlnum(c) || c == '-'; });
  if (!charset) {
    bool upper = std::any_of(value.begin(), value.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    reasons.emplace_back(upper ? "must be lowercase: only 'a'-'z', '0'-'9' and '-' are allowed"
                               : "only lowercase letters 'a'-'z', digits and '-' are allowed");
  }
  // Uppercase letters were reported above; here only what is not a letter or digit at all.
  auto letter = [](char c) { return isLower(c) || (c >= 'A' && c <= 'Z'); };
  if (first_letter) {
    if (!letter(value.front())) reasons.emplace_back("must start with a lowercase letter");
    if (!isAlnum(value.back())) reasons.emplace_back("must end with a lowercase letter or digit");
  } else if (!isAlnum(value.front()) || !isAlnum(value.back())) {
    reasons.emplace_back("must start and end with a lowercase letter or digit");
  }
}

std::string joinReasons(std::string_view value, std::string_view what, const std::vector<std::string>& reasons) {
  if (reasons.empty()) return {};
  std::string out = quote(value);
  out += " is not a valid ";
  out += what;
  out += ": ";
  for (size_t i = 0; i < reasons.size(); ++i) {
    if (i > 0) out += "; ";
    out += reasons[i];
  }
  return out;
}

// [A-Za-z0-9] at both ends, [-A-Za-z0-9_.] between: a label value or the name part of a key.
bool isQualifiedNamePart(std::string_view v) {
  if (v.empty() || !isAlnum(v.front()) || !isAlnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [](char c) { return isAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A field path, formatted only when a rule is broken: validation runs over every address of
// every slice, and nearly all of them are fine.
class Path {
 public:
  Path(const char* name) : name_(name) {}  // NOLINT: implicit for literals
  explicit Path(std::string formatted) : formatted_(std::move(formatted)) {}
  Path(const char* list, size_t i, const char* field = nullptr) : name_(list), i_(i), field_(field) {}
  Path(const char* outer, size_t i, const char* inner, size_t j, const char* field = nullptr)
      : outer_(outer), outer_i_(i), name_(inner), i_(j), field_(field) {}

  std::string str() const {
    if (name_ == nullptr) return formatted_;
    std::string out;
    if (outer_ != nullptr) out = indexed(outer_, outer_i_) + ".";
    out += i_ == kNone ? std::string(name_) : indexed(name_, i_);
    if (field_ != nullptr) {
      out += '.';
      out += field_;
    }
    return out;
  }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  const char* outer_ = nullptr;
  size_t outer_i_ = 0;
  const char* name_ = nullptr;  // nullptr: formatted_ is the path
  std::string formatted_;
  size_t i_ = kNone;
  const char* field_ = nullptr;
};

// Parsing is sloppy about surrounding white space (see Checker::ip), never about line breaks.
bool hasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// Collects the problems of one object.
class Checker {
 public:
  explicit Checker(std::vector<FieldProblem>& out) : out_(out) {}

  void add(const Path& path, std::string message) { out_.push_back(FieldProblem{path.str(), std::move(message), 0}); }

  // A rule function's verdict: "" passes.
  void rule(const Path& path, std::string problem) {
    if (!problem.empty()) add(path, std::move(problem));
  }

  // metadata.name by the rule of the kind (upstream's ValidateObjectMeta name functions),
  // metadata.namespace (a DNS-1123 label; "" for cluster-scoped kinds) and the labels kept.
  void meta(const ObjectMeta& meta, std::string (*name_rule)(std::string_view)) {
    if (meta.name.empty()) {
      add("metadata.name", "missing");
    } else {
      rule("metadata.name", name_rule(meta.name));
    }
    if (!meta.namespace_.empty()) rule("metadata.namespace", dns1123LabelProblem(meta.namespace_));
    for (const auto& [key, value] : meta.labels) {
      std::string path = "metadata.labels[";
      path += oneLine(key);
      path += ']';
      std::string key_problem = labelKeyProblem(key);
      if (!key_problem.empty()) {
        add(Path(std::move(path)), std::move(key_problem));
        continue;
      }
      rule(Path(std::move(path)), labelValueProblem(value));
    }
  }

  // upstream: IPs are parsed with ParseIPSloppy (leading zeros allowed); surrounding spaces are
  // trimmed too, as upstream's TestBadIPs expects values such as " 203.0.113.000/025 " to work.
  std::optional<IpAddress> ip(const Path& path, const std::string& text) {
    auto parsed = IpAddress::parseSloppy(text);
    if (!parsed.ok() || hasControl(text)) {
      add(path, quote(text) + " is not a valid IP address");
      return std::nullopt;
    }
    return *parsed;
  }

  void cidr(const Path& path, const std::string& text) {
    if (!Cidr::parseSloppy(text).ok() || hasControl(text)) add(path, quote(text) + " is not a valid CIDR");
  }

  // Ports are 1-65535; `allow_zero` for fields where 0 means "none" (nodePort,
  // healthCheckNodePort) or is ignored by upstream (EndpointSlice ports).
  void port(const Path& path, int32_t value, bool allow_zero) {
    if (value == 0 && allow_zero) return;
    if (value < 1 || value > 65535) add(path, std::to_string(value) + " not in 1-65535");
  }

  void enumValue(const Path& path, const std::string& value, std::initializer_list<std::string_view> allowed) {
    if (oneOf(value, allowed)) return;
    std::string message = quote(value) + " is not one of ";
    bool first = true;
    for (std::string_view a : allowed) {
      if (a.empty()) continue;  // "" is allowed but not worth listing
      if (!first) message += ", ";
      message += a;
      first = false;
    }
    add(path, std::move(message));
  }

 private:
  std::vector<FieldProblem>& out_;
};

bool isNoneOrEmpty(const std::string& cluster_ip) { return cluster_ip.empty() || cluster_ip == "None"; }

}  // namespace

std::string quote(std::string_view value) {
  bool cut = value.size() > kMaxQuoted;
  if (cut) {
    size_t n = kMaxQuoted;
    while (n > 0 && (static_cast<unsigned char>(value[n]) & 0xC0) == 0x80) --n;  // not inside a UTF-8 sequence
    value = value.substr(0, n);
  }
  std::string out;
  out.reserve(value.size() + 8);
  out.push_back('"');
  appendEscaped(out, value, true);
  out.push_back('"');
  if (cut) out += "...";
  return out;
}

std::string oneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  appendEscaped(out, text, false);
  return out;
}

std::string dns1123LabelProblem(std::string_view value) {
  std::vector<std::string> reasons;
  if (value.size() > 63) reasons.push_back(tooLong(63));
  labelReasons(value, false, reasons);
  return joinReasons(value, "DNS-1123 label", reasons);
}

std::string dns1035LabelProblem(std::string_view value) {
  std::vector<std::string> reasons;
  if (value.size() > 63) reasons.push_back(tooLong(63));
  labelReasons(value, true, reasons);
  return joinReasons(value, "DNS-1035 label", reasons);
}

std::string dns1123SubdomainProblem(std::string_view value) {
  std::vector<std::string> reasons;
  if (value.size() > 253) reasons.push_back(tooLong(253));
  // Dot-separated labels (each without a length limit of its own, as upstream's pattern).
  bool ok = !value.empty();
  for (size_t start = 0; ok && start <= value.size();) {
    size_t dot = value.find('.', start);
    std::string_view part = value.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    ok = !part.empty() && isLowerAlnum(part.front()) && isLowerAlnum(part.back()) &&
         std::all_of(part.begin(), part.end(), [](char c) { return isLowerAlnum(c) || c == '-'; });
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (!ok) {
    reasons.emplace_back(value.empty() ? "must not be empty"
                                       : "only lowercase letters 'a'-'z', digits, '-' and '.' are allowed, and each "
                                         "dot-separated part must start and end with a lowercase letter or digit");
  }
  return joinReasons(value, "DNS-1123 subdomain", reasons);
}

std::string portNameProblem(std::string_view value) {
  std::vector<std::string> reasons;
  if (value.size() > 15) reasons.push_back(tooLong(15));
  if (!std::all_of(value.begin(), value.end(), [](char c) { return isLowerAlnum(c) || c == '-'; }) || value.empty()) {
    reasons.emplace_back("only lowercase letters 'a'-'z', digits and '-' are allowed");
  }
  if (!std::any_of(value.begin(), value.end(), isLower)) reasons.emplace_back("must contain at least one letter 'a'-'z'");
  if (value.find("--") != std::string_view::npos) reasons.emplace_back("must not contain two '-' in a row");
  if (!value.empty() && (value.front() == '-' || value.back() == '-')) reasons.emplace_back("must not begin or end with '-'");
  return joinReasons(value, "port name (IANA service name)", reasons);
}

std::string labelValueProblem(std::string_view value) {
  std::vector<std::string> reasons;
  if (value.size() > 63) reasons.push_back(tooLong(63));
  if (!value.empty() && !isQualifiedNamePart(value)) {
    reasons.emplace_back("only letters, digits, '-', '_' and '.' are allowed, starting and ending with a letter or digit");
  }
  return joinReasons(value, "label value", reasons);
}

std::string labelKeyProblem(std::string_view key) {
  std::vector<std::string> reasons;
  std::string_view name = key;
  size_t slash = key.find('/');
  if (slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (name.find('/') != std::string_view::npos) {
      reasons.emplace_back("must contain at most one '/'");
    } else if (prefix.empty()) {
      reasons.emplace_back("the prefix before '/' must not be empty");
    } else if (std::string prefix_problem = dns1123SubdomainProblem(prefix); !prefix_problem.empty()) {
      reasons.emplace_back("the prefix before '/' must be a DNS-1123 subdomain");
    }
  }
  if (reasons.empty()) {
    if (name.empty()) {
      reasons.emplace_back("the name part must not be empty");
    } else {
      if (name.size() > 63) reasons.emplace_back(std::string("the name part ").append(tooLong(63)));
      if (!isQualifiedNamePart(name)) {
        reasons.emplace_back(
            "the name part allows only letters, digits, '-', '_' and '.', starting and ending with a letter or digit");
      }
    }
  }
  return joinReasons(key, "label key", reasons);
}

void FieldPath::appendTo(std::string& out) const {
  if (parent_ != nullptr) parent_->appendTo(out);
  switch (step_) {
    case Step::kRoot:
      break;
    case Step::kName:
      if (!out.empty()) out.push_back('.');
      out.append(name_);
      break;
    case Step::kIndex:
      out.push_back('[');
      out += std::to_string(index_);
      out.push_back(']');
      break;
    case Step::kKey:
      out.push_back('[');
      appendEscaped(out, name_, false);
      out.push_back(']');
      break;
  }
}

std::string FieldPath::str() const {
  std::string out;
  appendTo(out);
  return out;
}

std::string formatProblem(std::string_view kind, const ObjectMeta& meta, const FieldProblem& problem) {
  std::string out;
  if (!meta.source.file.empty()) {
    int line = problem.line;
    if (line == 0) {
      auto it = meta.field_lines.find(problem.path);
      line = it != meta.field_lines.end() ? it->second : meta.source.line;
    }
    appendEscaped(out, meta.source.file, false);
    if (line > 0) {
      out.push_back(':');
      out += std::to_string(line);
    }
    out += ": ";
  }
  out.append(kind);
  if (!meta.name.empty()) {
    out.push_back(' ');
    appendEscaped(out, meta.namespacedName().toString(), false);
  }
  out += ": ";
  if (!problem.path.empty()) {
    out += problem.path;
    out += ": ";
  }
  out += problem.message;
  return out;
}

// What the API server's validation (pkg/apis/core/validation ValidateService) would reject and
// kube-proxy depends on. Rules the API server has but that upstream's own proxier tests break
// (a nodePort on a ClusterIP service, unnamed ports) are left out on purpose: the golden cases
// reproduce those tests.
void checkService(const Service& s, std::vector<FieldProblem>& out) {
  Checker c(out);
  c.meta(s.meta, &dns1035LabelProblem);
  c.enumValue("spec.type", s.type, {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"});
  if (!isNoneOrEmpty(s.cluster_ip)) c.ip("spec.clusterIP", s.cluster_ip);
  for (size_t i = 0; i < s.cluster_ips.size(); ++i) {
    const std::string& ip = s.cluster_ips[i];
    // clusterIPs[0] defaulted from (or equal to) clusterIP was checked above.
    if (isNoneOrEmpty(ip) || (i == 0 && ip == s.cluster_ip)) continue;
    c.ip(Path("spec.clusterIPs", i), ip);
  }
  for (size_t i = 0; i < s.ip_families.size(); ++i) {
    const std::string& family = s.ip_families[i];
    Path path("spec.ipFamilies", i);
    if (!oneOf(family, {"IPv4", "IPv6"})) {
      c.enumValue(path, family, {"IPv4", "IPv6"});
      continue;
    }
    if (i >= s.cluster_ips.size() || isNoneOrEmpty(s.cluster_ips[i])) continue;
    auto ip = IpAddress::parseSloppy(s.cluster_ips[i]);
    if (!ip.ok()) continue;  // reported above
    std::string_view ip_family = ipFamilyName(ip->family());
    if (family != ip_family) {
      c.add(path, family + " does not match spec.clusterIPs[" + std::to_string(i) + "] " + quote(s.cluster_ips[i]) +
                      " (" + std::string(ip_family) + ")");
    }
  }
  for (size_t i = 0; i < s.ports.size(); ++i) {
    const ServicePort& port = s.ports[i];
    if (!port.name.empty()) c.rule(Path("spec.ports", i, "name"), dns1123LabelProblem(port.name));
    c.port(Path("spec.ports", i, "port"), port.port, false);
    // 0 and "" are what the API server defaults to spec.ports[i].port.
    c.port(Path("spec.ports", i, "targetPort"), port.target_port, true);
    if (!port.target_port_name.empty()) c.rule(Path("spec.ports", i, "targetPort"), portNameProblem(port.target_port_name));
    c.port(Path("spec.ports", i, "nodePort"), port.node_port, true);
  }
  for (size_t i = 0; i < s.external_ips.size(); ++i) c.ip(Path("spec.externalIPs", i), s.external_ips[i]);
  c.enumValue("spec.sessionAffinity", s.session_affinity, {"None", "ClientIP"});
  if (s.session_affinity == "ClientIP" &&
      (s.session_affinity_timeout < 1 || s.session_affinity_timeout > 86400)) {
    c.add("spec.sessionAffinityConfig.clientIP.timeoutSeconds",
          std::to_string(s.session_affinity_timeout) + " not in 1-86400");
  }
  c.enumValue("spec.externalTrafficPolicy", s.external_traffic_policy, {"", "Cluster", "Local"});
  c.enumValue("spec.internalTrafficPolicy", s.internal_traffic_policy, {"", "Cluster", "Local"});
  c.port("spec.healthCheckNodePort", s.health_check_node_port, true);
  for (size_t i = 0; i < s.load_balancer_source_ranges.size(); ++i) {
    c.cidr(Path("spec.loadBalancerSourceRanges", i), s.load_balancer_source_ranges[i]);
  }
  for (size_t i = 0; i < s.load_balancer_ingress.size(); ++i) {
    const std::string& ip = s.load_balancer_ingress[i].ip;
    if (!ip.empty()) c.ip(Path("status.loadBalancer.ingress", i, "ip"), ip);
    c.enumValue(Path("status.loadBalancer.ingress", i, "ipMode"), s.load_balancer_ingress[i].ip_mode, {"", "VIP", "Proxy"});
  }
}

void checkEndpointSlice(const EndpointSlice& slice, std::vector<FieldProblem>& out) {
  Checker c(out);
  c.meta(slice.meta, &dns1123SubdomainProblem);
  bool ip_family = false;
  IpFamily family = IpFamily::kIPv4;
  if (slice.address_type.empty()) {
    c.add("addressType", "missing");
  } else if (slice.address_type == "IPv4" || slice.address_type == "IPv6") {
    ip_family = true;
    family = slice.address_type == "IPv4" ? IpFamily::kIPv4 : IpFamily::kIPv6;
  } else {
    c.enumValue("addressType", slice.address_type, {"IPv4", "IPv6", "FQDN"});
  }
  if (ip_family) {
    for (size_t i = 0; i < slice.endpoints.size(); ++i) {
      const auto& addresses = slice.endpoints[i].addresses;
      for (size_t j = 0; j < addresses.size(); ++j) {
        Path path("endpoints", i, "addresses", j);
        auto ip = c.ip(path, addresses[j]);
        if (ip && ip->family() != family) {
          c.add(path, quote(addresses[j]) + " is not an " + slice.address_type + " address");
        }
      }
    }
  }
  for (size_t i = 0; i < slice.endpoints.size(); ++i) {
    const Endpoint& ep = slice.endpoints[i];
    if (ep.node_name) c.rule(Path("endpoints", i, "nodeName"), dns1123SubdomainProblem(*ep.node_name));
    if (ep.zone) c.rule(Path("endpoints", i, "zone"), labelValueProblem(*ep.zone));
    for (size_t j = 0; j < ep.hints_for_zones.size(); ++j) {
      c.rule(Path("endpoints", i, "hints.forZones", j, "name"), labelValueProblem(ep.hints_for_zones[j]));
    }
    for (size_t j = 0; j < ep.hints_for_nodes.size(); ++j) {
      c.rule(Path("endpoints", i, "hints.forNodes", j, "name"), dns1123SubdomainProblem(ep.hints_for_nodes[j]));
    }
  }
  for (size_t i = 0; i < slice.ports.size(); ++i) {
    const EndpointPort& port = slice.ports[i];
    if (port.name && !port.name->empty()) c.rule(Path("ports", i, "name"), dns1123LabelProblem(*port.name));
    // upstream ignores ports without a number (nil or 0), so 0 is allowed here.
    if (port.port) c.port(Path("ports", i, "port"), *port.port, true);
  }
}

void checkNode(const Node& node, std::vector<FieldProblem>& out) {
  Checker c(out);
  c.meta(node.meta, &dns1123SubdomainProblem);
  for (size_t i = 0; i < node.taints.size(); ++i) {
    const NodeTaint& taint = node.taints[i];
    if (taint.key.empty()) {
      c.add(Path("spec.taints", i, "key"), "missing");
    } else {
      c.rule(Path("spec.taints", i, "key"), labelKeyProblem(taint.key));
    }
    c.rule(Path("spec.taints", i, "value"), labelValueProblem(taint.value));
    c.enumValue(Path("spec.taints", i, "effect"), taint.effect, {"NoSchedule", "PreferNoSchedule", "NoExecute"});
  }
  for (size_t i = 0; i < node.pod_cidrs.size(); ++i) c.cidr(Path("spec.podCIDRs", i), node.pod_cidrs[i]);
  for (size_t i = 0; i < node.addresses.size(); ++i) {
    const NodeAddress& a = node.addresses[i];
    if (a.type == "InternalIP" || a.type == "ExternalIP") c.ip(Path("status.addresses", i, "address"), a.address);
  }
}

void checkLegacyEndpoints(const LegacyEndpoints& endpoints, std::vector<FieldProblem>& out) {
  Checker c(out);
  c.meta(endpoints.meta, &dns1123SubdomainProblem);
  for (size_t i = 0; i < endpoints.subsets.size(); ++i) {
    const LegacyEndpointSubset& subset = endpoints.subsets[i];
    for (const char* list : {"addresses", "notReadyAddresses"}) {
      const auto& addresses = list[0] == 'a' ? subset.addresses : subset.not_ready_addresses;
      for (size_t j = 0; j < addresses.size(); ++j) {
        const LegacyEndpointAddress& address = addresses[j];
        c.ip(Path("subsets", i, list, j, "ip"), address.ip);
        if (!address.hostname.empty()) c.rule(Path("subsets", i, list, j, "hostname"), dns1123LabelProblem(address.hostname));
        if (address.node_name) c.rule(Path("subsets", i, list, j, "nodeName"), dns1123SubdomainProblem(*address.node_name));
      }
    }
    // The API server requires a port number on every Endpoints port.
    for (size_t j = 0; j < subset.ports.size(); ++j) {
      const EndpointPort& port = subset.ports[j];
      if (port.name && !port.name->empty()) c.rule(Path("subsets", i, "ports", j, "name"), dns1123LabelProblem(*port.name));
      c.port(Path("subsets", i, "ports", j, "port"), port.port.value_or(0), false);
    }
  }
}

}  // namespace internal

namespace {

template <class T>
std::vector<Error> validate(std::string_view kind, const T& object,
                            void (*check)(const T&, std::vector<internal::FieldProblem>&)) {
  std::vector<internal::FieldProblem> problems;
  check(object, problems);
  std::vector<Error> errors;
  errors.reserve(problems.size());
  for (const auto& p : problems) errors.emplace_back(internal::formatProblem(kind, object.meta, p));
  return errors;
}

}  // namespace

std::vector<Error> validateService(const Service& service) {
  return validate("Service", service, &internal::checkService);
}

std::vector<Error> validateEndpointSlice(const EndpointSlice& slice) {
  return validate("EndpointSlice", slice, &internal::checkEndpointSlice);
}

std::vector<Error> validateNode(const Node& node) { return validate("Node", node, &internal::checkNode); }

}  // namespace kproxy::api
