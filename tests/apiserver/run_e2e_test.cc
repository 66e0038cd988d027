// `kproxy run` end to end against the test API server: the real binary, fed over HTTPS (a
// kubeconfig with a CA and a token file) by TestApiServer running in this process, both inside a
// private network namespace where kproxy programs iptables. Each test injects one fault, changes
// objects through it, and then requires the node's rules to equal a fresh full render of the
// API's final state (runDiff: the KUBE-* chains of iptables-save, parsed, against the plan's,
// chain by chain) with kproxy still running. No lost update, no stale rule, no crash.
//
// Every wait polls with a generous deadline; nothing asserts how fast anything happens.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <httplib.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "src/cli/diff_command.h"
#include "src/util/subprocess.h"
#include "tests/apiserver/test_apiserver.h"
#include "tests/netns/netns.h"

namespace kproxy::apiserver {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr char kNode[] = "node-1";

std::string serviceJson(const std::string& name, const std::string& ip, int port, const std::string& extra_spec = "") {
  return R"({"kind":"Service","apiVersion":"v1","metadata":{"name":")" + name +
         R"(","namespace":"default"},"spec":{"type":"ClusterIP","clusterIP":")" + ip + R"(","clusterIPs":[")" + ip +
         R"("],"ports":[{"name":"http","protocol":"TCP","port":)" + std::to_string(port) +
         R"(,"targetPort":8080}])" + extra_spec + "}}";
}

std::string sliceJson(const std::string& service, const std::vector<std::string>& ips) {
  std::string endpoints;
  for (const auto& ip : ips) {
    if (!endpoints.empty()) endpoints += ",";
    endpoints += R"({"addresses":[")" + ip + R"("],"conditions":{"ready":true},"nodeName":")" + kNode + "\"}";
  }
  return R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":")" + service +
         R"(-abcde","namespace":"default","labels":{"kubernetes.io/service-name":")" + service +
         R"("}},"addressType":"IPv4","endpoints":[)" + endpoints +
         R"(],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]})";
}

// `extra_meta` and `extra_spec` are spliced into metadata and spec (each starting with a comma).
std::string nodeJson(const std::string& extra_meta = "", const std::string& extra_spec = "") {
  return R"({"kind":"Node","apiVersion":"v1","metadata":{"name":")" + std::string(kNode) +
         R"(","labels":{"kubernetes.io/hostname":")" + kNode + R"("})" + extra_meta +
         R"(},"spec":{"podCIDR":"10.244.1.0/24","podCIDRs":["10.244.1.0/24"])" + extra_spec +
         R"(},"status":{"addresses":[{"type":"InternalIP","address":"10.1.0.10"}]}})";
}

std::string svcIp(int i) { return "10.96." + std::to_string(i / 200) + "." + std::to_string(10 + i % 200); }
std::string podIp(int i, int j) { return "10.244." + std::to_string(2 + i / 100) + "." + std::to_string((i % 100) * 2 + j + 1); }

Status runQuiet(const std::string& command) {
  auto r = runProcess({"/bin/sh", "-c", command});
  if (!r.ok()) return r.error();
  if (!r->succeeded()) return Error(command + ": " + r->err);
  return okStatus();
}

