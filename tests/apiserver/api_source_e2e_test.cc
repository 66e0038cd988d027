// ApiObjectSource end to end at the watch level: the real libcurl transport over HTTPS (a CA
// and server certificate made here with the openssl CLI) against kproxy_test_apiserver, run as
// a program over loopback inside a private network namespace. After every fault the sink's
// view must equal the server's state: no lost update, no duplicate (an add of something the sink
// has, an update or delete whose `previous` is not what it has), deletes after a relist.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "src/watch/api_source.h"
#include "tests/netns/netns.h"
#include "tests/unit/watch/recording_sink.h"

extern char** environ;

namespace kproxy::watch {
namespace {

using ::testing::HasSubstr;
using testing::RecordingSink;

namespace fs = std::filesystem;

std::string service(const std::string& name, const std::string& ip, int port = 80, const std::string& labels = "") {
  return R"({"kind":"Service","apiVersion":"v1","metadata":{"name":")" + name + R"(","namespace":"default")" +
         (labels.empty() ? "" : ",\"labels\":" + labels) + R"(},"spec":{"type":"ClusterIP","clusterIP":")" + ip +
         R"(","clusterIPs":[")" + ip + R"("],"ports":[{"name":"http","protocol":"TCP","port":)" + std::to_string(port) +
         "}]}}";
}

std::string slice(const std::string& name, const std::string& ip) {
  return R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":")" + name +
         R"(","namespace":"default","labels":{"kubernetes.io/service-name":"s0"}},"addressType":"IPv4","endpoints":[{"addresses":[")" +
         ip + R"("],"conditions":{"ready":true}}],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]})";
}

std::string node(const std::string& name, const std::string& zone) {
  return R"({"kind":"Node","apiVersion":"v1","metadata":{"name":")" + name +
         R"(","labels":{"topology.kubernetes.io/zone":")" + zone +
         R"("}},"status":{"addresses":[{"type":"InternalIP","address":"172.18.0.2"}]}})";
}

