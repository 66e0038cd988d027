// Internal to src/api (and its unit tests): what the YAML and JSON walkers share.
//
// Each walker wraps its parser's node in a small value class (the "adapter", below) and hands
// the document to decodeDocument<V>(), which fills the structs of objects.h. The field-by-field
// code is written once, as templates over the adapter, so that the JSON path pays for no virtual
// call and no copy it does not need, and the YAML path keeps the line of every field.
//
// The adapter V provides:
//   static constexpr bool kHasLines;        // line() is meaningful (YAML); false for JSON
//   bool isNull() const; bool isMap() const; bool isList() const;
//   int line() const;                       // 1-based; 0 when unknown. Ask before reading the
//                                           // value (a JSON value can only tell it until then)
//   template <class F> void forEachField(F&& f) const;  // f(std::string_view key, const V& value),
//                                           // in document order; may run again on the same value
//   template <class F> void forEachItem(F&& f) const;   // f(int index, const V& item); once
//   size_t listSize() const;                // number of items (for reserve); 0 when unknown
//   bool readString(std::string_view& out) const;       // false: not a string
//   IntRead readInt(int64_t& out) const;
//   bool readBool(bool& out) const;         // false: not a boolean
//   std::string describe() const;           // the value as shown after "got" in messages
// String views stay valid until the document is dropped.
#pragma once

#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/api/decode.h"
#include "src/api/objects.h"
#include "src/util/result.h"

namespace kproxy::api::internal {

// ---------------------------------------------------------------------------------------------
// Field paths and problems

// A path built on the stack as the walker descends ("spec.ports[1].nodePort"); formatted only
// when a message or a field line needs it. A child refers to its parent: keep parents alive.
class FieldPath {
 public:
  FieldPath() = default;
  FieldPath child(std::string_view name) const { return FieldPath(this, Step::kName, name, 0); }
  FieldPath index(int i) const { return FieldPath(this, Step::kIndex, {}, i); }
  // A key of a string map: "metadata.labels[app]".
  FieldPath key(std::string_view k) const { return FieldPath(this, Step::kKey, k, 0); }

  std::string str() const;

 private:
  enum class Step : uint8_t { kRoot, kName, kIndex, kKey };
  FieldPath(const FieldPath* parent, Step step, std::string_view name, int index)
      : parent_(parent), step_(step), name_(name), index_(index) {}
  void appendTo(std::string& out) const;

  const FieldPath* parent_ = nullptr;
  Step step_ = Step::kRoot;
  std::string_view name_;
  int index_ = 0;
};

// One problem with one field of one object, before the object's name is known.
struct FieldProblem {
  std::string path;     // "spec.ports[1].nodePort"; "" for the object as a whole
  std::string message;  // "70000 not in 1-65535"
  int line = 0;         // where the decoder saw it; 0: ObjectMeta::field_lines, then the object's line
};

// Go %q-like quoting for values echoed in messages: escapes quotes, backslashes and control
// characters (so a message stays on one line) and shortens long values.
std::string quote(std::string_view value);
// `text` with control characters escaped, so that it fits on one line.
std::string oneLine(std::string_view text);

// "file:line: Kind namespace/name: path: message", dropping the parts that are unknown. The line
// is the problem's, else field_lines[path], else the object's.
std::string formatProblem(std::string_view kind, const ObjectMeta& meta, const FieldProblem& problem);

// Protocols as the API spells them; "" is the API server's default (TCP).
std::optional<Protocol> parseProtocol(std::string_view text);

// ---------------------------------------------------------------------------------------------
// Legacy v1 Endpoints, kept only until they are converted to EndpointSlices (decode.cc).

struct LegacyEndpointAddress {
  std::string ip;
  std::optional<std::string> node_name;
  std::string hostname;
};

struct LegacyEndpointSubset {
  std::vector<LegacyEndpointAddress> addresses;
  std::vector<LegacyEndpointAddress> not_ready_addresses;
  std::vector<EndpointPort> ports;  // name "" when absent; port required (validation)
};

struct LegacyEndpoints {
  ObjectMeta meta;
  std::vector<LegacyEndpointSubset> subsets;
};

inline constexpr char kLabelSkipMirror[] = "endpointslice.kubernetes.io/skip-mirror";
inline constexpr char kLabelManagedBy[] = "endpointslice.kubernetes.io/managed-by";
inline constexpr char kMirroringControllerName[] = "endpointslicemirroring-controller.k8s.io";

// The EndpointSlices the mirroring controller would make from `endpoints` (see decode.cc).
std::vector<std::shared_ptr<EndpointSlice>> mirrorEndpoints(const LegacyEndpoints& endpoints);

// ---------------------------------------------------------------------------------------------
// Validation (validate.cc): appends one FieldProblem per rule broken.

// The API server's name rules (apimachinery's util/validation), each returning "" when `value`
// passes, else a message that quotes it: "\"Web\" is not a valid DNS-1123 label: ...".
std::string dns1123LabelProblem(std::string_view value);      // namespaces, port names
std::string dns1035LabelProblem(std::string_view value);      // Service names
std::string dns1123SubdomainProblem(std::string_view value);  // EndpointSlice, Node, ServiceCIDR names
std::string portNameProblem(std::string_view value);          // named targetPorts (IANA service names)
std::string labelValueProblem(std::string_view value);
std::string labelKeyProblem(std::string_view key);            // [prefix/]name

void checkService(const Service& service, std::vector<FieldProblem>& out);
void checkEndpointSlice(const EndpointSlice& slice, std::vector<FieldProblem>& out);
void checkNode(const Node& node, std::vector<FieldProblem>& out);
void checkLegacyEndpoints(const LegacyEndpoints& endpoints, std::vector<FieldProblem>& out);
// service_cidr.cc (kept apart from validate.cc).
void checkServiceCIDR(const ServiceCIDR& cidr, std::vector<FieldProblem>& out);

// ---------------------------------------------------------------------------------------------
// Where decoded objects go (decode.cc).

// The problems of one object being decoded, and where its field lines go.
struct ObjectContext {
  explicit ObjectContext(ObjectMeta& m) : meta(&m) {}