class KproxyRunE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    ASSERT_TRUE(runQuiet("ip link set lo up").ok());
    dir_ = fs::temp_directory_path() / ("kproxy-run-e2e-" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string d = dir_.string();
    const std::string make_certs =
        "cd " + d +
        " && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout ca.key -out ca.crt"
        " && openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr"
        " && echo subjectAltName=IP:127.0.0.1 > san.ext"
        " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -extfile san.ext"
        " -out server.crt";
    auto certs = runQuiet(make_certs);
    ASSERT_TRUE(certs.ok()) << certs.error().message;

    ServerOptions options;
    options.tls_cert_file = d + "/server.crt";
    options.tls_key_file = d + "/server.key";
    options.token = "token-1";
    options.bookmark_interval = 300ms;
    server_ = std::make_unique<TestApiServer>(options);
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;

    std::ofstream(dir_ / "token") << "token-1\n";
    std::ofstream(dir_ / "kubeconfig") << "apiVersion: v1\nkind: Config\n"
                                          "clusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:"
                                       << *port
                                       << "\n    certificate-authority: ca.crt\n"
                                          "users:\n- name: kube-proxy\n  user:\n    tokenFile: token\n"
                                          "contexts:\n- name: test\n  context: {cluster: test, user: kube-proxy}\n"
                                          "current-context: test\n";
    std::ofstream(dir_ / "config.yaml") << "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
                                           "kind: KubeProxyConfiguration\n"
                                           "mode: iptables\n"
                                           "clientConnection:\n  kubeconfig: "
                                        << d << "/kubeconfig\n"
                                           "hostnameOverride: " << kNode << "\n"
                                           "clusterCIDR: 10.244.0.0/16\n"
                                           "healthzBindAddress: 127.0.0.1:10256\n"
                                           "metricsBindAddress: 127.0.0.1:10249\n"
                                           "iptables:\n  syncPeriod: 30s\n  minSyncPeriod: 0s\n"
                                           // nf_conntrack_max is read-only outside the initial namespace.
                                           "conntrack:\n  maxPerCore: 0\n";

    put(nodeJson());
    for (int i = 0; i < 20; ++i) {
      put(serviceJson("svc-" + std::to_string(i), svcIp(i), 80));
      put(sliceJson("svc-" + std::to_string(i), {podIp(i, 0), podIp(i, 1)}));
    }
  }

  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (server_) server_->stop();
    if (HasFailure() && !dir_.empty()) {
      std::fprintf(stderr, "----- kproxy log -----\n%s\n-----\n", log().c_str());
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // ----- The API's state, mirrored here for the render. -----
  static std::string keyOf(const std::string& json) {
    const auto kind = json.substr(9, json.find('"', 9) - 9);
    const auto at = json.find("\"name\":\"") + 8;
    return kind + "/" + json.substr(at, json.find('"', at) - at);
  }
  void put(const std::string& json) {
    auto r = server_->apply(json);
    ASSERT_TRUE(r.ok()) << r.error().message;
    model_[keyOf(json)] = json;
  }
  void remove(Resource resource, const std::string& kind, const std::string& name) {
    auto r = server_->remove(resource, "default", name);
    ASSERT_TRUE(r.ok()) << r.error().message;
    model_.erase(kind + "/" + name);
  }
  void writeModel() {
    std::string list = R"({"kind":"List","apiVersion":"v1","items":[)";
    bool first = true;
    for (const auto& [key, json] : model_) {
      list += (first ? "" : ",") + json;
      first = false;
    }
    std::ofstream(dir_ / "state.json") << list << "]}";
  }

  // ----- kproxy. -----
  void startKproxy(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {KPROXY_BINARY, "run", "--config", (dir_ / "config.yaml").string(), "-v", "2"};
    args.insert(args.end(), extra.begin(), extra.end());
    const std::string log_path = (dir_ / "kproxy.log").string();
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  bool kproxyRunning() {
    int status = 0;
    if (pid_ <= 0) return false;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      pid_ = -1;
      return false;
    }
    return true;
  }
  std::string log() const {
    std::ifstream in(dir_ / "kproxy.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // The node's rules against a full render of the model: "" when equal, else the diff.
  std::string driftFromModel() {
    writeModel();
    cli::DiffOptions options;
    options.files = {(dir_ / "state.json").string()};
    options.config_path = (dir_ / "config.yaml").string();
    options.hostname_override = kNode;
    std::string out, err;
    const int code = cli::runDiff(options, out, err);
    if (code == 0) return "";
    return code == 1 ? out : "diff failed: " + err;
  }

  // Polls (generously) until the rules equal the render of the model, with kproxy alive.
  void expectRulesConverge(const std::string& what) {
    const auto deadline = SteadyClock::now() + 120s;
    std::string drift;
    while (true) {
      ASSERT_TRUE(kproxyRunning()) << what << ": kproxy exited with status " << exit_status_;
      drift = driftFromModel();
      if (drift.empty()) break;
      if (SteadyClock::now() > deadline) {
        FAIL() << what << ": the rules never matched the API's state; last drift:\n" << drift;
      }
      std::this_thread::sleep_for(200ms);
    }
    // Settled, not passing through: every informer watches again and the rules still match.
    waitUntil([&] {
      for (Resource r : {Resource::kServices, Resource::kEndpointSlices, Resource::kNodes}) {
        if (server_->openWatches(r) == 0) return false;
      }
      return true;
    }, what + ": informers watching again");
    EXPECT_EQ(driftFromModel(), "") << what;
    EXPECT_TRUE(kproxyRunning()) << what;
  }

  void waitUntil(const std::function<bool()>& done, const std::string& what) {
    const auto deadline = SteadyClock::now() + 120s;
    while (!done()) {
      ASSERT_LT(SteadyClock::now(), deadline) << "timed out: " << what;
      std::this_thread::sleep_for(100ms);
    }
  }

  // The changes every fault is followed by: an endpoint moves, a service goes, one arrives, a
  // port changes.
  void changeObjects(int round) {
    const std::string r = std::to_string(round);
    put(sliceJson("svc-1", {podIp(1, 0), "10.244.90." + r}));
    remove(Resource::kServices, "Service", "svc-" + std::to_string(2 + round));
    remove(Resource::kEndpointSlices, "EndpointSlice", "svc-" + std::to_string(2 + round) + "-abcde");
    put(serviceJson("new-" + r, svcIp(100 + round), 81));
    put(sliceJson("new-" + r, {"10.244.91." + r}));
    put(serviceJson("svc-0", svcIp(0), 8000 + round));
  }

  void startAndConverge() {
    startKproxy();
    expectRulesConverge("initial sync");
  }

  Status fault(const std::string& name, std::optional<Resource> resource, int count, std::chrono::milliseconds ms = 0ms) {
    return server_->injectFault({.name = name, .resource = resource, .count = count, .duration = ms});
  }

  fs::path dir_;
  std::unique_ptr<TestApiServer> server_;
  std::map<std::string, std::string> model_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

// The comparison itself is not vacuous: a Service the API never saw is missing from the node.
TEST_F(KproxyRunE2eTest, ComparisonSeesAMissingService) {
  startAndConverge();
  model_["Service/ghost"] = serviceJson("ghost", svcIp(150), 80);
  model_["EndpointSlice/ghost-abcde"] = sliceJson("ghost", {"10.244.92.1"});
  const std::string drift = driftFromModel();
  EXPECT_THAT(drift, ::testing::HasSubstr("default/ghost:http"));
  EXPECT_THAT(drift, ::testing::HasSubstr("10.244.92.1"));
}

TEST_F(KproxyRunE2eTest, ConnectionCutMidEvent) {
  startAndConverge();
  ASSERT_TRUE(fault("cut", Resource::kServices, 1).ok());
  ASSERT_TRUE(fault("cut", Resource::kEndpointSlices, 1).ok());
  changeObjects(1);
  expectRulesConverge("after cut watch streams");
}

TEST_F(KproxyRunE2eTest, StalledStream) {
  startAndConverge();
  ASSERT_TRUE(fault("stall", std::nullopt, 3, 2000ms).ok());
  changeObjects(1);
  expectRulesConverge("after stalled streams");
}

TEST_F(KproxyRunE2eTest, GoneOnResumeRelistsAndDeletesVanished) {
  startAndConverge();
  // Changes made while no watch is open and the history forgotten: the resume gets 410 and the
  // relist must turn into deletes for what vanished.
  ASSERT_TRUE(fault("stall", std::nullopt, 3, 2000ms).ok());
  changeObjects(1);
  server_->compact();
  expectRulesConverge("after 410 Gone (history compacted)");
  ASSERT_TRUE(fault("gone", std::nullopt, 3).ok());
  server_->closeWatches();
  changeObjects(2);
  expectRulesConverge("after 410 Gone as a watch ERROR event");
  ASSERT_TRUE(fault("gone-http", std::nullopt, 3).ok());
  server_->closeWatches();
  changeObjects(3);
  expectRulesConverge("after 410 Gone as an HTTP answer");
}

TEST_F(KproxyRunE2eTest, UnauthorizedThenAllowed) {
  startAndConverge();
  ASSERT_TRUE(fault("unauthorized", std::nullopt, 6).ok());
  server_->closeWatches();
  changeObjects(1);
  expectRulesConverge("after 401 answers");
  // The token rotates: the server wants a new one, the token file follows a little later.
  server_->setToken("token-2");
  server_->closeWatches();
  changeObjects(2);
  std::this_thread::sleep_for(500ms);  // a few 401s happen meanwhile (not asserted)
  std::ofstream(dir_ / "token") << "token-2\n";
  expectRulesConverge("after the token rotated");
  EXPECT_THAT(log(), ::testing::HasSubstr("401"));
}

TEST_F(KproxyRunE2eTest, MalformedEvent) {
  startAndConverge();
  ASSERT_TRUE(fault("malformed", std::nullopt, 2).ok());
  changeObjects(1);
  expectRulesConverge("after malformed watch events");
}

TEST_F(KproxyRunE2eTest, SlowListPages) {
  // Pages of 500 would make one page: more objects than that, listed slowly, on every relist.
  for (int i = 20; i < 620; ++i) put(serviceJson("svc-" + std::to_string(i), svcIp(i), 80));
  ASSERT_TRUE(fault("slow-list", std::nullopt, 0, 300ms).ok());
  startKproxy();
  expectRulesConverge("initial sync with slow list pages");
  ASSERT_TRUE(fault("stall", std::nullopt, 3, 1000ms).ok());
  changeObjects(1);
  server_->compact();
  expectRulesConverge("relist with slow list pages");
  server_->clearFaults();
  changeObjects(2);
  expectRulesConverge("after slow lists ended");
}

TEST_F(KproxyRunE2eTest, UnparsableServiceIsSkippedWithAnErrorNamingIt) {
  startAndConverge();
  // A port that is not a number: the decoder refuses this one Service; the rest still sync.
  const std::string bad = R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"broken-svc","namespace":"default"},)"
                          R"("spec":{"type":"ClusterIP","clusterIP":"10.96.50.50","clusterIPs":["10.96.50.50"],)"
                          R"("ports":[{"name":"http","protocol":"TCP","port":"eighty"}]}})";
  auto r = server_->apply(bad);
  ASSERT_TRUE(r.ok()) << r.error().message;
  changeObjects(1);
  expectRulesConverge("with an unparsable Service");
  EXPECT_THAT(log(), ::testing::HasSubstr("broken-svc"));
  if (std::getenv("KPROXY_E2E_SHOW_LOG")) std::fprintf(stderr, "%s\n", log().c_str());
  // It stays skipped across a relist, and the others keep syncing.
  ASSERT_TRUE(fault("gone", std::nullopt, 3).ok());
  server_->closeWatches();
  changeObjects(2);
  expectRulesConverge("with an unparsable Service, after a relist");
}

TEST_F(KproxyRunE2eTest, SigtermStopsCleanlyAndLeavesTheRules) {
  startAndConverge();
  kill(pid_, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
  pid_ = -1;
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(driftFromModel(), "") << "the rules must stay after SIGTERM";
}

TEST_F(KproxyRunE2eTest, WaitsForItsNodeBeforeSyncing) {
  remove(Resource::kNodes, "Node", kNode);
  startKproxy();
  // No rules while the Node is missing: kube-proxy waits for it (upstream NodeManager).
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(kproxyRunning());
  auto save = runProcess({"iptables-save", "-t", "nat"});
  ASSERT_TRUE(save.ok());
  EXPECT_THAT(save->out, ::testing::Not(::testing::HasSubstr("KUBE-SERVICES")));
  put(nodeJson());
  expectRulesConverge("after the Node appeared");
}

// upstream ProxyHealthServer.SyncNode: a node the cluster autoscaler is about to remove, or one
// being deleted, fails /healthz (so load balancers drain it) while /livez and the rules stay.
TEST_F(KproxyRunE2eTest, NodeBeingRemovedFailsHealthzButKeepsTheRules) {
  startAndConverge();
  httplib::Client health("127.0.0.1", 10256);
  auto status = [&](const char* path) {
    auto r = health.Get(path);
    return r ? r->status : -1;
  };
  auto body = [&] {
    auto r = health.Get("/healthz");
    return r ? r->body : std::string();
  };
  waitUntil([&] { return status("/healthz") == 200; }, "healthy after the initial sync");
  EXPECT_THAT(body(), ::testing::HasSubstr("\"nodeEligible\": true}"));

  put(nodeJson("", R"(,"taints":[{"key":"ToBeDeletedByClusterAutoscaler","value":"1700000000","effect":"NoSchedule"}])"));
  waitUntil([&] { return status("/healthz") == 503; }, "/healthz fails for the tainted node");
  EXPECT_THAT(body(), ::testing::HasSubstr("\"nodeEligible\": false}"));
  EXPECT_EQ(status("/livez"), 200);

  // Another taint does not matter; the autoscaler's going away makes the node eligible again.
  put(nodeJson("", R"(,"taints":[{"key":"example.com/other","effect":"NoSchedule"}])"));
  waitUntil([&] { return status("/healthz") == 200; }, "/healthz recovers when the taint goes");

  put(nodeJson(R"(,"deletionTimestamp":"2026-11-30T10:00:00Z")"));
  waitUntil([&] { return status("/healthz") == 503; }, "/healthz fails for a node being deleted");
  EXPECT_EQ(status("/livez"), 200);
  EXPECT_TRUE(kproxyRunning());
  EXPECT_EQ(driftFromModel(), "") << "the rules stay while the node drains";
}

}  // namespace
}  // namespace kproxy::apiserver