class ApiSourceE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    ASSERT_EQ(std::system("ip link set lo up"), 0);
    dir_ = fs::temp_directory_path() / ("kproxy-api-e2e-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    const std::string d = dir_.string();
    const std::string make_certs =
        "(cd " + d +
        " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.crt"
        " && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr"
        " && echo subjectAltName=IP:127.0.0.1 > san.ext"
        " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext"
        " -out server.crt) >/dev/null 2>&1";
    ASSERT_EQ(std::system(make_certs.c_str()), 0) << "openssl failed";
    std::ofstream(dir_ / "token") << "token-1\n";

    std::vector<std::string> args = {KPROXY_TEST_APISERVER, "--port-file", d + "/port", "--tls-cert", d + "/server.crt",
                                     "--tls-key", d + "/server.key", "--token", "token-1", "--bookmark-interval-ms",
                                     "300"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&server_pid_, argv[0], nullptr, nullptr, argv.data(), environ), 0);
    for (int i = 0; i < 200 && !fs::exists(dir_ / "port"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    std::ifstream port_in(dir_ / "port");
    ASSERT_TRUE(port_in >> port_) << "the server did not start";

    config_.server = "https://127.0.0.1:" + std::to_string(port_);
    config_.certificate_authority.file = d + "/ca.crt";
    config_.bearer_token_file = d + "/token";
    control_ = std::make_unique<CurlHttpTransport>(config_);
  }

  void TearDown() override {
    stopSource();
    if (server_pid_ > 0) {
      kill(server_pid_, SIGTERM);
      int status = 0;
      waitpid(server_pid_, &status, 0);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::string control(const std::string& method, const std::string& path, const std::string& body = "") {
    auto r = control_->request({.method = method, .path = "/__control/" + path, .body = body, .content_type = "application/json"}, {});
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    if (!r.ok()) return "";
    EXPECT_EQ(r->status, 200) << method << " " << path << ": " << r->body;
    return r->body;
  }
  void apply(const std::string& json) { control("POST", "objects", json); }
  void remove(const std::string& kind, const std::string& name) {
    control("DELETE", "objects?kind=" + kind + "&namespace=default&name=" + name);
  }
  void fault(const std::string& json) { control("POST", "fault", json); }
  std::vector<std::string> serverState(const std::string& resource) {
    std::vector<std::string> out;
    std::string text = control("GET", "state?resource=" + resource);
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
      std::string line = text.substr(start, nl - start);
      if (excluded_.count(line.substr(0, line.find(' '))) == 0) out.push_back(line);
    }
    return out;
  }
  int lists(const std::string& resource) {
    std::string stats = control("GET", "stats");
    auto at = stats.find("\"" + resource + "\":");  // the first group is "lists"
    return std::stoi(stats.substr(at + resource.size() + 3));
  }

  void startSource() {
    ApiSourceOptions options;
    options.page_size = 3;
    options.min_watch_timeout = std::chrono::seconds(4);  // watches also end normally and resume
    options.idle_timeout = std::chrono::milliseconds(1500);
    options.backoff.initial = std::chrono::milliseconds(50);
    options.backoff.cap = std::chrono::milliseconds(400);
    source_ = std::make_unique<ApiObjectSource>(config_, "node-1", sink_, [this](const std::string& m) {
      std::lock_guard lock(mu_);
      errors_.push_back(m);
    }, options);
    thread_ = std::jthread([this](std::stop_token stop) { source_->run(stop); });
  }
  void stopSource() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
  }
  std::vector<std::string> takeErrors() {
    std::lock_guard lock(mu_);
    return std::exchange(errors_, {});
  }

  // Waits until the sink's view equals the server's state for every kind.
  bool converged(std::string& why) {
    auto nodes = serverState("nodes");
    std::vector<std::string> our_node;
    for (const auto& n : nodes) {
      if (n.rfind("node-1 ", 0) == 0) our_node.push_back(n);
    }
    const std::vector<std::pair<std::string, std::vector<std::string>>> kinds = {
        {"Service", serverState("services")}, {"EndpointSlice", serverState("endpointslices")}, {"Node", our_node}};
    for (const auto& [kind, expected] : kinds) {
      auto have = sink_.view(kind);
      if (have != expected) {
        why = kind + ": sink has " + ::testing::PrintToString(have) + ", server has " + ::testing::PrintToString(expected);
        return false;
      }
    }
    return true;
  }
  void expectConverged() {
    std::string why;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!converged(why) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_TRUE(converged(why)) << why;
    EXPECT_THAT(sink_.problems(), ::testing::IsEmpty());
  }

  fs::path dir_;
  pid_t server_pid_ = -1;
  int port_ = 0;
  ApiClientConfig config_;
  std::unique_ptr<CurlHttpTransport> control_;
  RecordingSink sink_;
  std::unique_ptr<ApiObjectSource> source_;
  std::jthread thread_;
  std::mutex mu_;
  std::vector<std::string> errors_;
  std::set<std::string> excluded_ = {"default/headless", "default/other-proxy", "default/bad", "default/bad-late"};
};

