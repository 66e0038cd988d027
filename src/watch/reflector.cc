#include "src/watch/reflector.h"

#include <simdjson.h>

#include <condition_variable>

#include "src/api/decode.h"
#include "src/util/log.h"

namespace kproxy::watch {
namespace {

namespace ondemand = simdjson::ondemand;

// simdjson reads up to SIMDJSON_PADDING bytes past the end of its input.
static_assert(simdjson::SIMDJSON_PADDING <= api::kManifestPadding, "padding");

const RealClock kRealClock;

// `s` copied into `buffer` with simdjson's padding after it.
simdjson::padded_string_view padded(std::string& buffer, std::string_view s) {
  buffer.reserve(s.size() + simdjson::SIMDJSON_PADDING);
  buffer.assign(s.data(), s.size());
  return simdjson::padded_string_view(buffer.data(), buffer.size(), buffer.capacity());
}

// A list answer's metadata.resourceVersion and metadata.continue ("" when absent or not a
// string), read in one pass. False when the JSON is broken: On-Demand leaves the document
// unusable after such an error (a second lookup would follow a null parser), so the caller must
// stop reading it.
bool readListMeta(ondemand::object& meta, std::string& resource_version, std::string& continue_token) {
  resource_version.clear();
  continue_token.clear();
  for (auto field : meta) {
    std::string_view key, v;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    if (key != "resourceVersion" && key != "continue") continue;
    auto error = field.value().get_string().get(v);
    if (error == simdjson::INCORRECT_TYPE) continue;
    if (error != simdjson::SUCCESS) return false;
    (key == "continue" ? continue_token : resource_version) = std::string(v);
  }
  return true;
}

// What the reflector reads of an event's object: the name, or for an ERROR the Status.
struct ObjectHeader {
  api::NamespacedName name;
  std::string resource_version;
  int64_t code = 0;  // Status.code
  std::string reason, message;
};

bool readObjectHeader(ondemand::parser& parser, simdjson::padded_string_view json, ObjectHeader& out) {
  ondemand::document doc;
  if (parser.iterate(json).get(doc) != simdjson::SUCCESS) return false;
  ondemand::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) return false;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
    if (key == "metadata") {
      ondemand::object meta;
      if (field.value().get_object().get(meta) != simdjson::SUCCESS) continue;
      for (auto m : meta) {
        std::string_view k, v;
        if (m.unescaped_key().get(k) != simdjson::SUCCESS) return false;
        if (k != "name" && k != "namespace" && k != "resourceVersion") continue;
        if (m.value().get_string().get(v) != simdjson::SUCCESS) continue;
        (k == "name" ? out.name.name : k == "namespace" ? out.name.namespace_ : out.resource_version) = std::string(v);
      }
    } else if (key == "code") {
      int64_t code = 0;
      if (field.value().get_int64().get(code) == simdjson::SUCCESS) out.code = code;
    } else if (key == "reason" || key == "message") {
      std::string_view v;
      if (field.value().get_string().get(v) == simdjson::SUCCESS) (key == "reason" ? out.reason : out.message) = std::string(v);
    }
  }
  return true;
}

std::string clip(std::string_view s, size_t n = 200) {
  std::string out(s.substr(0, n));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  if (s.size() > n) out += "...";
  return out;
}

// Sleeps until `d` passed or stop was requested.
void sleepFor(std::chrono::milliseconds d, std::stop_token stop) {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, d, [] { return false; });
}

}  // namespace

const char* watchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
  }
  return "?";
}

const char* roundEndName(RoundEnd end) {
  switch (end) {
    case RoundEnd::kStopped:
      return "stopped";
    case RoundEnd::kListFailed:
      return "list failed";
    case RoundEnd::kGone:
      return "resource version too old (410 Gone)";
    case RoundEnd::kBroken:
      return "watch stream broken";
    case RoundEnd::kStalled:
      return "watch stream stalled";
    case RoundEnd::kMalformed:
      return "malformed watch event";
    case RoundEnd::kWatchFailed:
      return "watch failed";
  }
  return "?";
}

std::string queryEscape(std::string_view value) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// --- Backoff

