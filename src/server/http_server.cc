#include "src/server/http_server.h"

// Debian's libcpp-httplib is built with OpenSSL support, and httplib::Request's layout depends on
// that macro: define it whether or not the build passes pkg-config's flags.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>

namespace kproxy::server {

struct HttpServer::Impl {
  httplib::Server server;
  std::thread thread;
  bool bound = false;
};

HttpServer::HttpServer(HttpHandler handler, int threads) : impl_(std::make_unique<Impl>()) {
  auto& svr = impl_->server;
  const int n = threads > 0 ? threads : 1;
  svr.new_task_queue = [n] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
  // Only SO_REUSEADDR: httplib's default also sets SO_REUSEPORT, which would let a second
  // kube-proxy bind the same port silently instead of failing like Go's listener.
  svr.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  // Go's net/http sets TCP_NODELAY on every connection. Without it, on a keep-alive connection
  // the body (a second write after the headers) waits for the ACK of the headers, which the
  // client delays by ~40 ms: every scrape or health probe after the first took 40 ms longer.
  svr.set_tcp_nodelay(true);
  svr.set_keep_alive_timeout(2);
  svr.set_read_timeout(5);
  svr.set_write_timeout(5);
  // One handler for every method and path (upstream's handlers ignore the method).
  svr.set_pre_routing_handler([h = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    HttpRequest r;
    r.method = req.method;
    r.path = req.path;
    for (const auto& [k, v] : req.params) r.params.emplace_back(k, v);
    r.local_addr = req.local_addr;
    r.local_port = req.local_port;
    r.remote_addr = req.remote_addr;
    HttpResponse out = h(r);
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k.c_str(), v);
    res.set_content(out.body, out.content_type.c_str());
    return httplib::Server::HandlerResponse::Handled;
  });
}

HttpServer::~HttpServer() { stop(); }

Result<int> HttpServer::bind(const std::string& host, int port) {
  const std::string what = "listen tcp " + joinHostPort(host, port);
  errno = 0;
  int bound = -1;
  if (port == 0) {
    bound = impl_->server.bind_to_any_port(host);
  } else if (impl_->server.bind_to_port(host, port)) {
    bound = port;
  }
  if (bound <= 0) {
    std::string why = errno != 0 ? std::strerror(errno) : "cannot bind";
    if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
    return Error(what + ": bind: " + why, errno);
  }
  impl_->bound = true;
  port_ = bound;
  return bound;
}

void HttpServer::start() {
  if (!impl_->bound || impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  // stop() only closes the socket once the server runs: wait until it does.
  for (int i = 0; i < 5000 && !impl_->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void HttpServer::stop() {
  if (!impl_) return;
  if (impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

RetryingHttpServer::RetryingHttpServer(Options options, HttpHandler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

RetryingHttpServer::~RetryingHttpServer() { stop(); }

void RetryingHttpServer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void RetryingHttpServer::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::unique_ptr<HttpServer> server;
  {
    std::lock_guard lock(mu_);
    server = std::move(server_);
  }
  if (server) server->stop();
}

int RetryingHttpServer::port() const {
  std::lock_guard lock(mu_);
  return server_ ? server_->port() : 0;
}

void RetryingHttpServer::loop() {
  while (true) {
    Status result = okStatus();
    auto hp = splitHostPort(options_.address);
    if (!hp.ok()) {
      result = hp.error();
    } else {
      auto server = std::make_unique<HttpServer>(handler_, options_.threads);
      auto bound = server->bind(hp->first, hp->second);
      if (bound.ok()) {
        server->start();
        std::lock_guard lock(mu_);
        if (stopping_) {
          server->stop();
          return;
        }
        server_ = std::move(server);
        return;
      }
      result = bound.error();
    }
    if (options_.on_error) options_.on_error(result.error());
    std::unique_lock lock(mu_);
    if (options_.hard_fail) return;
    if (cv_.wait_for(lock, options_.retry_interval, [this] { return stopping_; })) return;
  }
}

Result<std::pair<std::string, int>> splitHostPort(std::string_view address) {
  const std::string text(address);
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return Error("address " + text + ": missing port in address");
  std::string_view host = address.substr(0, colon);
  std::string_view port = address.substr(colon + 1);
  if (!host.empty() && host.front() == '[') {
    if (host.back() != ']') return Error("address " + text + ": missing ']' in address");
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return Error("address " + text + ": too many colons in address");
  }
  if (port.empty() || port.size() > 5) return Error("address " + text + ": invalid port");
  int p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return Error("address " + text + ": invalid port");
    p = p * 10 + (c - '0');
  }
  if (p > 65535) return Error("address " + text + ": invalid port");
  return std::pair<std::string, int>{std::string(host), p};
}

std::string joinHostPort(std::string_view host, int port) {
  if (host.find(':') != std::string_view::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

}  // namespace kproxy::server
