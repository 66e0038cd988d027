// FakeHttpTransport: scripted answers for the watch code's unit tests. A test queues answers
// for request() (list pages, control calls) and streams for stream() (watches): a 2xx body cut
// into chunks wherever the test likes, ending normally, broken (a cut connection), stalled (idle
// timeout) or held open until the caller stops; non-2xx statuses with a Status body (410, 401);
// or no answer at all (an Error). Each call takes the first queued script whose path_contains
// is part of the request's path, so that concurrent reflectors (services, endpointslices,
// nodes) each find their own. A stream() with no script left is a quiet watch: it stays open
// until the caller stops it. Every request is logged.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/watch/http_transport.h"

namespace kproxy::fakes {

class FakeHttpTransport final : public watch::HttpTransport {
 public:
  struct Answer {
    std::string path_contains;  // "" matches every path
    int status = 200;
    std::string body;
    std::optional<Error> error;  // no HTTP answer
  };
  struct Stream {
    std::string path_contains;
    int status = 200;
    std::string body;                 // the body of a non-2xx answer
    std::vector<std::string> chunks;  // the body of a 2xx answer, piece by piece
    watch::StreamEnd end = watch::StreamEnd::kCompleted;
    std::string detail;  // for kBroken
    // After the chunks, stay open until the caller stops (then kCancelled).
    bool hold = false;
    std::optional<Error> error;
  };

  void queueAnswer(Answer answer);
  void queueStream(Stream stream);

  // "GET <path>" for every call, in order.
  std::vector<std::string> requests() const;
  // Scripts not used yet.
  size_t unusedScripts() const;
  // Blocks until `n` streams are being held open (the callers are watching quietly), or the
  // timeout passes; returns whether they are.
  bool waitForHeldStreams(size_t n, std::chrono::milliseconds timeout) const;

  // watch::HttpTransport
  Result<watch::HttpResponse> request(const watch::HttpRequest& request, std::stop_token stop) override;
  Result<watch::StreamResult> stream(const watch::HttpRequest& request, std::chrono::milliseconds idle_timeout,
                                     const watch::ChunkHandler& on_data, std::stop_token stop) override;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable_any cv_;
  std::deque<Answer> answers_;
  std::deque<Stream> streams_;
  std::vector<std::string> requests_;
  size_t held_ = 0;
};

// Builders of API JSON for scripts.

// A list answer: {"kind":<list_kind>,"apiVersion":..,"metadata":{"resourceVersion":..,"continue":..},"items":[..]}
std::string listBody(std::string_view list_kind, std::string_view api_version, std::string_view resource_version,
                     const std::vector<std::string>& items, std::string_view continue_token = "");
// One watch event line, newline included.
std::string watchEvent(std::string_view type, std::string_view object);
// A Status object: {"kind":"Status",...,"code":410,"reason":"Expired","message":..}
std::string statusBody(int code, std::string_view reason, std::string_view message);
// A BOOKMARK event's object.
std::string bookmarkObject(std::string_view kind, std::string_view api_version, std::string_view resource_version);
// A minimal valid Service (ClusterIP, one TCP port) as the API serves it.
std::string serviceJson(std::string_view ns, std::string_view name, std::string_view resource_version,
                        std::string_view cluster_ip, int port = 80);

}  // namespace kproxy::fakes
