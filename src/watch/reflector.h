// Reflector: keeps a store (an Informer) equal to one API collection, the way client-go's
// reflector does:
//
//  1. list in pages (limit/continue) and hand the complete list to the store, which replaces
//     its content and emits the difference (deletes for vanished objects);
//  2. watch from the list's resourceVersion with allowWatchBookmarks=true and a timeoutSeconds
//     drawn in [min, 2*min) (client-go: 5-10 minutes); events are newline-delimited JSON,
//     decoded line by line whatever the chunk boundaries;
//  3. a watch the server ends normally is resumed from the last resourceVersion seen (bookmarks
//     included); 410 Gone (HTTP status, or an ERROR event with code 410), a broken or stalled
//     stream, a malformed event and any other error end the round: after a jittered exponential
//     backoff (client-go: 800 ms base, factor 2, cap 30 s, jitter 1.0, reset after 2 minutes
//     without failures) the reflector lists again from step 1.
//
// A 401 is reported through the error reporter every time (the token may rotate: the transport
// re-reads it) and retried with the same backoff.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>

#include "src/api/objects.h"
#include "src/util/clock.h"
#include "src/util/result.h"
#include "src/watch/http_transport.h"

namespace kproxy::watch {

enum class WatchEventType { kAdded, kModified, kDeleted };
const char* watchEventTypeName(WatchEventType type);

// The store a reflector keeps (Informer<T>). Calls come from the reflector's thread, in order:
// beginList, addListPage..., endList or abortList; then applyEvent... until the next list.
class ListWatchStore {
 public:
  virtual ~ListWatchStore() = default;
  virtual void beginList() = 0;
  // One page: the whole body of a list response (a ServiceList, ...), with spare capacity for
  // the JSON decoder's padding. Objects that fail to decode or validate are reported and left
  // out; an Error means the page as a whole could not be read.
  virtual Status addListPage(std::string body) = 0;
  // The list is complete: replace the content, emit the difference.
  virtual void endList() = 0;
  virtual void abortList() = 0;
  // One event; `name` is read from the object's metadata (namespace "" for cluster-scoped
  // objects), `object` is the object's JSON text. An Error when the object is not JSON at all
  // (then nothing changed and the reflector lists again); an object that is JSON but fails to
  // decode or validate is the store's business (Informer: reported, treated as absent).
  virtual Status applyEvent(WatchEventType type, const api::NamespacedName& name, std::string_view object) = 0;
};

// client-go's reflector backoff (wait.NewExponentialBackoffManager(800ms, 30s, 2m, 2.0, 1.0)).
struct BackoffPolicy {
  std::chrono::milliseconds initial{800};
  std::chrono::milliseconds cap{std::chrono::seconds(30)};
  double factor = 2.0;
  double jitter = 1.0;  // each delay is d + rand[0,1) * jitter * d
  std::chrono::milliseconds reset_after{std::chrono::minutes(2)};
};

class Backoff {
 public:
  Backoff(BackoffPolicy policy, uint64_t seed);
  // The delay before the next attempt, after a failure at `now`. The base delay starts over
  // when the previous failure is longer than reset_after ago.
  std::chrono::milliseconds next(SteadyTime now);

 private:
  BackoffPolicy policy_;
  std::mt19937_64 rng_;
  std::chrono::milliseconds current_;
  SteadyTime last_{};
  bool first_ = true;
};

struct ReflectorOptions {
  std::string resource;  // for messages: "services"
  std::string path;      // "/api/v1/services"
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;  // 0: no paging
  std::chrono::seconds min_watch_timeout{std::chrono::minutes(5)};
  // No byte on a watch for this long (bookmarks included; API servers send one about every
  // minute) means a stalled stream. 0: none.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(150)};
  BackoffPolicy backoff;
  uint64_t seed = 0;  // 0: random
};

// Why a list-and-watch round ended.
enum class RoundEnd { kStopped, kListFailed, kGone, kBroken, kStalled, kMalformed, kWatchFailed };
const char* roundEndName(RoundEnd end);

class Reflector {
 public:
  using ErrorReporter = std::function<void(const std::string&)>;
  Reflector(HttpTransport& transport, ListWatchStore& store, ReflectorOptions options, ErrorReporter report_error,
            const Clock* clock = nullptr);

  // Lists and watches until stopped.
  void run(std::stop_token stop);
  // One round: list, then watch until something ends it (exposed for tests).
  RoundEnd listAndWatch(std::stop_token stop);

  struct Stats {
    int lists = 0;    // complete lists
    int watches = 0;  // watch requests answered with 200
    int rounds = 0;   // rounds ended (each followed by a relist)
  };
  Stats stats() const;

  // The query strings, for tests.
  std::string listPath(const std::string& continue_token) const;
  std::string watchPath(const std::string& resource_version, int64_t timeout_seconds) const;

 private:
  enum class LineResult { kOk, kGone, kMalformed, kErrorEvent };

  Result<std::string> list(std::stop_token stop);
  LineResult handleLine(std::string_view line);
  std::string errorMessage(const char* what, int status, std::string_view body) const;

  HttpTransport& transport_;
  ListWatchStore& store_;
  ReflectorOptions options_;
  ErrorReporter report_error_;
  const Clock* clock_;
  std::mt19937_64 rng_;
  Backoff backoff_;

  // Watch state.
  std::string resource_version_;
  std::string pending_;       // bytes of an event line not complete yet
  std::string line_;          // the line being parsed, with simdjson padding
  std::string object_;        // the event's object, with simdjson padding
  std::string line_problem_;  // what was wrong with the last line
  int events_ = 0;

  mutable std::mutex stats_mu_;
  Stats stats_;
};

// Percent-encoding of a query value.
std::string queryEscape(std::string_view value);

}  // namespace kproxy::watch
