// TestApiServer: a small Kubernetes API server for the watch tests. It serves Services
// (/api/v1/services), EndpointSlices (/apis/discovery.k8s.io/v1/endpointslices) and Nodes
// (/api/v1/nodes) with the real list/watch protocol, over HTTP or HTTPS (cpp-httplib):
//
//  * lists: {"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion",
//    "continue","remainingItemCount"},"items":[...]} (items without kind/apiVersion, as the API
//    serves them); limit/continue pages come from one snapshot, so a list is consistent at its
//    resourceVersion however slowly it is read; an unknown or expired continue token is
//    410 Expired;
//  * labelSelector (k, !k, k=v, k==v, k!=v, k in (..), k notin (..)) and fieldSelector
//    (metadata.name, metadata.namespace; spec.clusterIP and spec.type for services; =, ==, !=);
//    an unknown field label is 400, as upstream;
//  * watch=true: chunked newline-delimited {"type":...,"object":...} events; resourceVersion
//    ""/"0" starts with ADDED for every current object, N resumes after N, and N older than
//    the compacted history gets an ERROR event with a 410 Status ("too old resource
//    version"), as the watch cache does; an object that stops (starts) matching the selectors
//    is sent as DELETED (ADDED); BOOKMARK events every bookmark interval with
//    allowWatchBookmarks=true; timeoutSeconds ends the response normally;
//  * a bearer token, when set, is required on every API request (401 Status otherwise).
//
// A control interface (HTTP, no token) under /__control/ changes objects and injects faults;
// the same operations are methods for tests that link the server in-process:
//
//   POST   /__control/objects          an object or a List of objects (with kind) -> created or replaced
//   DELETE /__control/objects?kind=Service&namespace=default&name=web
//   POST   /__control/fault            {"fault":F,"resource":R,"count":N,"ms":M} (resource "" = any)
//            F = cut          the next N watch events are cut in the middle and the connection closed
//                stall        N watch streams stop sending anything (events, bookmarks) for M ms,
//                             then their connection is closed
//                gone         the next N watches that resume (resourceVersion other than ""/"0")
//                             get an ERROR event with a 410 Status
//                gone-http    the same as an HTTP 410 answer
//                unauthorized the next N API requests get 401
//                malformed    a line that is not JSON is sent before each of the next N events
//                slow-list    every list page waits M ms (until cleared)
//                expire-continue the next N continue tokens are refused with 410
//   POST   /__control/clear-faults
//   POST   /__control/compact          forget the event history: older resourceVersions get 410
//   POST   /__control/close-watches    end every open watch normally (as a server timeout)
//   POST   /__control/token            {"token":"..."}: the token required from now on ("" = none)
//   GET    /__control/state?resource=services   "namespace/name resourceVersion" lines, sorted
//   GET    /__control/stats            {"lists":{..},"watches":{..},"open_watches":{..},"resourceVersion":"N"}
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "src/util/result.h"

namespace httplib {
class Server;
}

namespace kproxy::apiserver {

enum class Resource { kServices = 0, kEndpointSlices = 1, kNodes = 2 };
inline constexpr int kResourceCount = 3;
const char* resourceName(Resource r);
std::optional<Resource> resourceByName(std::string_view name);  // "services", "Service", ...

struct ServerOptions {
  std::string address = "127.0.0.1";
  int port = 0;  // 0: any free port
  std::string tls_cert_file, tls_key_file;  // both set: HTTPS
  std::string token;                        // required bearer token ("" = none)
  std::chrono::milliseconds bookmark_interval{std::chrono::seconds(1)};
  size_t history = 10000;  // events kept for resuming watches
};

struct StoredObject;
using ObjectPtr = std::shared_ptr<const StoredObject>;

class TestApiServer {
 public:
  explicit TestApiServer(ServerOptions options);
  ~TestApiServer();

  // Binds and serves on a thread; returns the port.
  Result<int> start();
  void stop();
  int port() const { return port_; }

  // Object changes; each returns the new resourceVersion. `json` is one object with its kind
  // (or a List of them).
  Result<uint64_t> apply(std::string_view json);
  Result<uint64_t> remove(Resource resource, const std::string& ns, const std::string& name);

  struct Fault {
    std::string name;
    std::optional<Resource> resource;  // nullopt: any
    int count = 1;
    std::chrono::milliseconds duration{0};
  };
  Status injectFault(const Fault& fault);
  void clearFaults();
  uint64_t compact();
  void closeWatches();
  void setToken(std::string token);

  // "namespace/name resourceVersion" per object, sorted.
  std::vector<std::string> state(Resource resource) const;
  uint64_t resourceVersion() const;
  int lists(Resource r) const;
  int watches(Resource r) const;
  int openWatches(Resource r) const;

  struct Impl;

 private:
  ServerOptions options_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace kproxy::apiserver
