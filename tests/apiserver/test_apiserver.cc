#include "tests/apiserver/test_apiserver.h"

#include <httplib.h>
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <set>

namespace kproxy::apiserver {

namespace {

struct ResourceInfo {
  const char* name;
  const char* kind;
  const char* list_kind;
  const char* api_version;
  const char* path;
  bool namespaced;
};

constexpr ResourceInfo kResources[kResourceCount] = {
    {"services", "Service", "ServiceList", "v1", "/api/v1/services", true},
    {"endpointslices", "EndpointSlice", "EndpointSliceList", "discovery.k8s.io/v1",
     "/apis/discovery.k8s.io/v1/endpointslices", true},
    {"nodes", "Node", "NodeList", "v1", "/api/v1/nodes", false},
};

const ResourceInfo& info(Resource r) { return kResources[static_cast<int>(r)]; }

// --- JSON writing

void writeString(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
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
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(c >> 4) & 15];
          out += kHex[c & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void writeValue(std::string& out, simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::ARRAY: {
      out += '[';
      bool first = true;
      for (simdjson::dom::element item : simdjson::dom::array(e)) {
        if (!first) out += ',';
        first = false;
        writeValue(out, item);
      }
      out += ']';
      break;
    }
    case element_type::OBJECT: {
      out += '{';
      bool first = true;
      for (auto field : simdjson::dom::object(e)) {
        if (!first) out += ',';
        first = false;
        writeString(out, field.key);
        out += ':';
        writeValue(out, field.value);
      }
      out += '}';
      break;
    }
    case element_type::INT64:
      out += std::to_string(int64_t(e));
      break;
    case element_type::UINT64:
      out += std::to_string(uint64_t(e));
      break;
    case element_type::DOUBLE: {
      char buf[64];
      auto r = std::to_chars(buf, buf + sizeof(buf), double(e));
      out.append(buf, r.ptr);
      break;
    }
    case element_type::STRING:
      writeString(out, std::string_view(e));
      break;
    case element_type::BOOL:
      out += bool(e) ? "true" : "false";
      break;
    case element_type::NULL_VALUE:
      out += "null";
      break;
  }
}

std::string statusJson(int code, std::string_view reason, std::string_view message) {
  std::string out = R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)";
  writeString(out, message);
  out += ",\"reason\":";
  writeString(out, reason);
  out += ",\"code\":" + std::to_string(code) + "}";
  return out;
}

std::string base64(std::string_view in) {
  static const char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kChars[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += kChars[(acc << (6 - bits)) & 63];
  while (out.size() % 4 != 0) out += '=';
  return out;
}

std::string unbase64(std::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '+'             ? 62
            : c == '/'             ? 63
                                   : -1;
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return std::string(s);
}

bool parseBool(const std::string& s) { return s == "1" || s == "t" || s == "T" || s == "true" || s == "True" || s == "TRUE"; }

}  // namespace

// One version of one object. The JSON is kept without kind and apiVersion and with
// metadata.resourceVersion first, so that any resourceVersion can be put in front of `tail`.
struct StoredObject {
  std::string ns, name;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> fields;  // selectable fields
  uint64_t rv = 0;
  std::string tail;  // after {"metadata":{"resourceVersion":"<rv>

  std::string json(const ResourceInfo* with_kind, uint64_t at_rv) const {
    std::string out = "{";
    if (with_kind != nullptr) {
      out += "\"kind\":\"" + std::string(with_kind->kind) + "\",\"apiVersion\":\"" + with_kind->api_version + "\",";
    }
    out += "\"metadata\":{\"resourceVersion\":\"" + std::to_string(at_rv) + tail;
    return out;
  }
};

namespace {

// --- Selectors

struct Requirement {
  enum class Op { kExists, kNotExists, kEquals, kNotEquals, kIn, kNotIn } op;
  std::string key;
  std::set<std::string> values;