Backoff::Backoff(BackoffPolicy policy, uint64_t seed) : policy_(policy), rng_(seed), current_(policy.initial) {}

std::chrono::milliseconds Backoff::next(SteadyTime now) {
  // upstream: exponentialBackoffManagerImpl.getNextBackoff and wait.Backoff.Step
  if (first_ || now - last_ > policy_.reset_after) current_ = policy_.initial;
  first_ = false;
  last_ = now;
  std::chrono::milliseconds delay = current_;
  auto grown = std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(current_.count()) * policy_.factor));
  current_ = std::min(grown, policy_.cap);
  if (policy_.jitter > 0) {
    double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    delay += std::chrono::milliseconds(static_cast<int64_t>(r * policy_.jitter * static_cast<double>(delay.count())));
  }
  return delay;
}

// --- Reflector

namespace {
uint64_t seedOf(uint64_t seed) { return seed != 0 ? seed : std::random_device()(); }
}  // namespace

Reflector::Reflector(HttpTransport& transport, ListWatchStore& store, ReflectorOptions options,
                     ErrorReporter report_error, const Clock* clock)
    : transport_(transport),
      store_(store),
      options_(std::move(options)),
      report_error_(std::move(report_error)),
      clock_(clock != nullptr ? clock : &kRealClock),
      rng_(seedOf(options_.seed)),
      backoff_(options_.backoff, rng_()) {}

Reflector::Stats Reflector::stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

std::string Reflector::listPath(const std::string& continue_token) const {
  std::string q;
  auto add = [&](std::string_view key, std::string_view value) {
    q += q.empty() ? '?' : '&';
    q.append(key);
    q += '=';
    q += queryEscape(value);
  };
  if (!continue_token.empty()) add("continue", continue_token);
  if (!options_.field_selector.empty()) add("fieldSelector", options_.field_selector);
  if (!options_.label_selector.empty()) add("labelSelector", options_.label_selector);
  if (options_.page_size > 0) add("limit", std::to_string(options_.page_size));
  return options_.path + q;
}

std::string Reflector::watchPath(const std::string& resource_version, int64_t timeout_seconds) const {
  std::string q = "?allowWatchBookmarks=true";
  if (!options_.field_selector.empty()) q += "&fieldSelector=" + queryEscape(options_.field_selector);
  if (!options_.label_selector.empty()) q += "&labelSelector=" + queryEscape(options_.label_selector);
  q += "&resourceVersion=" + queryEscape(resource_version);
  q += "&timeoutSeconds=" + std::to_string(timeout_seconds);
  q += "&watch=true";
  return options_.path + q;
}

std::string Reflector::errorMessage(const char* what, int status, std::string_view body) const {
  std::string out = options_.resource + ": " + what + ": HTTP " + std::to_string(status);
  std::string json;
  ondemand::parser parser;
  ObjectHeader status_object;
  if (!body.empty() && readObjectHeader(parser, padded(json, body), status_object) && !status_object.message.empty()) {
    out += ": " + status_object.message;
  } else if (!body.empty()) {
    out += ": " + clip(body);
  }
  if (status == 401) out += " (check the token or client certificate; retrying with backoff)";
  if (status == 403) out += " (check the RBAC rules: kube-proxy needs list and watch)";
  return out;
}

