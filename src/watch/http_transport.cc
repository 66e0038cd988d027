#include "src/watch/http_transport.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>

namespace kproxy::watch {

const char* streamEndName(StreamEnd end) {
  switch (end) {
    case StreamEnd::kCompleted:
      return "completed";
    case StreamEnd::kCancelled:
      return "cancelled";
    case StreamEnd::kIdleTimeout:
      return "idle timeout";
    case StreamEnd::kBroken:
      return "broken";
  }
  return "?";
}

// One multi handle (which keeps the connection cache, so a list's pages reuse one TLS
// connection) and one easy handle, reused request after request.
struct CurlHttpTransport::Handles {
  Handles() : multi(curl_multi_init()), easy(curl_easy_init()) {}
  ~Handles() {
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
  }
  Handles(const Handles&) = delete;
  Handles& operator=(const Handles&) = delete;

  CURLM* multi;
  CURL* easy;
};

// What the libcurl callbacks of one request share.
struct CurlHttpTransport::Exchange {
  CURL* easy = nullptr;
  const ChunkHandler* on_data = nullptr;  // streaming: 2xx bodies go here
  std::string* whole_body = nullptr;      // request(): the body goes here
  std::string error_body;                 // streaming: the body of a non-2xx answer
  int status = 0;
  bool handler_stopped = false;
  std::chrono::steady_clock::time_point last_byte = std::chrono::steady_clock::now();

  void noteStatus() {
    if (status != 0) return;
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    status = static_cast<int>(code);
  }
};

namespace {

// A non-2xx body is a Status object; more than this is not worth keeping.
constexpr size_t kMaxErrorBody = 64 * 1024;

size_t onHeader(char* /*data*/, size_t size, size_t n, void* userdata) {
  auto* x = static_cast<CurlHttpTransport::Exchange*>(userdata);
  x->last_byte = std::chrono::steady_clock::now();
  return size * n;
}

size_t onWrite(char* data, size_t size, size_t n, void* userdata) {
  auto* x = static_cast<CurlHttpTransport::Exchange*>(userdata);
  const size_t len = size * n;
  x->last_byte = std::chrono::steady_clock::now();
  x->noteStatus();
  if (x->whole_body != nullptr) {
    x->whole_body->append(data, len);
    return len;
  }
  if (x->status < 200 || x->status >= 300) {
    if (x->error_body.size() < kMaxErrorBody) x->error_body.append(data, std::min(len, kMaxErrorBody - x->error_body.size()));
    return len;
  }
  if (!(*x->on_data)(std::string_view(data, len))) {
    x->handler_stopped = true;
    return 0;  // makes libcurl end the transfer (CURLE_WRITE_ERROR)
  }
  return len;
}

std::string trimmed(std::string s) {
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!s.empty() && space(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && space(s[i])) ++i;
  return s.substr(i);
}

void setBlob(CURL* easy, CURLoption option, const std::string& data) {
  curl_blob blob{const_cast<char*>(data.data()), data.size(), CURL_BLOB_COPY};
  curl_easy_setopt(easy, option, &blob);
}

}  // namespace

CurlHttpTransport::CurlHttpTransport(ApiClientConfig config) : config_(std::move(config)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlHttpTransport::~CurlHttpTransport() = default;

std::unique_ptr<CurlHttpTransport::Handles> CurlHttpTransport::acquire() {
  std::lock_guard lock(mu_);
  if (idle_.empty()) return std::make_unique<Handles>();
  auto h = std::move(idle_.back());
  idle_.pop_back();
  return h;
}

void CurlHttpTransport::release(std::unique_ptr<Handles> handles) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(handles));
}

std::string CurlHttpTransport::currentToken() {
  std::lock_guard lock(mu_);
  if (!config_.bearer_token_file.empty()) {
    struct stat st {};
    if (stat(config_.bearer_token_file.c_str(), &st) == 0) {
      std::string stamp = std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
                          std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
      if (stamp != file_token_stamp_) {
        std::ifstream in(config_.bearer_token_file, std::ios::binary);
        if (in) {
          file_token_ = trimmed(std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>()));
          file_token_stamp_ = stamp;
        }
      }
    }
    if (!file_token_.empty()) return file_token_;
  }
  return config_.bearer_token;
}

