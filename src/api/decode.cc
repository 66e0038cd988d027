// Entry point of manifest decoding: picks the walker for each file, collects what the walkers
// decode (ManifestSink), converts legacy Endpoints and applies kube-proxy's label selection.
#include "src/api/decode.h"

#include <algorithm>
#include <exception>
#include <set>

#include "src/api/decode_internal.h"
#include "src/util/ip.h"

namespace kproxy::api {
namespace internal {

std::optional<Protocol> parseProtocol(std::string_view text) {
  if (text == "TCP" || text.empty()) return Protocol::kTCP;  // API server default
  if (text == "UDP") return Protocol::kUDP;
  if (text == "SCTP") return Protocol::kSCTP;
  return std::nullopt;
}

std::vector<Endpoint>& endpointScratch() {
  thread_local std::vector<Endpoint> scratch;
  return scratch;
}

void applyNamespaceDefault(ObjectMeta& meta) {
  // kubectl apply puts namespaced objects without a namespace into "default".
  if (meta.namespace_.empty()) meta.namespace_ = "default";
}

// The API server's defaulting (pkg/apis/core/v1 SetDefaults_Service and the service registry's
// normalizeClusterIPs / initIPFamilyFields) as far as kube-proxy reads the result.
void applyServiceDefaults(Service& s) {
  if (s.type.empty()) s.type = "ClusterIP";
  if (s.session_affinity.empty()) s.session_affinity = "None";
  // session_affinity_timeout starts at 10800, the default for ClientIP when unset.
  if (s.cluster_ips.empty() && !s.cluster_ip.empty() && s.cluster_ip != "None") s.cluster_ips = {s.cluster_ip};
  if (s.ip_families.empty()) {
    for (const std::string& ip : s.cluster_ips) {
      auto parsed = IpAddress::parseSloppy(ip);
      if (!parsed.ok()) break;  // "None" or invalid (validation reports the latter)
      s.ip_families.emplace_back(ipFamilyName(parsed->family()));
    }
  }
}

// Legacy v1 Endpoints -> EndpointSlices, as the EndpointSlice mirroring controller
// (pkg/controller/endpointslicemirroring) would make them:
//  * each subset gives one slice per address family that has addresses in it (IPv4 first), the
//    family taken from parsing each address; a family without addresses gives no slice;
//  * the slice carries the subset's ports (name "" when missing, port, protocol);
//  * `addresses` become endpoints with conditions.ready = true, `notReadyAddresses` endpoints
//    with ready = false, in that order; serving and terminating stay unset; nodeName is kept
//    (the hostname has no field in our Endpoint);
//  * labels are the Endpoints' labels plus kubernetes.io/service-name=<name> and
//    endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io;
//    annotations are copied except last-applied-configuration and last-change-trigger-time.
// Differences, for determinism: the controller names slices "<name>-<random>"; we use
// "<name>-mirror-<n>" with n counting from 1 in subset and family order. The controller also
// merges subsets with identical ports and caps a subset at 1000 addresses; neither changes what
// kube-proxy renders (it merges all slices of a service), so neither is reproduced.
// Whether an Endpoints is mirrored at all is decided in ManifestSink::finish().
std::vector<std::shared_ptr<EndpointSlice>> mirrorEndpoints(const LegacyEndpoints& endpoints) {
  std::vector<std::shared_ptr<EndpointSlice>> slices;
  int n = 0;
  for (const LegacyEndpointSubset& subset : endpoints.subsets) {
    for (IpFamily family : {IpFamily::kIPv4, IpFamily::kIPv6}) {
      auto slice = std::make_shared<EndpointSlice>();
      auto add = [&](const LegacyEndpointAddress& address, bool ready) {
        auto ip = IpAddress::parseSloppy(address.ip);
        if (!ip.ok() || ip->family() != family) return;
        Endpoint& ep = slice->endpoints.emplace_back();
        ep.addresses = {address.ip};
        ep.conditions.ready = ready;
        ep.node_name = address.node_name;
      };
      for (const auto& address : subset.addresses) add(address, true);
      for (const auto& address : subset.not_ready_addresses) add(address, false);
      if (slice->endpoints.empty()) continue;

      ObjectMeta& meta = slice->meta;
      meta.namespace_ = endpoints.meta.namespace_;
      meta.name = endpoints.meta.name + "-mirror-" + std::to_string(++n);
      meta.source = endpoints.meta.source;
      meta.labels = endpoints.meta.labels;
      meta.labels[kLabelServiceName] = endpoints.meta.name;
      meta.labels[kLabelManagedBy] = kMirroringControllerName;
      meta.annotations = endpoints.meta.annotations;
      meta.annotations.erase("kubectl.kubernetes.io/last-applied-configuration");
      meta.annotations.erase(kAnnotationLastChangeTriggerTime);
      slice->address_type = std::string(ipFamilyName(family));
      slice->ports = subset.ports;
      slices.push_back(std::move(slice));
    }
  }
  return slices;
}

void ManifestSink::fileError(int line, std::string_view message) {
  std::string text;
  if (!file_.empty()) {
    text = file_;
    if (line > 0) {
      text += ':';
      text += std::to_string(line);
    }
    text += ": ";
  }
  text += message;
  errors_.emplace_back(oneLine(text));
  syntax_error_ = true;  // a document (not one object's field) could not be understood
}

void ManifestSink::syntaxError(std::string_view message) {
  std::string text = file_.empty() ? std::string() : file_ + ": ";
  text += message;
  errors_.emplace_back(oneLine(text));
  syntax_error_ = true;
}

template <class T>
bool ManifestSink::keep(std::string_view kind, const ObjectMeta& meta, ObjectContext& ctx,
                        void (*check)(const T&, std::vector<FieldProblem>&), const T& object) {
  std::vector<FieldProblem> problems = std::move(ctx.problems);
  std::vector<FieldProblem> rules;
  check(object, rules);
  for (FieldProblem& rule : rules) {
    // A field the decoder could not read (or whose parent it could not read) was reported by
    // the decoder; its zero value would only repeat that.
    bool covered = std::any_of(problems.begin(), problems.end(), [&](const FieldProblem& p) {
      if (p.path.empty() || rule.path.compare(0, p.path.size(), p.path) != 0) return false;
      return rule.path.size() == p.path.size() || rule.path[p.path.size()] == '.' || rule.path[p.path.size()] == '[';
    });
    if (!covered) problems.push_back(std::move(rule));
  }
  if (problems.empty()) return true;
  // In the order of the file where lines are known.
  auto line_of = [&](const FieldProblem& p) {
    if (p.line != 0) return p.line;
    auto it = meta.field_lines.find(p.path);
    return it != meta.field_lines.end() ? it->second : meta.source.line;
  };
  std::stable_sort(problems.begin(), problems.end(),
                   [&](const FieldProblem& a, const FieldProblem& b) { return line_of(a) < line_of(b); });
  for (const FieldProblem& p : problems) errors_.emplace_back(formatProblem(kind, meta, p));
  return false;
}

void ManifestSink::addService(std::shared_ptr<Service> service, ObjectContext&& ctx) {
  if (keep<Service>("Service", service->meta, ctx, &checkService, *service)) services_.push_back(std::move(service));
}

void ManifestSink::addEndpointSlice(std::shared_ptr<EndpointSlice> slice, ObjectContext&& ctx) {
  std::string service_name = slice->serviceName();
  if (!service_name.empty()) slice_owners_.push_back(NamespacedName{slice->meta.namespace_, std::move(service_name)});
  if (keep<EndpointSlice>("EndpointSlice", slice->meta, ctx, &checkEndpointSlice, *slice)) {
    slices_.push_back(std::move(slice));
  }
}

void ManifestSink::addNode(std::shared_ptr<Node> node, ObjectContext&& ctx) {
  if (keep<Node>("Node", node->meta, ctx, &checkNode, *node)) nodes_.push_back(std::move(node));
}

void ManifestSink::addEndpoints(LegacyEndpoints&& endpoints, ObjectContext&& ctx) {
  if (keep<LegacyEndpoints>("Endpoints", endpoints.meta, ctx, &checkLegacyEndpoints, endpoints)) {
    endpoints_.push_back(std::move(endpoints));
  }
}

void ManifestSink::addServiceCIDR(std::shared_ptr<ServiceCIDR> cidr, ObjectContext&& ctx) {
  if (keep<ServiceCIDR>("ServiceCIDR", cidr->meta, ctx, &checkServiceCIDR, *cidr)) service_cidrs_.push_back(std::move(cidr));
}

ManifestSink::Checkpoint ManifestSink::checkpoint() const {
  return Checkpoint{services_.size(), slices_.size(), nodes_.size(), endpoints_.size(), slice_owners_.size(),
                    errors_.size(), service_cidrs_.size()};
}

void ManifestSink::rollback(const Checkpoint& c) {
  services_.resize(c.services);
  slices_.resize(c.slices);
  nodes_.resize(c.nodes);
  endpoints_.resize(c.endpoints);
  slice_owners_.resize(c.slice_owners);
  errors_.resize(c.errors);
  service_cidrs_.resize(c.service_cidrs);
}

DecodeResult ManifestSink::finish() && {
  // An Endpoints is mirrored only when no EndpointSlice of the input belongs to its service (as
  // in a cluster dump, where the EndpointSlice controller already made them, or the user wrote
  // them) and it does not opt out with endpointslice.kubernetes.io/skip-mirror: "true". Unlike
  // the controller, we do not look for the Service or its selector: in a set of manifests
  // nothing else would turn those Endpoints into slices.
  std::set<NamespacedName> sliced(slice_owners_.begin(), slice_owners_.end());
  for (const LegacyEndpoints& endpoints : endpoints_) {
    auto skip = endpoints.meta.labels.find(kLabelSkipMirror);
    if (skip != endpoints.meta.labels.end() && skip->second == "true") continue;
    if (sliced.count(endpoints.meta.namespacedName()) != 0) continue;
    for (auto& slice : mirrorEndpoints(endpoints)) slices_.push_back(std::move(slice));
  }

  DecodeResult result;
  result.state.services.reserve(services_.size());
  for (auto& service : services_) {
    if (selectedByKubeProxy(service->meta)) result.state.services.push_back(std::move(service));
  }
  result.state.endpoint_slices.reserve(slices_.size());
  for (auto& slice : slices_) {
    if (selectedByKubeProxy(slice->meta)) result.state.endpoint_slices.push_back(std::move(slice));
  }
  result.state.nodes.assign(nodes_.begin(), nodes_.end());
  result.state.service_cidrs.assign(service_cidrs_.begin(), service_cidrs_.end());
  result.errors = std::move(errors_);
  result.syntax_error = syntax_error_;
  result.legacy_endpoints = !endpoints_.empty();
  return result;
}

}  // namespace internal

namespace {

// JSON when the first byte after white space (and a UTF-8 byte order mark) opens an object or
// an array; YAML otherwise. (A YAML flow mapping "{...}" is therefore read as JSON.)
bool looksLikeJson(std::string_view bytes) {
  if (bytes.substr(0, 3) == "\xEF\xBB\xBF") bytes.remove_prefix(3);
  for (char c : bytes) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    return c == '{' || c == '[';
  }
  return false;
}

}  // namespace

