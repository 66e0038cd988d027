// HttpServer: one listening HTTP/1.1 server (cpp-httplib underneath, kept out of this header)
// with a single handler for every method and path: the healthz, metrics and health-check node
// port servers answer a handful of fixed paths and need nothing more.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "src/util/result.h"

namespace kproxy::server {

struct HttpRequest {
  std::string method;
  std::string path;                  // without the query
  std::vector<std::pair<std::string, std::string>> params;  // query parameters
  std::string local_addr;            // as the socket reports it ("::ffff:1.2.3.4" on a dual-stack socket)
  int local_port = 0;
  std::string remote_addr;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // `threads`: request workers (the listener has its own thread).
  explicit HttpServer(HttpHandler handler, int threads = 2);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0: any free port). "::" binds a dual-stack socket. Errors read like
  // Go's: "listen tcp 0.0.0.0:10256: bind: address already in use".
  Result<int> bind(const std::string& host, int port);
  // Serves in a background thread until stop().
  void start();
  void stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// Serves an address, retrying the bind every `retry_interval` until it succeeds (upstream's
// wait.Until(fn, 5s) around its healthz and metrics listeners). Each failure goes to `on_error`;
// with `hard_fail` the first failure is final (upstream then exits, which the caller does).
class RetryingHttpServer {
 public:
  struct Options {
    std::string address;  // "IP:port"
    int threads = 2;
    std::chrono::milliseconds retry_interval{5000};
    bool hard_fail = false;
    std::function<void(const Error&)> on_error;
  };
  RetryingHttpServer(Options options, HttpHandler handler);
  ~RetryingHttpServer();  // stops

  // Starts trying in the background; returns at once.
  void start();
  void stop();
  // The bound port once serving, else 0.
  int port() const;

 private:
  void loop();

  Options options_;
  HttpHandler handler_;
  std::unique_ptr<HttpServer> server_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// Splits "IP:port" or "[IPv6]:port" (Go net.SplitHostPort); the port must be 0..65535.
Result<std::pair<std::string, int>> splitHostPort(std::string_view address);
// Go net.JoinHostPort.
std::string joinHostPort(std::string_view host, int port);

}  // namespace kproxy::server