Result<std::string> Reflector::list(std::stop_token stop) {
  store_.beginList();
  std::string continue_token;
  std::string resource_version;
  bool restarted = false;
  ondemand::parser parser;
  for (;;) {
    HttpRequest request{.path = listPath(continue_token)};
    auto response = transport_.request(request, stop);
    if (!response.ok()) {
      store_.abortList();
      return response.error().wrap(options_.resource + ": list");
    }
    if (response->status == 410 && !continue_token.empty() && !restarted) {
      // upstream pager: an expired continue token -> list again from the start.
      log::info(1, "{}: list continue token expired; listing again", options_.resource);
      store_.abortList();
      store_.beginList();
      continue_token.clear();
      restarted = true;
      continue;
    }
    if (response->status != 200) {
      store_.abortList();
      return Error(errorMessage("list", response->status, response->body), response->status);
    }
    std::string body = std::move(response->body);
    body.reserve(body.size() + api::kManifestPadding);
    continue_token.clear();
    {
      ondemand::document doc;
      ondemand::object root, meta;
      if (parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity())).get(doc) !=
              simdjson::SUCCESS ||
          doc.get_object().get(root) != simdjson::SUCCESS || root["metadata"].get_object().get(meta) != simdjson::SUCCESS) {
        store_.abortList();
        return Error(options_.resource + ": list: the answer is not a list: " + clip(body));
      }
      if (!readListMeta(meta, resource_version, continue_token)) {
        store_.abortList();
        return Error(options_.resource + ": list: the answer is not a list: " + clip(body));
      }
    }
    if (auto s = store_.addListPage(std::move(body)); !s.ok()) {
      store_.abortList();
      return s.error().wrap(options_.resource + ": list");
    }
    if (continue_token.empty()) break;
    if (stop.stop_requested()) {
      store_.abortList();
      return Error(options_.resource + ": list: cancelled");
    }
  }
  if (resource_version.empty()) {
    store_.abortList();
    return Error(options_.resource + ": list: the answer has no metadata.resourceVersion");
  }
  store_.endList();
  std::lock_guard lock(stats_mu_);
  ++stats_.lists;
  return resource_version;
}

Reflector::LineResult Reflector::handleLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.empty()) return LineResult::kOk;
  thread_local ondemand::parser parser;
  std::string type;
  std::string_view object_json;
  {
    ondemand::document doc;
    ondemand::object event;
    if (parser.iterate(padded(line_, line)).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(event) != simdjson::SUCCESS) {
      line_problem_ = "not a JSON object";
      return LineResult::kMalformed;
    }
    for (auto field : event) {
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
        line_problem_ = "bad JSON";
        return LineResult::kMalformed;
      }
      if (key == "type") {
        std::string_view t;
        if (field.value().get_string().get(t) != simdjson::SUCCESS) {
          line_problem_ = "type is not a string";
          return LineResult::kMalformed;
        }
        type = std::string(t);
      } else if (key == "object") {
        ondemand::object object;
        if (field.value().get_object().get(object) != simdjson::SUCCESS ||
            object.raw_json().get(object_json) != simdjson::SUCCESS) {
          line_problem_ = "object is not a JSON object";
          return LineResult::kMalformed;
        }
      }
    }
    // The On-Demand parser only checks what it walks: make sure the line ends after the event.
    const char* rest = nullptr;
    if (doc.current_location().get(rest) == simdjson::SUCCESS) {
      line_problem_ = "trailing bytes after the event";
      return LineResult::kMalformed;
    }
  }
  if (type.empty() || object_json.empty()) {
    line_problem_ = type.empty() ? "no type" : "no object";
    return LineResult::kMalformed;
  }
  ObjectHeader header;
  if (!readObjectHeader(parser, padded(object_, object_json), header)) {
    line_problem_ = "object is not valid JSON";
    return LineResult::kMalformed;
  }
  if (type == "ERROR") {
    if (header.code == 410) return LineResult::kGone;
    line_problem_ = "ERROR event: code " + std::to_string(header.code) + " " + header.reason + ": " + header.message;
    return LineResult::kErrorEvent;
  }
  WatchEventType event_type;
  if (type == "ADDED") {
    event_type = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    event_type = WatchEventType::kModified;
  } else if (type == "DELETED") {
    event_type = WatchEventType::kDeleted;
  } else if (type == "BOOKMARK") {
    if (!header.resource_version.empty()) resource_version_ = header.resource_version;
    return LineResult::kOk;
  } else {
    line_problem_ = "unknown event type \"" + clip(type, 40) + "\"";
    return LineResult::kMalformed;
  }
  if (header.name.name.empty()) {
    line_problem_ = std::string(watchEventTypeName(event_type)) + " event without metadata.name";
    return LineResult::kMalformed;
  }
  ++events_;
  if (auto applied = store_.applyEvent(event_type, header.name, object_); !applied.ok()) {
    line_problem_ = applied.error().message;
    return LineResult::kMalformed;
  }
  if (!header.resource_version.empty()) resource_version_ = header.resource_version;
  return LineResult::kOk;
}

