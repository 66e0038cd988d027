// HttpTransport: how the watch code talks to the API server. One request/response call (lists,
// and the test harness's control requests) and one streaming GET (watches) that hands the body
// to a callback as it arrives. Both can be cancelled through a stop_token. The libcurl
// implementation (CurlHttpTransport) does TLS, client certificates, bearer tokens (re-reading a
// token file when it changes) and the timeouts; tests/fakes/fake_http_transport.h scripts
// answers for unit tests.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "src/util/result.h"
#include "src/watch/kubeconfig.h"

namespace kproxy::watch {

struct HttpRequest {
  std::string method = "GET";
  std::string path;  // with the query: "/api/v1/services?limit=500"
  std::string body;
  std::string content_type;  // of `body`
  // The whole exchange; 0 = the transport's default (ApiClientConfig::request_timeout).
  std::chrono::milliseconds timeout{0};
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

// How a stream ended.
enum class StreamEnd {
  kCompleted,    // the server ended the response (a watch's timeoutSeconds ran out)
  kCancelled,    // the stop_token fired, or the callback returned false
  kIdleTimeout,  // no byte for the idle timeout: a stalled stream
  kBroken,       // the connection broke mid-response (cut, reset, truncated chunk)
};
const char* streamEndName(StreamEnd end);

struct StreamResult {
  int status = 0;  // the HTTP status; the callback only sees the body of a 2xx answer
  StreamEnd end = StreamEnd::kCompleted;
  std::string detail;  // what broke, for kBroken
  std::string body;    // the body of a non-2xx answer (a Status object)
};

// Receives the body of a streaming 2xx answer in pieces as they arrive (boundaries fall
// anywhere, also inside a line); returns false to stop the stream (StreamEnd::kCancelled).
using ChunkHandler = std::function<bool(std::string_view)>;

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;

  // An Error when no HTTP answer arrived (connection refused, TLS failure, timeout, cancelled);
  // any HTTP status is a response.
  virtual Result<HttpResponse> request(const HttpRequest& request, std::stop_token stop) = 0;

  // A streaming GET. An Error when no HTTP answer arrived; afterwards, how the stream ended.
  // `idle_timeout` (0 = none) ends the stream when no byte arrives for that long.
  virtual Result<StreamResult> stream(const HttpRequest& request, std::chrono::milliseconds idle_timeout,
                                      const ChunkHandler& on_data, std::stop_token stop) = 0;
};

// libcurl: HTTP/1.1 or HTTP/2 over TLS with the configured CA (or the system's), client
// certificate and key (files or PEM blobs), bearer token or basic auth. Proxies only as the
// environment says (libcurl's https_proxy/no_proxy handling). TCP keepalive is on. Files named by
// the config are read per request, so construction cannot fail: errors show up as request errors.
class CurlHttpTransport final : public HttpTransport {
 public:
  explicit CurlHttpTransport(ApiClientConfig config);
  ~CurlHttpTransport() override;

  Result<HttpResponse> request(const HttpRequest& request, std::stop_token stop) override;
  Result<StreamResult> stream(const HttpRequest& request, std::chrono::milliseconds idle_timeout,
                              const ChunkHandler& on_data, std::stop_token stop) override;

 // The state libcurl's callbacks share with one transfer (http_transport.cc).
  struct Exchange;

 private:
  struct Handles;

  std::unique_ptr<Handles> acquire();
  void release(std::unique_ptr<Handles> handles);
  Result<StreamResult> perform(const HttpRequest& request, std::chrono::milliseconds idle_timeout,
                               const ChunkHandler* on_data, std::string* whole_body, std::stop_token stop);
  // The token to send now: the token file's content when it changed (or after a 401), else
  // the last one read, else the static token.
  std::string currentToken();

  ApiClientConfig config_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Handles>> idle_;  // curl handles with their connection caches
  std::string file_token_;
  std::string file_token_stamp_;  // inode, size and mtime of the token file when read
};

}  // namespace kproxy::watch