TEST_F(ApiSourceE2eTest, FaultsLoseNothingAndDuplicateNothing) {
  // Initial state: more services than a page, two that kube-proxy's selectors exclude, one that
  // does not decode; slices; this node and another.
  std::string items;
  for (int i = 0; i < 8; ++i) items += service("s" + std::to_string(i), "10.96.0." + std::to_string(10 + i)) + ",";
  items += service("headless", "None", 80, R"({"service.kubernetes.io/headless":""})") + ",";
  items += service("other-proxy", "10.96.0.99", 80, R"({"service.kubernetes.io/service-proxy-name":"x"})") + ",";
  items += R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"bad","namespace":"default"},"spec":{"clusterIP":"10.96.0.98","ports":[{"port":"eighty"}]}},)";
  items += slice("s0-a", "10.244.0.5") + "," + slice("s0-b", "10.244.0.6") + ",";
  items += node("node-1", "z1") + "," + node("node-2", "z2");
  apply(R"({"kind":"List","items":[)" + items + "]}");

  startSource();
  expectConverged();
  EXPECT_TRUE(source_->synced());
  {
    auto errors = takeErrors();
    ASSERT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    EXPECT_EQ(errors[0], "Service default/bad: spec.ports[0].port: expected an integer, got \"eighty\"");
  }

  struct Step {
    std::string name;
    std::function<void()> act;
    std::string relisted;  // a resource that must have been listed again ("" = none required)
    std::string error;     // a substring of some reported error ("" = none required)
  };
  const std::vector<Step> steps = {
      {"plain changes over the watch",
       [&] {
         apply(service("s1", "10.96.0.11", 81));
         remove("Service", "s2");
         apply(service("s8", "10.96.0.18"));
         apply(slice("s0-a", "10.244.0.7"));
         apply(node("node-1", "z9"));
         apply(node("node-2", "z8"));
       },
       "", ""},
      {"connection cut mid-event",
       [&] {
         fault(R"({"fault":"cut","resource":"services"})");
         apply(service("s3", "10.96.0.13", 82));
         // while the watch is down: a delete and an add
         remove("Service", "s4");
         apply(service("s9", "10.96.0.19"));
       },
       "services", ""},
      {"stalled stream",
       [&] {
         fault(R"({"fault":"stall","resource":"endpointslices","ms":4000})");
         std::this_thread::sleep_for(std::chrono::milliseconds(200));
         apply(slice("s0-c", "10.244.0.8"));
         remove("EndpointSlice", "s0-b");
       },
       "endpointslices", ""},
      {"410 on resume (ERROR event)",
       [&] {
         fault(R"({"fault":"gone","resource":"services"})");
         control("POST", "close-watches", "{}");
         remove("Service", "s5");
       },
       "services", ""},
      {"410 on resume (HTTP status) after compaction",
       [&] {
         fault(R"({"fault":"gone-http","resource":"nodes"})");
         control("POST", "close-watches", "{}");
         apply(node("node-1", "z3"));
         control("POST", "compact", "{}");
       },
       "nodes", ""},
      {"malformed event",
       [&] {
         fault(R"({"fault":"malformed","resource":"nodes"})");
         apply(node("node-1", "z4"));
       },
       "nodes", "nodes: watch: malformed event"},
      {"401 until the token file rotates",
       [&] {
         control("POST", "token", R"({"token":"token-2"})");
         control("POST", "close-watches", "{}");
         apply(service("s6", "10.96.0.16", 83));
         std::this_thread::sleep_for(std::chrono::milliseconds(800));
         std::ofstream(dir_ / "token.new") << "token-2\n";
         fs::rename(dir_ / "token.new", dir_ / "token");
       },
       "services", "HTTP 401: Unauthorized (check the token"},
      {"slow list pages while objects change",
       [&] {
         fault(R"({"fault":"slow-list","ms":300})");
         fault(R"({"fault":"cut","resource":"services"})");
         apply(service("s7", "10.96.0.17", 84));
         for (int i = 10; i < 14; ++i) apply(service("s" + std::to_string(i), "10.96.0." + std::to_string(i + 20)));
         remove("Service", "s0");
         std::this_thread::sleep_for(std::chrono::milliseconds(500));
         control("POST", "clear-faults", "{}");
       },
       "services", ""},
      {"a Service that does not decode arrives over the watch",
       [&] {
         apply(R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"bad-late","namespace":"default"},"spec":{"clusterIP":"10.96.0.97","ports":[{"port":"eighty"}]}})");
         apply(service("s20", "10.96.0.40"));
       },
       "", "Service default/bad-late: spec.ports[0].port: expected an integer, got \"eighty\""},
  };
  for (const auto& step : steps) {
    SCOPED_TRACE(step.name);
    const int lists_before = step.relisted.empty() ? 0 : lists(step.relisted);
    step.act();
    expectConverged();
    if (!step.relisted.empty()) {
      EXPECT_GT(lists(step.relisted), lists_before) << "no relist of " << step.relisted;
    }
    auto errors = takeErrors();
    if (!step.error.empty()) {
      EXPECT_TRUE(std::any_of(errors.begin(), errors.end(), [&](const std::string& e) {
        return e.find(step.error) != std::string::npos;
      })) << ::testing::PrintToString(errors);
    }
  }
  // The services after the bad one still arrived.
  EXPECT_THAT(sink_.view("Service"), ::testing::Contains(::testing::StartsWith("default/s20 ")));
}

}  // namespace
}  // namespace kproxy::watch