RoundEnd Reflector::listAndWatch(std::stop_token stop) {
  auto listed = list(stop);
  if (stop.stop_requested()) return RoundEnd::kStopped;
  if (!listed.ok()) {
    report_error_(listed.error().message);
    return RoundEnd::kListFailed;
  }
  resource_version_ = std::move(*listed);
  for (;;) {
    // upstream: timeoutSeconds = minWatchTimeout * (rand + 1)
    const double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    const auto timeout_seconds = static_cast<int64_t>(static_cast<double>(options_.min_watch_timeout.count()) * (1.0 + r));
    HttpRequest request{.path = watchPath(resource_version_, std::max<int64_t>(timeout_seconds, 1))};
    pending_.clear();
    events_ = 0;
    LineResult line_result = LineResult::kOk;
    std::string bad_line;
    auto on_data = [&](std::string_view chunk) {
      pending_.append(chunk);
      size_t start = 0;
      for (size_t nl; (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(pending_.data() + start, nl - start);
        line_result = handleLine(line);
        if (line_result != LineResult::kOk) {
          bad_line = clip(line);
          return false;
        }
      }
      pending_.erase(0, start);
      return true;
    };
    const SteadyTime started = clock_->now();
    auto streamed = transport_.stream(request, options_.idle_timeout, on_data, stop);
    if (stop.stop_requested()) return RoundEnd::kStopped;
    if (!streamed.ok()) {
      report_error_(streamed.error().wrap(options_.resource + ": watch").message);
      return RoundEnd::kWatchFailed;
    }
    if (streamed->status == 410) {
      log::info(1, "{}: watch from resourceVersion {}: 410 Gone; listing again", options_.resource, resource_version_);
      return RoundEnd::kGone;
    }
    if (streamed->status != 200) {
      report_error_(errorMessage("watch", streamed->status, streamed->body));
      return RoundEnd::kWatchFailed;
    }
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.watches;
    }
    switch (line_result) {
      case LineResult::kOk:
        break;
      case LineResult::kGone:
        log::info(1, "{}: watch: resource version too old (ERROR event, code 410); listing again", options_.resource);
        return RoundEnd::kGone;
      case LineResult::kMalformed:
        report_error_(options_.resource + ": watch: malformed event (" + line_problem_ + "): " + bad_line +
                      "; listing again");
        return RoundEnd::kMalformed;
      case LineResult::kErrorEvent:
        report_error_(options_.resource + ": watch: " + line_problem_ + "; listing again");
        return RoundEnd::kWatchFailed;
    }
    switch (streamed->end) {
      case StreamEnd::kCompleted:
        if (!pending_.empty()) {
          report_error_(options_.resource + ": watch: the stream ended inside an event: " + clip(pending_) +
                        "; listing again");
          return RoundEnd::kMalformed;
        }
        // upstream: a watch that ends within a second without events is an error ("very short
        // watch"), else it is resumed where it stopped.
        if (events_ == 0 && clock_->now() - started < std::chrono::seconds(1)) {
          log::warn("{}: very short watch (no event in under a second); listing again", options_.resource);
          return RoundEnd::kWatchFailed;
        }
        log::info(3, "{}: watch ended; resuming from resourceVersion {}", options_.resource, resource_version_);
        continue;
      case StreamEnd::kCancelled:
        return RoundEnd::kStopped;
      case StreamEnd::kIdleTimeout:
        log::warn("{}: watch: no data for {} ms (stalled stream); listing again", options_.resource,
                  options_.idle_timeout.count());
        return RoundEnd::kStalled;
      case StreamEnd::kBroken:
        log::warn("{}: watch: stream broken ({}); listing again", options_.resource, streamed->detail);
        return RoundEnd::kBroken;
    }
  }
}

void Reflector::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    RoundEnd end = listAndWatch(stop);
    if (end == RoundEnd::kStopped || stop.stop_requested()) break;
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.rounds;
    }
    auto delay = backoff_.next(clock_->now());
    log::info(2, "{}: {}; listing again in {} ms", options_.resource, roundEndName(end), delay.count());
    sleepFor(delay, stop);
  }
}

}  // namespace kproxy::watch