  bool matches(const std::map<std::string, std::string>& m) const {
    auto it = m.find(key);
    const bool has = it != m.end();
    switch (op) {
      case Op::kExists:
        return has;
      case Op::kNotExists:
        return !has;
      case Op::kEquals:
        return has && values.count(it->second) != 0;
      case Op::kNotEquals:
        return !has || values.count(it->second) == 0;
      case Op::kIn:
        return has && values.count(it->second) != 0;
      case Op::kNotIn:
        return !has || values.count(it->second) == 0;
    }
    return false;
  }
};

struct Selector {
  std::vector<Requirement> requirements;
  bool matches(const std::map<std::string, std::string>& m) const {
    return std::all_of(requirements.begin(), requirements.end(), [&](const Requirement& r) { return r.matches(m); });
  }
};

// Splits at commas outside parentheses.
std::vector<std::string> splitTerms(std::string_view s) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : s) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty() || !out.empty()) out.push_back(trim(cur));
  return out;
}

// "k!=v", "k==v" or "k=v" into `r`; false for anything else.
bool parseComparison(const std::string& term, Requirement& r) {
  for (const char* op : {"!=", "==", "="}) {
    size_t p = term.find(op);
    if (p == std::string::npos) continue;
    r.op = op[0] == '!' ? Requirement::Op::kNotEquals : Requirement::Op::kEquals;
    r.key = trim(term.substr(0, p));
    r.values.insert(trim(term.substr(p + std::strlen(op))));
    return true;
  }
  return false;
}

Result<Selector> parseLabelSelector(std::string_view text) {
  Selector sel;
  for (const std::string& term : splitTerms(text)) {
    if (term.empty()) return Error("unable to parse requirement: empty term");
    Requirement r;
    size_t p;
    if (term[0] == '!') {
      r.op = Requirement::Op::kNotExists;
      r.key = trim(term.substr(1));
    } else if ((p = term.find(" notin ")) != std::string::npos || (p = term.find(" in ")) != std::string::npos) {
      const bool notin = term.compare(p, 7, " notin ") == 0;
      r.op = notin ? Requirement::Op::kNotIn : Requirement::Op::kIn;
      r.key = trim(term.substr(0, p));
      std::string rest = trim(term.substr(p + (notin ? 7 : 4)));
      if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') return Error("unable to parse requirement: " + term);
      for (const auto& v : splitTerms(rest.substr(1, rest.size() - 2))) r.values.insert(v);
    } else if (parseComparison(term, r)) {
    } else {
      r.op = Requirement::Op::kExists;
      r.key = term;
    }
    if (r.key.empty()) return Error("unable to parse requirement: " + term);
    sel.requirements.push_back(std::move(r));
  }
  return sel;
}

Result<Selector> parseFieldSelector(std::string_view text, Resource resource) {
  Selector sel;
  for (const std::string& term : splitTerms(text)) {
    Requirement r;
    if (!parseComparison(term, r)) {
      return Error("invalid selector: '" + std::string(text) + "'; can't understand '" + term + "'");
    }
    const bool known = r.key == "metadata.name" || r.key == "metadata.namespace" ||
                       (resource == Resource::kServices && (r.key == "spec.clusterIP" || r.key == "spec.type"));
    if (!known) return Error("field label not supported: " + r.key);
    sel.requirements.push_back(std::move(r));
  }
  return sel;
}

struct Query {
  Selector labels, fields;
  bool matches(const StoredObject& o) const { return labels.matches(o.labels) && fields.matches(o.fields); }
};

}  // namespace

// --- The server state

struct Event {
  uint64_t rv;
  Resource resource;
  ObjectPtr previous;  // null for a create
  ObjectPtr current;   // null for a delete
};