  void problem(const FieldPath& path, int line, std::string message) {
    problems.push_back(FieldProblem{path.str(), std::move(message), line});
  }
  // Records the line of a field that validation may name (YAML only).
  template <class V>
  void noteLine(const V& value, const FieldPath& path) {
    if constexpr (V::kHasLines) meta->field_lines.insert_or_assign(path.str(), value.line());
  }

  ObjectMeta* meta;
  std::vector<FieldProblem> problems;
};

// Collects the objects and errors of all files, in input order, then converts Endpoints and
// applies kube-proxy's label selection (finish()).
class ManifestSink {
 public:
  void beginFile(std::string_view name) { file_ = std::string(name); }
  const std::string& file() const { return file_; }

  // "<file>:<line>: <message>" (":<line>" dropped when 0).
  void fileError(int line, std::string_view message);
  // "<file>: <message>", for syntax errors that carry their own position.
  void syntaxError(std::string_view message);

  // Validates the object; keeps it if neither decoding nor validation found a problem, else
  // reports every problem.
  void addService(std::shared_ptr<Service> service, ObjectContext&& ctx);
  void addEndpointSlice(std::shared_ptr<EndpointSlice> slice, ObjectContext&& ctx);
  void addNode(std::shared_ptr<Node> node, ObjectContext&& ctx);
  void addEndpoints(LegacyEndpoints&& endpoints, ObjectContext&& ctx);
  void addServiceCIDR(std::shared_ptr<ServiceCIDR> cidr, ObjectContext&& ctx);

  // For dropping what a document added when it turns out to be unusable.
  struct Checkpoint {
    size_t services, slices, nodes, endpoints, slice_owners, errors, service_cidrs;
  };
  Checkpoint checkpoint() const;
  void rollback(const Checkpoint& c);

  DecodeResult finish() &&;

 private:
  template <class T>
  bool keep(std::string_view kind, const ObjectMeta& meta, ObjectContext& ctx,
            void (*check)(const T&, std::vector<FieldProblem>&), const T& object);