bool selectedByKubeProxy(const ObjectMeta& meta) {
  // upstream: kube-proxy's informers list with the label selector
  // "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless": the key's
  // presence excludes the object, whatever its value.
  return meta.labels.count(kLabelServiceProxyName) == 0 && meta.labels.count(kLabelHeadless) == 0;
}

void releaseDecoderBuffers() {
  internal::releaseJsonDecoderBuffers();
  std::vector<Endpoint>().swap(internal::endpointScratch());
}

DecodeResult decodeManifests(const std::vector<ManifestFile>& files) {
  internal::ManifestSink sink;
  for (const ManifestFile& file : files) {
    sink.beginFile(file.name);
    // The walkers turn parser exceptions into errors themselves; this is the last line of
    // defence (allocation failure on absurd input, a library bug).
    auto checkpoint = sink.checkpoint();
    try {
      if (looksLikeJson(file.text())) {
        internal::decodeJsonFile(file, sink);
      } else {
        internal::decodeYamlFile(file, sink);
      }
    } catch (const std::exception& e) {
      sink.rollback(checkpoint);
      sink.syntaxError(std::string("cannot decode: ") + e.what());
    } catch (...) {
      sink.rollback(checkpoint);
      sink.syntaxError("cannot decode: unknown error");
    }
  }
  return std::move(sink).finish();
}

}  // namespace kproxy::api