struct WatchState {
  Resource resource;
  Query query;
  bool bookmarks = false;
  uint64_t cursor = 0;                   // events with rv > cursor are still to be sent
  std::vector<std::string> initial;      // lines to send first
  bool end_after_initial = false;
  std::chrono::steady_clock::time_point deadline, next_bookmark;
  std::optional<std::chrono::steady_clock::time_point> stall_until;
  uint64_t close_generation = 0;
  uint64_t fault_generation = 0;
};

struct Snapshot {
  uint64_t rv;
  std::vector<ObjectPtr> items;
};

struct TestApiServer::Impl {
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::string token;
  std::map<std::pair<std::string, std::string>, ObjectPtr> objects[kResourceCount];
  std::deque<Event> history;
  size_t history_limit = 10000;
  uint64_t rv = 1000;
  uint64_t compacted = 1000;  // a watch from a resourceVersion below this gets 410
  uint64_t close_generation = 0;
  uint64_t fault_generation = 0;  // bumped by every injected fault, to wake the watches
  std::map<uint64_t, Snapshot> snapshots;
  uint64_t next_snapshot = 1;
  std::vector<TestApiServer::Fault> faults;
  std::chrono::milliseconds slow_list{0};
  int lists[kResourceCount] = {};
  int watches[kResourceCount] = {};
  int open_watches[kResourceCount] = {};
  std::chrono::milliseconds bookmark_interval{1000};

  // Takes one use of an armed fault; true if there was one.
  bool takeFault(const std::string& name, Resource r, std::chrono::milliseconds* duration = nullptr) {
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (it->name != name || (it->resource && *it->resource != r)) continue;
      if (duration != nullptr) *duration = it->duration;
      if (--it->count <= 0) faults.erase(it);
      return true;
    }
    return false;
  }

  void record(Event e) {
    history.push_back(std::move(e));
    while (history.size() > history_limit) {
      compacted = history.front().rv;
      history.pop_front();
    }
    cv.notify_all();
  }

  // The watch lines for one event as `w` sees it (none when it matches neither version).
  std::optional<std::string> eventLine(const Event& e, const WatchState& w) const {
    if (e.resource != w.resource) return std::nullopt;
    const bool before = e.previous && w.query.matches(*e.previous);
    const bool after = e.current && w.query.matches(*e.current);
    const ResourceInfo* ri = &info(e.resource);
    std::string type;
    std::string object;
    if (after) {
      type = before ? "MODIFIED" : "ADDED";
      object = e.current->json(ri, e.rv);
    } else if (before) {
      // upstream cacher: the previous content, at the event's resourceVersion
      type = "DELETED";
      object = e.previous->json(ri, e.rv);
    } else {
      return std::nullopt;
    }
    return "{\"type\":\"" + type + "\",\"object\":" + object + "}\n";
  }
};

const char* resourceName(Resource r) { return info(r).name; }

std::optional<Resource> resourceByName(std::string_view name) {
  for (int i = 0; i < kResourceCount; ++i) {
    if (name == kResources[i].name || name == kResources[i].kind) return static_cast<Resource>(i);
  }
  return std::nullopt;
}

TestApiServer::TestApiServer(ServerOptions options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  impl_->token = options_.token;
  impl_->history_limit = options_.history;
  impl_->bookmark_interval = options_.bookmark_interval;
}

TestApiServer::~TestApiServer() { stop(); }

// --- Objects

