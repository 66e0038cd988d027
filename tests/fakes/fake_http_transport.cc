#include "tests/fakes/fake_http_transport.h"

namespace kproxy::fakes {
namespace {

template <typename Script>
std::optional<Script> takeFirstMatching(std::deque<Script>& queue, const std::string& path) {
  for (auto it = queue.begin(); it != queue.end(); ++it) {
    if (path.find(it->path_contains) != std::string::npos) {
      Script s = std::move(*it);
      queue.erase(it);
      return s;
    }
  }
  return std::nullopt;
}

}  // namespace

void FakeHttpTransport::queueAnswer(Answer answer) {
  std::lock_guard lock(mu_);
  answers_.push_back(std::move(answer));
}

void FakeHttpTransport::queueStream(Stream stream) {
  std::lock_guard lock(mu_);
  streams_.push_back(std::move(stream));
}

std::vector<std::string> FakeHttpTransport::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t FakeHttpTransport::unusedScripts() const {
  std::lock_guard lock(mu_);
  return answers_.size() + streams_.size();
}

bool FakeHttpTransport::waitForHeldStreams(size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return held_ >= n; });
}

Result<watch::HttpResponse> FakeHttpTransport::request(const watch::HttpRequest& request, std::stop_token stop) {
  std::optional<Answer> answer;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request.method + " " + request.path);
    answer = takeFirstMatching(answers_, request.path);
  }
  const std::string what = request.method + " " + request.path;
  if (stop.stop_requested()) return Error(what + ": cancelled");
  if (!answer) return Error(what + ": fake: no scripted answer");
  if (answer->error) return *answer->error;
  return watch::HttpResponse{answer->status, std::move(answer->body)};
}

Result<watch::StreamResult> FakeHttpTransport::stream(const watch::HttpRequest& request,
                                                      std::chrono::milliseconds /*idle_timeout*/,
                                                      const watch::ChunkHandler& on_data, std::stop_token stop) {
  std::optional<Stream> script;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(request.method + " " + request.path);
    script = takeFirstMatching(streams_, request.path);
  }
  if (!script) script = Stream{.hold = true};
  if (script->error) return *script->error;
  watch::StreamResult out;
  out.status = script->status;
  if (script->status < 200 || script->status >= 300) {
    out.body = std::move(script->body);
    return out;
  }
  for (const std::string& chunk : script->chunks) {
    if (stop.stop_requested()) {
      out.end = watch::StreamEnd::kCancelled;
      return out;
    }
    if (!on_data(chunk)) {
      out.end = watch::StreamEnd::kCancelled;
      return out;
    }
  }
  if (script->hold) {
    std::unique_lock lock(mu_);
    ++held_;
    cv_.notify_all();
    cv_.wait(lock, stop, [] { return false; });
    --held_;
    out.end = watch::StreamEnd::kCancelled;
    return out;
  }
  out.end = script->end;
  out.detail = script->detail;
  return out;
}

std::string listBody(std::string_view list_kind, std::string_view api_version, std::string_view resource_version,
                     const std::vector<std::string>& items, std::string_view continue_token) {
  std::string out = "{\"kind\":\"" + std::string(list_kind) + "\",\"apiVersion\":\"" + std::string(api_version) +
                    "\",\"metadata\":{\"resourceVersion\":\"" + std::string(resource_version) + "\"";
  if (!continue_token.empty()) out += ",\"continue\":\"" + std::string(continue_token) + "\"";
  out += "},\"items\":[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += items[i];
  }
  out += "]}";
  return out;
}

std::string watchEvent(std::string_view type, std::string_view object) {
  return "{\"type\":\"" + std::string(type) + "\",\"object\":" + std::string(object) + "}\n";
}

std::string statusBody(int code, std::string_view reason, std::string_view message) {
  return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"" +
         std::string(message) + "\",\"reason\":\"" + std::string(reason) + "\",\"code\":" + std::to_string(code) + "}";
}

std::string bookmarkObject(std::string_view kind, std::string_view api_version, std::string_view resource_version) {
  return "{\"kind\":\"" + std::string(kind) + "\",\"apiVersion\":\"" + std::string(api_version) +
         "\",\"metadata\":{\"resourceVersion\":\"" + std::string(resource_version) + "\"}}";
}

std::string serviceJson(std::string_view ns, std::string_view name, std::string_view resource_version,
                        std::string_view cluster_ip, int port) {
  return "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"" + std::string(name) +
         "\",\"namespace\":\"" + std::string(ns) + "\",\"resourceVersion\":\"" + std::string(resource_version) +
         "\"},\"spec\":{\"type\":\"ClusterIP\",\"clusterIP\":\"" + std::string(cluster_ip) + "\",\"clusterIPs\":[\"" +
         std::string(cluster_ip) + "\"],\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":" +
         std::to_string(port) + ",\"targetPort\":" + std::to_string(port) + "}]}}";
}

}  // namespace kproxy::fakes