Result<StreamResult> CurlHttpTransport::perform(const HttpRequest& request, std::chrono::milliseconds idle_timeout,
                                                const ChunkHandler* on_data, std::string* whole_body,
                                                std::stop_token stop) {
  const std::string what = request.method + " " + request.path;
  if (stop.stop_requested()) return Error(what + ": cancelled");
  auto handles = acquire();
  if (handles->multi == nullptr || handles->easy == nullptr) return Error(what + ": cannot create a libcurl handle");
  CURL* easy = handles->easy;
  curl_easy_reset(easy);

  Exchange x;
  x.easy = easy;
  x.on_data = on_data;
  x.whole_body = whole_body;
  char error_buffer[CURL_ERROR_SIZE] = {0};

  const std::string url = config_.server + request.path;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout.count()));
  std::chrono::milliseconds timeout = request.timeout;
  if (timeout.count() == 0 && on_data == nullptr) timeout = config_.request_timeout;
  if (timeout.count() > 0) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 10L);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, config_.user_agent.c_str());
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, onWrite);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &x);
  // Lists compress well; the API server does not compress watches.
  // gzip only, as client-go's transport asks: "" would offer every encoding libcurl knows,
  // brotli included, which servers compress far more slowly for no gain on a cluster network.
  if (whole_body != nullptr) curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "gzip");

  if (request.method != "GET") curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }

  // TLS
  if (!config_.certificate_authority.data.empty()) {
    setBlob(easy, CURLOPT_CAINFO_BLOB, config_.certificate_authority.data);
  } else if (!config_.certificate_authority.file.empty()) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, config_.certificate_authority.file.c_str());
  }
  if (!config_.client_certificate.data.empty()) {
    setBlob(easy, CURLOPT_SSLCERT_BLOB, config_.client_certificate.data);
  } else if (!config_.client_certificate.file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, config_.client_certificate.file.c_str());
  }
  if (!config_.client_key.data.empty()) {
    setBlob(easy, CURLOPT_SSLKEY_BLOB, config_.client_key.data);
  } else if (!config_.client_key.file.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLKEY, config_.client_key.file.c_str());
  }
  if (!config_.client_certificate.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (config_.insecure_skip_tls_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }

  // Headers
  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  const std::string token = currentToken();
  std::string header;
  if (!token.empty()) {
    header = "Authorization: Bearer " + token;
    headers = curl_slist_append(headers, header.c_str());
  } else if (!config_.username.empty()) {
    curl_easy_setopt(easy, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
    curl_easy_setopt(easy, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(easy, CURLOPT_PASSWORD, config_.password.c_str());
  }
  std::string content_type;
  if (!request.content_type.empty()) {
    content_type = "Content-Type: " + request.content_type;
    headers = curl_slist_append(headers, content_type.c_str());
  }
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);

  // The transfer: driven here rather than by curl_easy_perform so that a stop request wakes it
  // at once (curl_multi_wakeup) and the idle timeout is measured exactly.
  bool cancelled = false;
  bool idle = false;
  bool done = false;
  CURLcode result = CURLE_OK;
  curl_multi_add_handle(handles->multi, easy);
  {
    std::stop_callback wake(stop, [multi = handles->multi] { curl_multi_wakeup(multi); });
    for (;;) {
      int running = 0;
      CURLMcode mc = curl_multi_perform(handles->multi, &running);
      if (mc != CURLM_OK) {
        std::snprintf(error_buffer, sizeof(error_buffer), "%s", curl_multi_strerror(mc));
        result = CURLE_FAILED_INIT;
        done = true;
        break;
      }
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(handles->multi, &left)) {
        if (msg->msg == CURLMSG_DONE) {
          result = msg->data.result;
          done = true;
        }
      }
      if (done || running == 0) break;
      if (stop.stop_requested()) {
        cancelled = true;
        break;
      }
      int wait_ms = 1000;
      if (idle_timeout.count() > 0) {
        auto quiet = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - x.last_byte);
        if (quiet >= idle_timeout) {
          idle = true;
          break;
        }
        wait_ms = static_cast<int>(std::min<int64_t>(wait_ms, (idle_timeout - quiet).count() + 1));
      }
      curl_multi_poll(handles->multi, nullptr, 0, wait_ms, nullptr);
    }
  }
  x.noteStatus();
  curl_multi_remove_handle(handles->multi, easy);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (x.status == 401) {
    // The token may have rotated: read the file again next time even if it looks unchanged.
    std::lock_guard lock(mu_);
    file_token_stamp_.clear();
  }
  if (cancelled || idle) {
    // A half-used connection must not be reused: drop these handles.
    handles.reset();
  } else {
    release(std::move(handles));
  }

  StreamResult out;
  out.status = x.status;
  out.body = std::move(x.error_body);
  if (cancelled || x.handler_stopped) {
    if (x.status == 0) return Error(what + ": cancelled");
    out.end = StreamEnd::kCancelled;
    return out;
  }
  if (idle) {
    if (x.status == 0) return Error(what + ": no answer for " + std::to_string(idle_timeout.count()) + "ms");
    out.end = StreamEnd::kIdleTimeout;
    return out;
  }
  if (result != CURLE_OK) {
    std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(result);
    if (x.status == 0) return Error(what + ": " + detail);
    out.end = StreamEnd::kBroken;
    out.detail = detail;
    return out;
  }
  out.end = StreamEnd::kCompleted;
  return out;
}

Result<HttpResponse> CurlHttpTransport::request(const HttpRequest& request, std::stop_token stop) {
  std::string body;
  auto r = perform(request, std::chrono::milliseconds(0), nullptr, &body, stop);
  if (!r.ok()) return r.error();
  if (r->end != StreamEnd::kCompleted) {
    return Error(request.method + " " + request.path + ": response " + streamEndName(r->end) +
                 (r->detail.empty() ? "" : ": " + r->detail));
  }
  return HttpResponse{r->status, std::move(body)};
}

Result<StreamResult> CurlHttpTransport::stream(const HttpRequest& request, std::chrono::milliseconds idle_timeout,
                                               const ChunkHandler& on_data, std::stop_token stop) {
  return perform(request, idle_timeout, &on_data, nullptr, stop);
}

}  // namespace kproxy::watch