Result<uint64_t> TestApiServer::apply(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json);
  simdjson::dom::element root;
  if (auto e = parser.parse(padded).get(root); e != simdjson::SUCCESS) {
    return Error(std::string("not JSON: ") + simdjson::error_message(e));
  }
  if (!root.is_object()) return Error("not an object");
  std::vector<simdjson::dom::element> items;
  std::string_view kind;
  if (root["kind"].get(kind) == simdjson::SUCCESS && kind == "List") {
    simdjson::dom::array array;
    if (root["items"].get(array) != simdjson::SUCCESS) return Error("List without items");
    for (auto item : array) items.push_back(item);
  } else {
    items.push_back(root);
  }
  uint64_t last = 0;
  for (simdjson::dom::element item : items) {
    std::string_view item_kind;
    if (item["kind"].get(item_kind) != simdjson::SUCCESS) return Error("object without kind");
    auto resource = resourceByName(item_kind);
    if (!resource) return Error("unsupported kind " + std::string(item_kind));
    const ResourceInfo& ri = info(*resource);
    simdjson::dom::object meta;
    if (item["metadata"].get(meta) != simdjson::SUCCESS) return Error("object without metadata");
    auto object = std::make_shared<StoredObject>();
    std::string_view sv;
    if (meta["name"].get(sv) != simdjson::SUCCESS || sv.empty()) return Error("object without metadata.name");
    object->name = std::string(sv);
    if (ri.namespaced) object->ns = meta["namespace"].get(sv) == simdjson::SUCCESS ? std::string(sv) : "default";
    simdjson::dom::object labels;
    if (meta["labels"].get(labels) == simdjson::SUCCESS) {
      for (auto l : labels) {
        std::string_view v;
        object->labels[std::string(l.key)] = l.value.get(v) == simdjson::SUCCESS ? std::string(v) : "";
      }
    }
    object->fields["metadata.name"] = object->name;
    object->fields["metadata.namespace"] = object->ns;
    if (*resource == Resource::kServices) {
      object->fields["spec.clusterIP"] = item["spec"]["clusterIP"].get(sv) == simdjson::SUCCESS ? std::string(sv) : "";
      object->fields["spec.type"] = item["spec"]["type"].get(sv) == simdjson::SUCCESS ? std::string(sv) : "ClusterIP";
    }
    // The JSON: metadata first with resourceVersion first, namespace filled in.
    std::string tail = "\"";
    if (ri.namespaced && meta["namespace"].error() != simdjson::SUCCESS) {
      tail += ",\"namespace\":";
      writeString(tail, object->ns);
    }
    for (auto field : meta) {
      if (field.key == "resourceVersion") continue;
      tail += ',';
      writeString(tail, field.key);
      tail += ':';
      writeValue(tail, field.value);
    }
    tail += '}';
    for (auto field : simdjson::dom::object(item)) {
      if (field.key == "kind" || field.key == "apiVersion" || field.key == "metadata") continue;
      tail += ',';
      writeString(tail, field.key);
      tail += ':';
      writeValue(tail, field.value);
    }
    tail += '}';
    object->tail = std::move(tail);

    std::lock_guard lock(impl_->mu);
    object->rv = ++impl_->rv;
    auto key = std::make_pair(object->ns, object->name);
    auto& slot = impl_->objects[static_cast<int>(*resource)][key];
    ObjectPtr previous = slot;
    slot = object;
    impl_->record(Event{object->rv, *resource, previous, object});
    last = object->rv;
  }
  return last;
}

Result<uint64_t> TestApiServer::remove(Resource resource, const std::string& ns, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  auto& objects = impl_->objects[static_cast<int>(resource)];
  auto it = objects.find({info(resource).namespaced ? ns : "", name});
  if (it == objects.end()) return Error(std::string(info(resource).kind) + " " + ns + "/" + name + " not found");
  ObjectPtr previous = it->second;
  objects.erase(it);
  uint64_t rv = ++impl_->rv;
  impl_->record(Event{rv, resource, previous, nullptr});
  return rv;
}

Status TestApiServer::injectFault(const Fault& fault) {
  static const std::set<std::string> kKnown = {"cut",          "stall",     "gone",      "gone-http",
                                               "unauthorized", "malformed", "slow-list", "expire-continue"};
  if (kKnown.count(fault.name) == 0) return Error("unknown fault " + fault.name);
  std::lock_guard lock(impl_->mu);
  if (fault.name == "slow-list") {
    impl_->slow_list = fault.duration;
  } else {
    impl_->faults.push_back(fault);
  }
  ++impl_->fault_generation;
  impl_->cv.notify_all();
  return okStatus();
}