  std::string file_;
  std::vector<std::shared_ptr<Service>> services_;
  std::vector<std::shared_ptr<EndpointSlice>> slices_;
  std::vector<std::shared_ptr<Node>> nodes_;
  std::vector<LegacyEndpoints> endpoints_;
  std::vector<std::shared_ptr<ServiceCIDR>> service_cidrs_;
  // (namespace, service-name label) of every EndpointSlice in the input, valid or not.
  std::vector<NamespacedName> slice_owners_;
  std::vector<Error> errors_;
  bool syntax_error_ = false;
};

// The walkers (decode_yaml.cc, decode_json.cc): decode one whole file into the sink.
void decodeYamlFile(const ManifestFile& file, ManifestSink& sink);
void decodeJsonFile(const ManifestFile& file, ManifestSink& sink);
void releaseJsonDecoderBuffers();  // decode.h: releaseDecoderBuffers

// ---------------------------------------------------------------------------------------------
// The shared field walker.

enum class IntRead : uint8_t { kOk, kWrongType, kOutOfRange };

// Lists of Lists (and alias cycles through `items`) end here.
inline constexpr int kMaxListDepth = 16;

template <class V>
bool asMap(const V& v, const FieldPath& path, ObjectContext& ctx) {
  if (v.isMap()) return true;
  if (!v.isNull()) ctx.problem(path, v.line(), "expected a map, got " + v.describe());
  return false;
}

template <class V>
bool asList(const V& v, const FieldPath& path, ObjectContext& ctx) {
  if (v.isList()) return true;
  if (!v.isNull()) ctx.problem(path, v.line(), "expected a list, got " + v.describe());
  return false;
}

// null (or absent) leaves `out` alone and returns false, as Go's JSON decoding does.
template <class V>
bool readString(const V& v, const FieldPath& path, ObjectContext& ctx, std::string& out) {
  if (v.isNull()) return false;
  std::string_view s;
  if (!v.readString(s)) {
    ctx.problem(path, v.line(), "expected a string, got " + v.describe());
    return false;
  }
  out.assign(s.data(), s.size());
  return true;
}

template <class V>
void readOptionalString(const V& v, const FieldPath& path, ObjectContext& ctx, std::optional<std::string>& out) {
  std::string s;
  if (readString(v, path, ctx, s)) out = std::move(s);
}

template <class V>
bool readInt32(const V& v, const FieldPath& path, ObjectContext& ctx, int32_t& out) {
  if (v.isNull()) return false;
  int64_t n = 0;
  switch (v.readInt(n)) {
    case IntRead::kOk:
      if (n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max()) {
        ctx.problem(path, v.line(), std::to_string(n) + " is out of range for a 32-bit integer");
        return false;
      }
      out = static_cast<int32_t>(n);
      return true;
    case IntRead::kOutOfRange:
      ctx.problem(path, v.line(), v.describe() + " is out of range for a 32-bit integer");
      return false;
    case IntRead::kWrongType:
      break;
  }
  ctx.problem(path, v.line(), "expected an integer, got " + v.describe());
  return false;
}

template <class V>
void readOptionalBool(const V& v, const FieldPath& path, ObjectContext& ctx, std::optional<bool>& out) {
  if (v.isNull()) return;
  bool b = false;
  if (!v.readBool(b)) {
    ctx.problem(path, v.line(), "expected a boolean, got " + v.describe());
    return;
  }
  out = b;
}

template <class V>
void readProtocol(const V& v, const FieldPath& path, ObjectContext& ctx, Protocol& out) {
  std::string text;
  if (!readString(v, path, ctx, text)) return;
  if (auto p = parseProtocol(text)) {
    out = *p;
  } else {
    ctx.problem(path, v.line(), quote(text) + " is not one of TCP, UDP, SCTP");
  }
}

// A list of strings; with `note_lines`, the line of each entry is kept for validation.
template <class V>
void readStringList(const V& v, const FieldPath& path, ObjectContext& ctx, std::vector<std::string>& out,
                    bool note_lines) {
  out.clear();
  if (!asList(v, path, ctx)) return;
  out.reserve(v.listSize());
  v.forEachItem([&](int i, const V& item) {
    FieldPath p = path.index(i);
    std::string s;
    readString(item, p, ctx, s);  // null entries become "", as in Go
    if (note_lines) ctx.noteLine(item, p);
    out.push_back(std::move(s));
  });
}

// A map of strings (labels, annotations); null values become "".
template <class V>
void readStringMap(const V& v, const FieldPath& path, ObjectContext& ctx, std::map<std::string, std::string>& out) {
  out.clear();
  if (!asMap(v, path, ctx)) return;
  v.forEachField([&](std::string_view key, const V& value) {
    std::string s;
    readString(value, path.key(key), ctx, s);
    out.insert_or_assign(std::string(key), std::move(s));
  });
}

// A list of objects: decode_item(item, item_path, element) fills each element from a map.
template <class V, class T, class F>
void readObjectList(const V& v, const FieldPath& path, ObjectContext& ctx, std::vector<T>& out, F&& decode_item) {
  out.clear();
  if (!asList(v, path, ctx)) return;
  out.reserve(v.listSize());
  v.forEachItem([&](int i, const V& item) {
    FieldPath p = path.index(i);
    T& element = out.emplace_back();
    if (asMap(item, p, ctx)) decode_item(item, p, element);
  });
}

// A list of {name: ...} entries (EndpointSlice hints).
template <class V>
void readNameList(const V& v, const FieldPath& path, ObjectContext& ctx, std::vector<std::string>& out) {
  readObjectList(v, path, ctx, out, [&](const V& item, const FieldPath& p, std::string& name) {
    item.forEachField([&](std::string_view key, const V& value) {
      if (key == "name") readString(value, p.child("name"), ctx, name);
    });
  });
}

// Which labels an object keeps: a Node's all (topology reads them), a Service's or EndpointSlice's
// only the few kube-proxy reads (the rest, app labels and the like, cost a 10k-service daemon
// megabytes).
enum class KeptLabels { kAll, kKubeProxys };

inline bool labelReadByKubeProxy(std::string_view key) {
  return key == kLabelServiceName || key == kLabelServiceProxyName || key == kLabelHeadless;
}

// Reads a string field and notes its line (for fields that validation checks).
template <class V>
void readCheckedString(const V& v, const FieldPath& path, ObjectContext& ctx, std::string& out) {
  readString(v, path, ctx, out);
  ctx.noteLine(v, path);
}

template <class V>
void readCheckedInt32(const V& v, const FieldPath& path, ObjectContext& ctx, int32_t& out) {
  readInt32(v, path, ctx, out);
  ctx.noteLine(v, path);
}

template <class V>
void decodeMeta(const V& v, const FieldPath& path, ObjectContext& ctx, KeptLabels kept_labels) {
  if (!asMap(v, path, ctx)) return;
  ObjectMeta& meta = *ctx.meta;
  v.forEachField([&](std::string_view key, const V& value) {
    if (key == "name") {
      readCheckedString(value, path.child("name"), ctx, meta.name);
    } else if (key == "namespace") {
      readCheckedString(value, path.child("namespace"), ctx, meta.namespace_);
    } else if (key == "resourceVersion") {
      readString(value, path.child("resourceVersion"), ctx, meta.resource_version);
    } else if (key == "deletionTimestamp") {
      readString(value, path.child("deletionTimestamp"), ctx, meta.deletion_timestamp);
    } else if (key == "labels") {
      readStringMap(value, path.child("labels"), ctx, meta.labels);
      if (kept_labels == KeptLabels::kKubeProxys) {
        for (auto it = meta.labels.begin(); it != meta.labels.end();) {
          it = labelReadByKubeProxy(it->first) ? std::next(it) : meta.labels.erase(it);
        }
      }
    } else if (key == "annotations") {
      readStringMap(value, path.child("annotations"), ctx, meta.annotations);
      // Only the EndpointSlice trigger time is ever read; the rest (last-applied-configuration
      // above all) would be a large share of a 10k-service daemon's memory.
      for (auto it = meta.annotations.begin(); it != meta.annotations.end();) {
        it = it->first == kAnnotationLastChangeTriggerTime ? std::next(it) : meta.annotations.erase(it);
      }
    }
  });
}

// --- Service (v1)

template <class V>
void decodeServicePort(const V& v, const FieldPath& path, ObjectContext& ctx, ServicePort& port) {
  v.forEachField([&](std::string_view key, const V& value) {
    if (key == "name") {
      readCheckedString(value, path.child("name"), ctx, port.name);
    } else if (key == "protocol") {
      readProtocol(value, path.child("protocol"), ctx, port.protocol);
    } else if (key == "port") {
      readCheckedInt32(value, path.child("port"), ctx, port.port);
    } else if (key == "nodePort") {
      readCheckedInt32(value, path.child("nodePort"), ctx, port.node_port);
    } else if (key == "targetPort") {
      // An int-or-string: a number, or the name of a container port.
      FieldPath p = path.child("targetPort");
      if (value.isNull()) return;
      const int line = value.line();
      int64_t n = 0;
      std::string_view name;
      IntRead read = value.readInt(n);
      if (read == IntRead::kOk && n >= std::numeric_limits<int32_t>::min() && n <= std::numeric_limits<int32_t>::max()) {
        port.target_port = static_cast<int32_t>(n);
      } else if (read != IntRead::kWrongType) {
        ctx.problem(p, line, value.describe() + " is out of range for a 32-bit integer");
      } else if (value.readString(name)) {
        port.target_port_name.assign(name.data(), name.size());
      } else {
        ctx.problem(p, line, "expected an integer or a string, got " + value.describe());
      }
      ctx.noteLine(value, p);
    }
  });
}

template <class V>
void decodeServiceSpec(const V& v, const FieldPath& path, ObjectContext& ctx, Service& s) {
  if (!asMap(v, path, ctx)) return;
  v.forEachField([&](std::string_view key, const V& value) {
    if (key == "type") {
      readCheckedString(value, path.child("type"), ctx, s.type);
    } else if (key == "clusterIP") {
      readCheckedString(value, path.child("clusterIP"), ctx, s.cluster_ip);
    } else if (key == "clusterIPs") {
      readStringList(value, path.child("clusterIPs"), ctx, s.cluster_ips, true);
    } else if (key == "ipFamilies") {
      readStringList(value, path.child("ipFamilies"), ctx, s.ip_families, true);
    } else if (key == "ports") {
      readObjectList(value, path.child("ports"), ctx, s.ports,
                     [&](const V& item, const FieldPath& p, ServicePort& port) { decodeServicePort(item, p, ctx, port); });
    } else if (key == "externalIPs") {
      readStringList(value, path.child("externalIPs"), ctx, s.external_ips, true);
    } else if (key == "sessionAffinity") {
      readCheckedString(value, path.child("sessionAffinity"), ctx, s.session_affinity);
    } else if (key == "sessionAffinityConfig") {
      FieldPath config_path = path.child("sessionAffinityConfig");
      if (!asMap(value, config_path, ctx)) return;
      value.forEachField([&](std::string_view config_key, const V& client_ip) {
        if (config_key != "clientIP") return;
        FieldPath client_ip_path = config_path.child("clientIP");
        if (!asMap(client_ip, client_ip_path, ctx)) return;
        client_ip.forEachField([&](std::string_view k, const V& timeout) {
          if (k == "timeoutSeconds") {
            readCheckedInt32(timeout, client_ip_path.child("timeoutSeconds"), ctx, s.session_affinity_timeout);
          }
        });
      });
    } else if (key == "externalTrafficPolicy") {
      readCheckedString(value, path.child("externalTrafficPolicy"), ctx, s.external_traffic_policy);
    } else if (key == "internalTrafficPolicy") {
      readCheckedString(value, path.child("internalTrafficPolicy"), ctx, s.internal_traffic_policy);
    } else if (key == "healthCheckNodePort") {
      readCheckedInt32(value, path.child("healthCheckNodePort"), ctx, s.health_check_node_port);
    } else if (key == "loadBalancerSourceRanges") {
      readStringList(value, path.child("loadBalancerSourceRanges"), ctx, s.load_balancer_source_ranges, true);
    } else if (key == "selector") {
      s.has_selector = false;
      if (!asMap(value, path.child("selector"), ctx)) return;
      value.forEachField([&](std::string_view, const V&) { s.has_selector = true; });
    }
  });
}

template <class V>
void decodeServiceStatus(const V& v, const FieldPath& path, ObjectContext& ctx, Service& s) {
  if (!asMap(v, path, ctx)) return;
  v.forEachField([&](std::string_view key, const V& lb) {
    if (key != "loadBalancer") return;
    FieldPath lb_path = path.child("loadBalancer");
    if (!asMap(lb, lb_path, ctx)) return;
    lb.forEachField([&](std::string_view lb_key, const V& ingress) {
      if (lb_key != "ingress") return;
      readObjectList(ingress, lb_path.child("ingress"), ctx, s.load_balancer_ingress,
                     [&](const V& item, const FieldPath& p, LoadBalancerIngress& entry) {
        item.forEachField([&](std::string_view k, const V& value) {
          if (k == "ip") {
            readCheckedString(value, p.child("ip"), ctx, entry.ip);
          } else if (k == "hostname") {
            readString(value, p.child("hostname"), ctx, entry.hostname);
          } else if (k == "ipMode") {
            readString(value, p.child("ipMode"), ctx, entry.ip_mode);
          }
        });
      });
    });
  });
}

// API server defaults that kube-proxy depends on (decode.cc).
void applyServiceDefaults(Service& service);
void applyNamespaceDefault(ObjectMeta& meta);

template <class V>
void decodeService(const V& v, int line, ManifestSink& sink) {
  auto service = std::make_shared<Service>();
  service->meta.source = SourceRef{sink.file(), line};
  ObjectContext ctx(service->meta);
  FieldPath root;
  v.forEachField([&](std::string_view key, const V& value) {
    if (key == "metadata") {
      decodeMeta(value, root.child("metadata"), ctx, KeptLabels::kKubeProxys);
    } else if (key == "spec") {
      decodeServiceSpec(value, root.child("spec"), ctx, *service);
    } else if (key == "status") {
      decodeServiceStatus(value, root.child("status"), ctx, *service);
    }
  });
  applyNamespaceDefault(service->meta);
  applyServiceDefaults(*service);
  sink.addService(std::move(service), std::move(ctx));
}

// --- EndpointSlice (discovery.k8s.io/v1)

// A per-thread vector reused while decoding (decode.cc).
std::vector<Endpoint>& endpointScratch();

template <class V>
void decodeEndpoint(const V& v, const FieldPath& path, ObjectContext& ctx, Endpoint& ep) {
  v.forEachField([&](std::string_view key, const V& value) {
    if (key == "addresses") {
      readStringList(value, path.child("addresses"), ctx, ep.addresses, true);
    } else if (key == "conditions") {
      FieldPath p = path.child("conditions");
      if (!asMap(value, p, ctx)) return;
      value.forEachField([&](std::string_view k, const V& c) {
        if (k == "ready") {
          readOptionalBool(c, p.child("ready"), ctx, ep.conditions.ready);
        } else if (k == "serving") {
          readOptionalBool(c, p.child("serving"), ctx, ep.conditions.serving);
        } else if (k == "terminating") {
          readOptionalBool(c, p.child("terminating"), ctx, ep.conditions.terminating);
        }
      });
    } else if (key == "nodeName") {
      readOptionalString(value, path.child("nodeName"), ctx, ep.node_name);
    } else if (key == "zone") {
      readOptionalString(value, path.child("zone"), ctx, ep.zone);
    } else if (key == "hints") {
      FieldPath p = path.child("hints");
      if (!asMap(value, p, ctx)) return;
      value.forEachField([&](std::string_view k, const V& hints) {
        if (k == "forZones") {
          readNameList(hints, p.child("forZones"), ctx, ep.hints_for_zones);
        } else if (k == "forNodes") {
          readNameList(hints, p.child("forNodes"), ctx, ep.hints_for_nodes);
        }
      });
    }
  });
}

template <class V>
void decodeEndpointPort(const V& v, const FieldPath& path, ObjectContext& ctx, EndpointPort& port) {
  v.forEachField([&](std::string_view key, const V& value) {
    if (key == "name") {
      readOptionalString(value, path.child("name"), ctx, port.name);
      ctx.noteLine(value, path.child("name"));
    } else if (key == "port") {
      int32_t n = 0;
      if (readInt32(value, path.child("port"), ctx, n)) port.port = n;
      ctx.noteLine(value, path.child("port"));
    } else if (key == "protocol") {
      readProtocol(value, path.child("protocol"), ctx, port.protocol);
    }
  });
  if (!port.name) port.name = std::string();  // API server default
}

template <class V>
void decodeEndpointSlice(const V& v, int line, ManifestSink& sink) {
  auto slice = std::make_shared<EndpointSlice>();
  slice->meta.source = SourceRef{sink.file(), line};
  ObjectContext ctx(slice->meta);
  FieldPath root;
  v.forEachField([&](std::string_view key, const V& value) {
    if (key == "metadata") {
      decodeMeta(value, root.child("metadata"), ctx, KeptLabels::kKubeProxys);
    } else if (key == "addressType") {
      readCheckedString(value, root.child("addressType"), ctx, slice->address_type);
    } else if (key == "endpoints") {
      FieldPath path = root.child("endpoints");
      slice->endpoints.clear();
      if (!asList(value, path, ctx)) return;
      // Collected in a reused vector, then moved into one allocation of the right size (the
      // JSON adapter cannot tell the length up front).
      std::vector<Endpoint>& scratch = endpointScratch();
      scratch.clear();
      value.forEachItem([&](int i, const V& item) {
        FieldPath p = path.index(i);
        Endpoint& ep = scratch.emplace_back();
        if (asMap(item, p, ctx)) decodeEndpoint(item, p, ctx, ep);
      });
      slice->endpoints.assign(std::make_move_iterator(scratch.begin()), std::make_move_iterator(scratch.end()));
    } else if (key == "ports") {
      readObjectList(value, root.child("ports"), ctx, slice->ports,
                     [&](const V& item, const FieldPath& p, EndpointPort& port) { decodeEndpointPort(item, p, ctx, port); });
    }
  });
  applyNamespaceDefault(slice->meta);
  sink.addEndpointSlice(std::move(slice), std::move(ctx));
}

// --- Node (v1)

template <class V>
void decodeNode(const V& v, int line, ManifestSink& sink) {
  auto node = std::make_shared<Node>();
  node->meta.source = SourceRef{sink.file(), line};
  ObjectContext ctx(node->meta);
  FieldPath root;
  std::string pod_cidr;
  int pod_cidr_line = 0;
  bool has_pod_cidrs = false;
  v.forEachField([&](std::string_view key, const V& value) {
    if (key == "metadata") {
      decodeMeta(value, root.child("metadata"), ctx, KeptLabels::kAll);
    } else if (key == "spec") {
      FieldPath spec = root.child("spec");
      if (!asMap(value, spec, ctx)) return;
      value.forEachField([&](std::string_view k, const V& field) {
        if (k == "podCIDR") {
          pod_cidr_line = field.line();
          readString(field, spec.child("podCIDR"), ctx, pod_cidr);
        } else if (k == "podCIDRs") {
          readStringList(field, spec.child("podCIDRs"), ctx, node->pod_cidrs, true);
          has_pod_cidrs = !node->pod_cidrs.empty();
        } else if (k == "taints") {
          readObjectList(field, spec.child("taints"), ctx, node->taints,
                         [&](const V& item, const FieldPath& p, NodeTaint& taint) {
            item.forEachField([&](std::string_view name, const V& text) {
              if (name == "key") {
                readString(text, p.child("key"), ctx, taint.key);
              } else if (name == "value") {
                readString(text, p.child("value"), ctx, taint.value);
              } else if (name == "effect") {
                readString(text, p.child("effect"), ctx, taint.effect);
              }
            });
          });
        }
      });
    } else if (key == "status") {
      FieldPath status = root.child("status");
      if (!asMap(value, status, ctx)) return;
      value.forEachField([&](std::string_view k, const V& addresses) {
        if (k != "addresses") return;
        readObjectList(addresses, status.child("addresses"), ctx, node->addresses,
                       [&](const V& item, const FieldPath& p, NodeAddress& address) {
          item.forEachField([&](std::string_view field, const V& text) {
            if (field == "type") {
              readString(text, p.child("type"), ctx, address.type);
            } else if (field == "address") {
              readCheckedString(text, p.child("address"), ctx, address.address);
            }
          });
        });
      });
    }
  });
  // Nodes are cluster-scoped: a namespace in the manifest means nothing.
  node->meta.namespace_.clear();
  if (!has_pod_cidrs && !pod_cidr.empty()) {
    node->pod_cidrs = {pod_cidr};
    if constexpr (V::kHasLines) node->meta.field_lines["spec.podCIDRs[0]"] = pod_cidr_line;
  }
  sink.addNode(std::move(node), std::move(ctx));
}

// --- ServiceCIDR (networking.k8s.io/v1)

template <class V>
void decodeServiceCIDR(const V& v, int line, ManifestSink& sink) {
  auto cidr = std::make_shared<ServiceCIDR>();
  cidr->meta.source = SourceRef{sink.file(), line};
  ObjectContext ctx(cidr->meta);
  FieldPath root;
  v.forEachField([&](std::string_view key, const V& value) {
    if (key == "metadata") {
      decodeMeta(value, root.child("metadata"), ctx, KeptLabels::kKubeProxys);
    } else if (key == "spec") {
      FieldPath spec = root.child("spec");
      if (!asMap(value, spec, ctx)) return;
      value.forEachField([&](std::string_view k, const V& field) {
        if (k == "cidrs") readStringList(field, spec.child("cidrs"), ctx, cidr->cidrs, true);
      });
    }
  });
  cidr->meta.namespace_.clear();  // cluster-scoped
  sink.addServiceCIDR(std::move(cidr), std::move(ctx));
}

// --- Endpoints (v1, legacy)

template <class V>
void decodeLegacyAddresses(const V& v, const FieldPath& path, ObjectContext& ctx,
                           std::vector<LegacyEndpointAddress>& out) {
  readObjectList(v, path, ctx, out, [&](const V& item, const FieldPath& p, LegacyEndpointAddress& address) {
    item.forEachField([&](std::string_view key, const V& value) {
      if (key == "ip") {
        readCheckedString(value, p.child("ip"), ctx, address.ip);
      } else if (key == "hostname") {
        readString(value, p.child("hostname"), ctx, address.hostname);
      } else if (key == "nodeName") {
        readOptionalString(value, p.child("nodeName"), ctx, address.node_name);
      }
    });
  });
}

template <class V>
void decodeLegacyEndpoints(const V& v, int line, ManifestSink& sink) {
  LegacyEndpoints endpoints;
  endpoints.meta.source = SourceRef{sink.file(), line};
  ObjectContext ctx(endpoints.meta);
  FieldPath root;
  v.forEachField([&](std::string_view key, const V& value) {
    if (key == "metadata") {
      decodeMeta(value, root.child("metadata"), ctx, KeptLabels::kAll);
    } else if (key == "subsets") {
      readObjectList(value, root.child("subsets"), ctx, endpoints.subsets,
                     [&](const V& item, const FieldPath& p, LegacyEndpointSubset& subset) {
        item.forEachField([&](std::string_view k, const V& field) {
          if (k == "addresses") {
            decodeLegacyAddresses(field, p.child("addresses"), ctx, subset.addresses);
          } else if (k == "notReadyAddresses") {
            decodeLegacyAddresses(field, p.child("notReadyAddresses"), ctx, subset.not_ready_addresses);
          } else if (k == "ports") {
            readObjectList(field, p.child("ports"), ctx, subset.ports,
                           [&](const V& port_value, const FieldPath& pp, EndpointPort& port) {
              decodeEndpointPort(port_value, pp, ctx, port);
            });
          }
        });
      });
    }
  });
  applyNamespaceDefault(endpoints.meta);
  sink.addEndpoints(std::move(endpoints), std::move(ctx));
}

// --- Documents, Lists and kinds

// Decodes one document: an object, a List of objects (items of a typed list such as
// ServiceList may omit apiVersion and kind, as the API server's list responses do), or a bare
// sequence of objects. Kinds other than ours are skipped.
template <class V>
void decodeDocument(const V& v, ManifestSink& sink, int depth = 0, std::string_view default_api_version = {},
                    std::string_view default_kind = {}) {
  if (v.isNull()) return;  // an empty document
  if (depth > kMaxListDepth) {
    sink.fileError(v.line(), "Lists nested more than " + std::to_string(kMaxListDepth) + " deep");
    return;
  }
  if (v.isList()) {
    v.forEachItem([&](int, const V& item) { decodeDocument(item, sink, depth + 1); });
    return;
  }
  if (!v.isMap()) {
    sink.fileError(v.line(), "expected a Kubernetes object (a map), got " + v.describe());
    return;
  }
  const int line = v.line();  // before reading it: the JSON adapter can only tell it then
  std::string_view api_version = default_api_version;
  std::string_view kind = default_kind;
  bool bad_header = false;
  v.forEachField([&](std::string_view key, const V& value) {
    if (key != "apiVersion" && key != "kind") return;
    if (value.isNull()) return;
    std::string_view text;
    if (!value.readString(text)) {
      sink.fileError(value.line(), std::string(key) + ": expected a string, got " + value.describe());
      bad_header = true;
      return;
    }
    (key == "kind" ? kind : api_version) = text;
  });
  if (bad_header) return;
  if (kind.empty()) {
    sink.fileError(line, "kind: missing");
    return;
  }
  if (api_version.empty()) {
    sink.fileError(line, std::string(kind) + ": apiVersion: missing");
    return;
  }
  if (kind.size() >= 4 && kind.substr(kind.size() - 4) == "List") {
    // "List" (kubectl's) or a typed list ("ServiceList" from the API): decode the items.
    std::string_view item_kind = kind == "List" ? std::string_view() : kind.substr(0, kind.size() - 4);
    std::string_view item_api_version = kind == "List" ? std::string_view() : api_version;
    v.forEachField([&](std::string_view key, const V& items) {
      if (key != "items" || items.isNull()) return;
      if (!items.isList()) {
        sink.fileError(items.line(), std::string(kind) + ": items: expected a list, got " + items.describe());
        return;
      }
      items.forEachItem([&](int, const V& item) {
        if (item.isList()) {
          sink.fileError(item.line(), std::string(kind) + ": items: expected an object, got a list");
          return;
        }
        decodeDocument(item, sink, depth + 1, item_api_version, item_kind);
      });
    });
    return;
  }
  if (api_version == "v1") {
    if (kind == "Service") {
      decodeService(v, line, sink);
    } else if (kind == "Endpoints") {
      decodeLegacyEndpoints(v, line, sink);
    } else if (kind == "Node") {
      decodeNode(v, line, sink);
    }
  } else if (api_version == "discovery.k8s.io/v1" && kind == "EndpointSlice") {
    decodeEndpointSlice(v, line, sink);
  } else if ((api_version == "networking.k8s.io/v1" || api_version == "networking.k8s.io/v1beta1") &&
             kind == "ServiceCIDR") {
    decodeServiceCIDR(v, line, sink);
  }
}

}  // namespace kproxy::api::internal