void TestApiServer::clearFaults() {
  std::lock_guard lock(impl_->mu);
  impl_->faults.clear();
  impl_->slow_list = std::chrono::milliseconds(0);
}

uint64_t TestApiServer::compact() {
  std::lock_guard lock(impl_->mu);
  impl_->history.clear();
  impl_->compacted = impl_->rv;
  impl_->snapshots.clear();
  impl_->cv.notify_all();
  return impl_->rv;
}

void TestApiServer::closeWatches() {
  std::lock_guard lock(impl_->mu);
  ++impl_->close_generation;
  impl_->cv.notify_all();
}

void TestApiServer::setToken(std::string token) {
  std::lock_guard lock(impl_->mu);
  impl_->token = std::move(token);
}

std::vector<std::string> TestApiServer::state(Resource resource) const {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> out;
  for (const auto& [key, o] : impl_->objects[static_cast<int>(resource)]) {
    out.push_back((o->ns.empty() ? o->name : o->ns + "/" + o->name) + " " + std::to_string(o->rv));
  }
  return out;
}

uint64_t TestApiServer::resourceVersion() const {
  std::lock_guard lock(impl_->mu);
  return impl_->rv;
}
int TestApiServer::lists(Resource r) const {
  std::lock_guard lock(impl_->mu);
  return impl_->lists[static_cast<int>(r)];
}
int TestApiServer::watches(Resource r) const {
  std::lock_guard lock(impl_->mu);
  return impl_->watches[static_cast<int>(r)];
}
int TestApiServer::openWatches(Resource r) const {
  std::lock_guard lock(impl_->mu);
  return impl_->open_watches[static_cast<int>(r)];
}

// --- HTTP

namespace {

void sendStatus(httplib::Response& res, int code, std::string_view reason, std::string_view message) {
  res.status = code;
  res.set_content(statusJson(code, reason, message), "application/json");
}

}  // namespace

Result<int> TestApiServer::start() {
  if (!options_.tls_cert_file.empty()) {
    server_ = std::make_unique<httplib::SSLServer>(options_.tls_cert_file.c_str(), options_.tls_key_file.c_str());
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  if (!server_->is_valid()) return Error("cannot set up the server (TLS certificate or key?)");
  server_->new_task_queue = [] { return new httplib::ThreadPool(64); };
  server_->set_keep_alive_max_count(1000);
  Impl& s = *impl_;

  for (int i = 0; i < kResourceCount; ++i) {
    const auto resource = static_cast<Resource>(i);
    server_->Get(info(resource).path, [this, &s, resource](const httplib::Request& req, httplib::Response& res) {
      const ResourceInfo& ri = info(resource);
      const int r = static_cast<int>(resource);
      const bool watch = req.has_param("watch") && parseBool(req.get_param_value("watch"));
      std::unique_lock lock(s.mu);
      if (s.takeFault("unauthorized", resource) ||
          (!s.token.empty() && req.get_header_value("Authorization") != "Bearer " + s.token)) {
        sendStatus(res, 401, "Unauthorized", "Unauthorized");
        return;
      }
      auto labels = parseLabelSelector(req.get_param_value("labelSelector"));
      if (!labels.ok()) return sendStatus(res, 400, "BadRequest", labels.error().message);
      auto fields = parseFieldSelector(req.get_param_value("fieldSelector"), resource);
      if (!fields.ok()) return sendStatus(res, 400, "BadRequest", fields.error().message);
      Query query{std::move(*labels), std::move(*fields)};

      if (!watch) {
        ++s.lists[r];
        const std::string cont = req.get_param_value("continue");
        int64_t limit = req.has_param("limit") ? std::atoll(req.get_param_value("limit").c_str()) : 0;
        uint64_t snapshot_id = 0;
        size_t offset = 0;
        if (!cont.empty()) {
          std::string decoded = unbase64(cont);
          auto colon = decoded.find(':');
          if (colon != std::string::npos) {
            snapshot_id = std::strtoull(decoded.c_str(), nullptr, 10);
            offset = std::strtoull(decoded.c_str() + colon + 1, nullptr, 10);
          }
          if (s.snapshots.count(snapshot_id) == 0 || s.takeFault("expire-continue", resource)) {
            return sendStatus(res, 410, "Expired",
                              "The provided continue parameter is too old to display a consistent list result. You "
                              "can start a new list without the continue parameter.");
          }
        } else {
          Snapshot snap{s.rv, {}};
          for (const auto& [key, o] : s.objects[r]) {
            if (query.matches(*o)) snap.items.push_back(o);
          }
          snapshot_id = s.next_snapshot++;
          s.snapshots.emplace(snapshot_id, std::move(snap));
          while (s.snapshots.size() > 64) s.snapshots.erase(s.snapshots.begin());
        }
        const Snapshot& snap = s.snapshots.at(snapshot_id);
        size_t end = limit > 0 ? std::min(snap.items.size(), offset + static_cast<size_t>(limit)) : snap.items.size();
        std::string body = "{\"kind\":\"" + std::string(ri.list_kind) + "\",\"apiVersion\":\"" + ri.api_version +
                           "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(snap.rv) + "\"";
        if (end < snap.items.size()) {
          body += ",\"continue\":\"" + base64(std::to_string(snapshot_id) + ":" + std::to_string(end)) + "\"";
          body += ",\"remainingItemCount\":" + std::to_string(snap.items.size() - end);
        }
        body += "},\"items\":[";
        for (size_t k = offset; k < end; ++k) {
          if (k > offset) body += ',';
          body += snap.items[k]->json(nullptr, snap.items[k]->rv);
        }
        body += "]}";
        auto delay = s.slow_list;
        lock.unlock();
        if (delay.count() > 0) std::this_thread::sleep_for(delay);
        res.set_content(body, "application/json");
        return;
      }

      // watch
      const std::string rv_text = req.get_param_value("resourceVersion");
      const bool resume = !rv_text.empty() && rv_text != "0";
      if (resume && s.takeFault("gone-http", resource)) {
        return sendStatus(res, 410, "Expired", "too old resource version: " + rv_text);
      }
      auto w = std::make_shared<WatchState>();
      w->resource = resource;
      w->query = std::move(query);
      w->bookmarks = req.has_param("allowWatchBookmarks") && parseBool(req.get_param_value("allowWatchBookmarks"));
      const auto now = std::chrono::steady_clock::now();
      const int64_t timeout = req.has_param("timeoutSeconds") ? std::atoll(req.get_param_value("timeoutSeconds").c_str()) : 1800;
      w->deadline = now + std::chrono::seconds(timeout > 0 ? timeout : 1800);
      w->next_bookmark = now + s.bookmark_interval;
      w->close_generation = s.close_generation;
      w->fault_generation = s.fault_generation;
      if (resume) {
        uint64_t from = std::strtoull(rv_text.c_str(), nullptr, 10);
        if (s.takeFault("gone", resource) || from < s.compacted) {
          w->initial.push_back("{\"type\":\"ERROR\",\"object\":" +
                               statusJson(410, "Expired",
                                          "too old resource version: " + rv_text + " (" + std::to_string(s.compacted + 1) + ")") +
                               "}\n");
          w->end_after_initial = true;
        }
        w->cursor = std::min(from, s.rv);
      } else {
        for (const auto& [key, o] : s.objects[r]) {
          if (w->query.matches(*o)) w->initial.push_back("{\"type\":\"ADDED\",\"object\":" + o->json(&ri, o->rv) + "}\n");
        }
        w->cursor = s.rv;
      }
      ++s.watches[r];
      ++s.open_watches[r];
      lock.unlock();

      res.set_chunked_content_provider(
          "application/json",
          [&s, w](size_t, httplib::DataSink& sink) -> bool {
            std::vector<std::string> lines;
            bool finish = false;
            bool cut = false;
            {
              std::unique_lock lock(s.mu);
              if (!w->initial.empty()) {
                lines = std::exchange(w->initial, {});
                finish = w->end_after_initial;
              } else {
                auto closed = [&] { return s.stopping || s.close_generation != w->close_generation; };
                if (w->stall_until) {
                  // Stalled: nothing at all, not even bookmarks; afterwards the connection is dropped.
                  auto until = std::min(*w->stall_until, std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
                  s.cv.wait_until(lock, until, closed);
                  if (closed()) return false;
                  return std::chrono::steady_clock::now() < *w->stall_until;
                }
                auto pending = [&] { return !s.history.empty() && s.history.back().rv > w->cursor; };
                s.cv.wait_for(lock, std::chrono::milliseconds(100), [&] {
                  return closed() || pending() || std::chrono::steady_clock::now() >= w->next_bookmark ||
                         s.fault_generation != w->fault_generation;
                });
                w->fault_generation = s.fault_generation;
                const auto now = std::chrono::steady_clock::now();
                std::chrono::milliseconds stall{0};
                if (s.takeFault("stall", w->resource, &stall)) {
                  w->stall_until = now + stall;
                  return true;
                }
                if (closed() || now >= w->deadline) {
                  finish = true;
                } else if (w->cursor < s.compacted && (s.history.empty() || s.history.front().rv > w->cursor + 1)) {
                  lines.push_back("{\"type\":\"ERROR\",\"object\":" +
                                  statusJson(410, "Expired", "too old resource version: " + std::to_string(w->cursor)) +
                                  "}\n");
                  finish = true;
                } else {
                  auto it = std::upper_bound(s.history.begin(), s.history.end(), w->cursor,
                                             [](uint64_t rv, const Event& e) { return rv < e.rv; });
                  for (; it != s.history.end(); ++it) {
                    w->cursor = it->rv;
                    auto line = s.eventLine(*it, *w);
                    if (!line) continue;
                    if (s.takeFault("malformed", w->resource)) lines.push_back("{\"type\":\"MODIFIED\",\"object\":{]}\n");
                    if (s.takeFault("cut", w->resource)) {
                      lines.push_back(line->substr(0, line->size() / 2));
                      cut = true;
                      break;
                    }
                    lines.push_back(std::move(*line));
                  }
                  if (!cut && w->bookmarks && now >= w->next_bookmark) {
                    const ResourceInfo& ri = info(w->resource);
                    lines.push_back("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"" + std::string(ri.kind) +
                                    "\",\"apiVersion\":\"" + ri.api_version + "\",\"metadata\":{\"resourceVersion\":\"" +
                                    std::to_string(s.rv) + "\"}}}\n");
                    w->cursor = std::max(w->cursor, s.rv);
                  }
                  if (now >= w->next_bookmark) w->next_bookmark = now + s.bookmark_interval;
                }
              }
            }
            for (const auto& line : lines) {
              if (!sink.write(line.data(), line.size())) return false;
            }
            if (cut) return false;
            if (finish) sink.done();
            return true;
          },
          [&s, r](bool) {
            std::lock_guard lock(s.mu);
            --s.open_watches[r];
          });
    });
  }

  // --- control
  server_->Post("/__control/objects", [this](const httplib::Request& req, httplib::Response& res) {
    auto rv = apply(req.body);
    if (!rv.ok()) return sendStatus(res, 400, "BadRequest", rv.error().message);
    res.set_content("{\"resourceVersion\":\"" + std::to_string(*rv) + "\"}", "application/json");
  });
  server_->Delete("/__control/objects", [this](const httplib::Request& req, httplib::Response& res) {
    auto resource = resourceByName(req.get_param_value("kind"));
    if (!resource) return sendStatus(res, 400, "BadRequest", "unknown kind");
    auto rv = remove(*resource, req.get_param_value("namespace"), req.get_param_value("name"));
    if (!rv.ok()) return sendStatus(res, 404, "NotFound", rv.error().message);
    res.set_content("{\"resourceVersion\":\"" + std::to_string(*rv) + "\"}", "application/json");
  });
  server_->Post("/__control/fault", [this](const httplib::Request& req, httplib::Response& res) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(req.body);
    simdjson::dom::element root;
    if (parser.parse(padded).get(root) != simdjson::SUCCESS) return sendStatus(res, 400, "BadRequest", "not JSON");
    Fault f;
    std::string_view sv;
    int64_t n = 0;
    if (root["fault"].get(sv) == simdjson::SUCCESS) f.name = std::string(sv);
    if (root["resource"].get(sv) == simdjson::SUCCESS && !sv.empty()) {
      f.resource = resourceByName(sv);
      if (!f.resource) return sendStatus(res, 400, "BadRequest", "unknown resource");
    }
    if (root["count"].get(n) == simdjson::SUCCESS) f.count = static_cast<int>(n);
    if (root["ms"].get(n) == simdjson::SUCCESS) f.duration = std::chrono::milliseconds(n);
    if (auto s = injectFault(f); !s.ok()) return sendStatus(res, 400, "BadRequest", s.error().message);
    res.set_content("{}", "application/json");
  });
  server_->Post("/__control/clear-faults", [this](const httplib::Request&, httplib::Response& res) {
    clearFaults();
    res.set_content("{}", "application/json");
  });
  server_->Post("/__control/compact", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"resourceVersion\":\"" + std::to_string(compact()) + "\"}", "application/json");
  });
  server_->Post("/__control/close-watches", [this](const httplib::Request&, httplib::Response& res) {
    closeWatches();
    res.set_content("{}", "application/json");
  });
  server_->Post("/__control/token", [this](const httplib::Request& req, httplib::Response& res) {
    simdjson::dom::parser parser;
    simdjson::padded_string padded(req.body);
    std::string_view token;
    if (parser.parse(padded)["token"].get(token) != simdjson::SUCCESS) return sendStatus(res, 400, "BadRequest", "no token");
    setToken(std::string(token));
    res.set_content("{}", "application/json");
  });
  server_->Get("/__control/state", [this](const httplib::Request& req, httplib::Response& res) {
    auto resource = resourceByName(req.get_param_value("resource"));
    if (!resource) return sendStatus(res, 400, "BadRequest", "unknown resource");
    std::string body;
    for (const auto& line : state(*resource)) body += line + "\n";
    res.set_content(body, "text/plain");
  });
  server_->Get("/__control/stats", [this](const httplib::Request&, httplib::Response& res) {
    auto group = [&](int (TestApiServer::*get)(Resource) const) {
      std::string out = "{";
      for (int i = 0; i < kResourceCount; ++i) {
        if (i > 0) out += ',';
        out += "\"" + std::string(kResources[i].name) + "\":" + std::to_string((this->*get)(static_cast<Resource>(i)));
      }
      return out + "}";
    };
    res.set_content("{\"lists\":" + group(&TestApiServer::lists) + ",\"watches\":" + group(&TestApiServer::watches) +
                        ",\"open_watches\":" + group(&TestApiServer::openWatches) + ",\"resourceVersion\":\"" +
                        std::to_string(resourceVersion()) + "\"}",
                    "application/json");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok", "text/plain"); });

  port_ = options_.port == 0 ? server_->bind_to_any_port(options_.address.c_str())
                             : (server_->bind_to_port(options_.address.c_str(), options_.port) ? options_.port : -1);
  if (port_ <= 0) return Error("cannot bind " + options_.address + ":" + std::to_string(options_.port));
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return port_;
}

void TestApiServer::stop() {
  if (!server_) return;
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
    impl_->cv.notify_all();
  }
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace kproxy::apiserver
