// kube-proxy's HTTP servers on real sockets in a private network namespace:
//   * in-process: healthz transitions over HTTP, a metrics scrape parsed as Prometheus text,
//     health-check node ports answering 200/503 per family on a dual-stack wildcard socket and on
//     chosen node IPs, bind conflicts retried, hard-fail reported once;
//   * the real binary, started as kubeadm does (argv[0] "kube-proxy", --config, --hostname-override)
//     with kproxy's --objects: healthz, livez, metrics and a health-check node port following the
//     endpoints; SIGTERM stops it and leaves the rules; a changed configuration file ends it with
//     upstream's message and status 1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "src/proxy/health_state.h"
#include "src/proxy/healthcheck.h"
#include "src/proxy/metrics.h"
#include "src/server/healthz_server.h"
#include "src/server/http_server.h"
#include "src/server/metrics_server.h"
#include "src/util/subprocess.h"
#include "src/util/unique_handle.h"
#include "tests/fakes/fake_clock.h"
#include "tests/netns/netns.h"
#include "tests/netns/packet_topology.h"
#include "tests/unit/proxy/prometheus_text_parser.h"

namespace kproxy::netns {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// ----- A small HTTP/1.1 client (one request per connection). -----

struct HttpReply {
  int error = 0;  // errno of connect/IO, 0 when a response was read
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

HttpReply httpRequest(const std::string& ip, int port, const std::string& path, const std::string& method = "GET") {
  HttpReply reply;
  sockaddr_storage ss{};
  socklen_t len = 0;
  const bool v6 = ip.find(':') != std::string::npos;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
    len = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
    len = sizeof(sockaddr_in);
  }
  UniqueFd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{5, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    reply.error = errno;
    return reply;
  }
  const std::string request = method + " " + path + " HTTP/1.1\r\nHost: " + ip + "\r\nConnection: close\r\n\r\n";
  if (send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    reply.error = errno;
    return reply;
  }
  std::string raw;
  char buf[8192];
  while (true) {
    const ssize_t n = recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      reply.error = errno;
      return reply;
    }
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  const size_t head_end = raw.find("\r\n\r\n");
  if (raw.compare(0, 9, "HTTP/1.1 ") != 0 || head_end == std::string::npos) {
    reply.error = EPROTO;
    return reply;
  }
  reply.status = std::stoi(raw.substr(9, 3));
  size_t pos = raw.find("\r\n") + 2;
  while (pos < head_end) {
    const size_t eol = raw.find("\r\n", pos);
    const std::string line = raw.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    pos = eol + 2;
  }
  reply.body = raw.substr(head_end + 4);
  return reply;
}

std::string describe(const HttpReply& r) {
  if (r.error != 0) return std::string("error ") + std::strerror(r.error);
  return "HTTP " + std::to_string(r.status) + " " + r.body;
}

// Polls until `ok(reply)` or the deadline; returns the last reply.
template <typename Pred>
HttpReply waitFor(const std::string& ip, int port, const std::string& path, Pred ok,
                  std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  HttpReply r;
  while (true) {
    r = httpRequest(ip, port, path);
    if (ok(r) || Clock::now() > deadline) return r;
    std::this_thread::sleep_for(50ms);
  }
}

Status run(const std::vector<std::string>& argv) {
  auto result = runProcess(argv);
  if (!result.ok()) return result.error();
  if (!result->succeeded()) return Error(commandLine(argv) + ": " + result->err);
  return okStatus();
}

void bringUpLoopback() { ASSERT_TRUE(run({"ip", "link", "set", "lo", "up"}).ok()); }

// A listening TCP socket that holds a port.
UniqueFd holdPort(const char* ip, int port) {
  const bool v6 = std::strchr(ip, ':') != nullptr;
  UniqueFd fd(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET6, ip, &a->sin6_addr);
    len = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip, &a->sin_addr);
    len = sizeof(*a);
  }
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
  EXPECT_EQ(listen(fd.get(), 4), 0);
  return fd;
}

// ----- In-process servers. -----

TEST(ServersNetnsTest, HealthzTransitionsOverHttp) {
  KPROXY_ENTER_FRESH_NETNS();
  bringUpLoopback();
  testing::FakeClock clock;
  proxy::ProxyHealthState health(clock, 60s);
  proxy::MetricsRegistry registry;
  proxy::ProxyMetrics metrics(registry, {});
  server::HealthzServer healthz(health, &metrics);
  healthz.start({.address = "0.0.0.0:10256"});

  HttpReply r = waitFor("127.0.0.1", 10256, "/healthz", [](const HttpReply& x) { return x.error == 0; });
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(r.body.rfind("{\"lastUpdated\": \"", 0), 0u) << r.body;
  EXPECT_NE(r.body.find("\", \"nodeEligible\": true}"), std::string::npos) << r.body;

  health.updated(IpFamily::kIPv4);
  health.queuedUpdate(IpFamily::kIPv4);
  clock.advance(59s);
  EXPECT_EQ(httpRequest("127.0.0.1", 10256, "/healthz").status, 200);
  clock.advance(2s);
  EXPECT_EQ(httpRequest("127.0.0.1", 10256, "/healthz").status, 503);
  EXPECT_EQ(httpRequest("127.0.0.1", 10256, "/livez", "POST").status, 503);  // any method
  health.updated(IpFamily::kIPv4);
  EXPECT_EQ(httpRequest("127.0.0.1", 10256, "/livez").status, 200);
  health.syncNode(false);
  r = httpRequest("127.0.0.1", 10256, "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"nodeEligible\": false"), std::string::npos);
  EXPECT_EQ(httpRequest("127.0.0.1", 10256, "/livez").status, 200);
  EXPECT_EQ(httpRequest("127.0.0.1", 10256, "/other").status, 404);
  healthz.stop();
  EXPECT_EQ(httpRequest("127.0.0.1", 10256, "/healthz").error, ECONNREFUSED);
  EXPECT_EQ(metrics.proxy_healthz_total.value({"503"}), 2);
}

TEST(ServersNetnsTest, MetricsScrapeParsesAsPrometheusText) {
  KPROXY_ENTER_FRESH_NETNS();
  bringUpLoopback();
  proxy::MetricsRegistry registry;
  proxy::ProxyMetrics metrics(registry, {});
  proxy::registerProcessMetrics(registry, "v1.33.0");
  metrics.syncSucceeded(IpFamily::kIPv4, proxy::SyncReport{.full_sync = true, .duration = 5ms}, {},
                        std::chrono::system_clock::now());
  server::MetricsServer server(registry, "iptables");
  server.start({.address = "[::1]:10249"});
  HttpReply r = waitFor("::1", 10249, "/metrics", [](const HttpReply& x) { return x.error == 0; });
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  auto families = testing::parsePrometheusText(r.body);
  ASSERT_TRUE(families.ok()) << families.error().message << "\n" << r.body;
  EXPECT_EQ(families->at("kubeproxy_sync_proxy_rules_duration_seconds").find({{"ip_family", "IPv4"}}, "_count")->value, 1);
  EXPECT_GT(families->at("process_resident_memory_bytes").samples.at(0).value, 0);
  EXPECT_EQ(httpRequest("::1", 10249, "/proxyMode").body, "iptables");
  EXPECT_EQ(httpRequest("::1", 10249, "/healthz").body, "ok");
  EXPECT_EQ(httpRequest("127.0.0.1", 10249, "/healthz").error, ECONNREFUSED);  // bound to ::1 only
}

TEST(ServersNetnsTest, HealthCheckNodePortsAnswerPerFamily) {
  KPROXY_ENTER_FRESH_NETNS();
  bringUpLoopback();
  testing::FakeClock clock;
  proxy::ProxyHealthState health(clock, 60s);
  proxy::ServiceHealthServer server(health, {.node_name = "node-a", .wildcard_host = "::"});
  const api::NamespacedName web{"ns1", "web"};
  ASSERT_TRUE(server.syncServices(IpFamily::kIPv4, {{web, 31001}}).empty());
  ASSERT_TRUE(server.syncServices(IpFamily::kIPv6, {{web, 31001}}).empty());
  server.syncEndpoints(IpFamily::kIPv4, {{web, 1}});

  HttpReply r = httpRequest("127.0.0.1", 31001, "/any/path");
  EXPECT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.body, proxy::serviceHealthBody(web, 1, true));
  EXPECT_EQ(r.headers["content-type"], "application/json");
  r = httpRequest("::1", 31001, "/");
  EXPECT_EQ(r.status, 503) << describe(r);  // the IPv6 proxier has no local endpoint
  EXPECT_EQ(r.body, proxy::serviceHealthBody(web, 0, true));

  // The proxy turns unhealthy: 503 everywhere.
  health.updated(IpFamily::kIPv4);
  health.queuedUpdate(IpFamily::kIPv4);
  clock.advance(61s);
  r = httpRequest("127.0.0.1", 31001, "/");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, proxy::serviceHealthBody(web, 1, false));
  health.updated(IpFamily::kIPv4);

  // nodePortAddresses: listen on the chosen node IPs only.
  server.setListenSpec(IpFamily::kIPv4, {.all = false, .ips = {*IpAddress::parse("127.0.0.2")}});
  server.setListenSpec(IpFamily::kIPv6, {.all = false, .ips = {}});
  ASSERT_TRUE(server.syncServices(IpFamily::kIPv6, {}).empty());
  ASSERT_TRUE(server.syncServices(IpFamily::kIPv4, {{web, 31002}}).empty());
  EXPECT_EQ(server.listening(), (std::vector<std::string>{"127.0.0.2:31002"}));
  EXPECT_EQ(httpRequest("127.0.0.2", 31002, "/").status, 200);
  EXPECT_EQ(httpRequest("127.0.0.1", 31002, "/").error, ECONNREFUSED);
  EXPECT_EQ(httpRequest("127.0.0.1", 31001, "/").error, ECONNREFUSED);  // the old port is closed

  // A port someone else holds: reported, and opened by a later sync once free.
  UniqueFd holder = holdPort("127.0.0.2", 31003);
  auto errors = server.syncServices(IpFamily::kIPv4, {{web, 31003}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "node node-a failed to start healthcheck \"ns1/web\" on port 31003: listen tcp "
                       "127.0.0.2:31003: bind: address already in use");
  holder = UniqueFd();
  EXPECT_TRUE(server.syncServices(IpFamily::kIPv4, {{web, 31003}}).empty());
  EXPECT_EQ(httpRequest("127.0.0.2", 31003, "/").status, 200);
}

TEST(ServersNetnsTest, BindFailuresAreRetriedOrFatal) {
  KPROXY_ENTER_FRESH_NETNS();
  bringUpLoopback();
  UniqueFd holder = holdPort("127.0.0.1", 10249);
  proxy::MetricsRegistry registry;
  std::atomic<int> errors{0};
  server::MetricsServer retrying(registry, "iptables");
  retrying.start({.address = "127.0.0.1:10249",
                  .retry_interval = 100ms,
                  .on_error = [&](const Error& e) {
                    EXPECT_EQ(e.message, "listen tcp 127.0.0.1:10249: bind: address already in use");
                    ++errors;
                  }});
  std::this_thread::sleep_for(350ms);
  EXPECT_GE(errors.load(), 2);
  holder = UniqueFd();
  HttpReply r = waitFor("127.0.0.1", 10249, "/healthz", [](const HttpReply& x) { return x.status == 200; }, 3s);
  EXPECT_EQ(r.status, 200) << describe(r);
  retrying.stop();

  UniqueFd holder2 = holdPort("127.0.0.1", 10256);
  std::atomic<int> hard_errors{0};
  testing::FakeClock clock;
  proxy::ProxyHealthState health(clock, 60s);
  server::HealthzServer hard(health, nullptr);
  hard.start({.address = "127.0.0.1:10256", .retry_interval = 50ms, .hard_fail = true,
              .on_error = [&](const Error&) { ++hard_errors; }});
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(hard_errors.load(), 1);  // hard fail: reported once, never retried
  hard.stop();
}

// ----- The real binary. -----

class KubeProxyProcess {
 public:
  ~KubeProxyProcess() { stop(SIGKILL); }

  Status start(const std::vector<std::string>& args, const std::string& log_path) {
    auto binary = kproxyBinary();
    if (!binary.ok()) return binary.error();
    std::vector<std::string> argv = {"kube-proxy"};  // as kubeadm's DaemonSet calls it
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    UniqueFd log(open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return Error("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(log.get(), 1);
      dup2(log.get(), 2);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execv(binary->c_str(), cargv.data());
      _exit(127);
    }
    return okStatus();
  }

  // Waits for the exit; returns the status code, -signal when killed, or nothing on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return code_;
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        return code_;
      }
      std::this_thread::sleep_for(20ms);
    }
    return std::nullopt;
  }

  void stop(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    if (!wait(5s)) {
      kill(pid_, SIGKILL);
      wait(5s);
    }
  }
  void signal(int sig) {
    if (pid_ > 0) kill(pid_, sig);
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> code_;
};

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeFile(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << content;
  std::filesystem::rename(tmp, path);
}

constexpr char kConfig[] =
    "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
    "kind: KubeProxyConfiguration\n"
    "mode: iptables\n"
    "clusterCIDR: 10.244.0.0/16\n"
    "iptables: {syncPeriod: 10s, minSyncPeriod: 100ms}\n"
    "conntrack: {maxPerCore: 0}\n";

std::string objects(const std::string& endpoint_node) {
  return "apiVersion: v1\nkind: Node\nmetadata: {name: node-a}\n"
         "status: {addresses: [{type: InternalIP, address: 10.0.0.5}]}\n"
         "---\n"
         "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: ns1}\n"
         "spec:\n  type: LoadBalancer\n  clusterIP: 10.96.0.10\n  externalTrafficPolicy: Local\n"
         "  healthCheckNodePort: 32100\n"
         "  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080, nodePort: 30080}]\n"
         "---\n"
         "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\n"
         "metadata: {name: web-1, namespace: ns1, labels: {kubernetes.io/service-name: web}}\n"
         "addressType: IPv4\n"
         "ports: [{name: http, port: 8080, protocol: TCP}]\n"
         "endpoints:\n- addresses: [10.244.0.2]\n  conditions: {ready: true}\n  nodeName: " +
         endpoint_node + "\n";
}

class KubeProxyRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kproxy-servers-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    process_.stop(SIGKILL);
    if (HasFailure()) std::fprintf(stderr, "---- kube-proxy log ----\n%s\n", readFile(dir_ + "/log").c_str());
    std::filesystem::remove_all(dir_);
  }
  Status startKubeProxy() {
    std::ofstream(dir_ + "/config.conf") << kConfig;
    writeFile(dir_ + "/objects.yaml", objects("node-a"));
    return process_.start({"--config=" + dir_ + "/config.conf", "--hostname-override=NODE-A",
                           "--objects=" + dir_ + "/objects.yaml", "-v=2"},
                          dir_ + "/log");
  }

  std::string dir_;
  KubeProxyProcess process_;
};

TEST_F(KubeProxyRunTest, ServesHealthzMetricsAndHealthCheckNodePorts) {
  KPROXY_ENTER_FRESH_NETNS();
  bringUpLoopback();
  ASSERT_TRUE(run({"ip", "addr", "add", "10.0.0.5/32", "dev", "lo"}).ok());
  ASSERT_TRUE(startKubeProxy().ok());

  // Defaults: healthz on 0.0.0.0:10256, metrics on 127.0.0.1:10249.
  HttpReply r = waitFor("127.0.0.1", 10256, "/healthz", [](const HttpReply& x) { return x.status == 200; });
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_NE(r.body.find("\"nodeEligible\": true"), std::string::npos) << r.body;
  EXPECT_EQ(httpRequest("10.0.0.5", 10256, "/livez").status, 200);

  // The health-check node port follows the endpoints: one local ready endpoint.
  r = waitFor("10.0.0.5", 32100, "/", [](const HttpReply& x) { return x.status == 200; });
  EXPECT_EQ(r.status, 200) << describe(r);
  EXPECT_EQ(r.body, proxy::serviceHealthBody({"ns1", "web"}, 1, true));

  // The endpoint moves to another node: 503 with no local endpoints.
  writeFile(dir_ + "/objects.yaml", objects("node-b"));
  r = waitFor("10.0.0.5", 32100, "/", [](const HttpReply& x) { return x.status == 503; });
  EXPECT_EQ(r.status, 503) << describe(r);
  EXPECT_EQ(r.body, proxy::serviceHealthBody({"ns1", "web"}, 0, true));

  // Metrics: a scrape that parses, with the syncs and the changes counted.
  r = waitFor("127.0.0.1", 10249, "/metrics", [](const HttpReply& x) { return x.status == 200; });
  ASSERT_EQ(r.status, 200) << describe(r);
  auto families = testing::parsePrometheusText(r.body);
  ASSERT_TRUE(families.ok()) << families.error().message;
  const auto& sync = families->at("kubeproxy_sync_proxy_rules_duration_seconds");
  EXPECT_GE(sync.find({{"ip_family", "IPv4"}}, "_count")->value, 2);
  EXPECT_GT(families->at("kubeproxy_sync_proxy_rules_last_timestamp_seconds").find({{"ip_family", "IPv4"}})->value, 1.6e9);
  EXPECT_GE(families->at("kubeproxy_sync_proxy_rules_endpoint_changes_total").samples.at(0).value, 2);
  EXPECT_GE(families->at("kubeproxy_sync_proxy_rules_iptables_total")
                .find({{"ip_family", "IPv4"}, {"table", "nat"}})
                ->value,
            1);
  EXPECT_EQ(families->count("kubeproxy_proxy_healthz_total"), 1u);
  EXPECT_EQ(httpRequest("127.0.0.1", 10249, "/proxyMode").body, "iptables");
  r = httpRequest("127.0.0.1", 10249, "/configz");
  EXPECT_NE(r.body.find("\"hostnameOverride\":\"node-a\""), std::string::npos) << r.body;

  // SIGTERM: a clean exit that leaves the rules in place.
  process_.signal(SIGTERM);
  EXPECT_EQ(process_.wait(10s), std::optional<int>(0));
  auto saved = runProcess({"iptables-save", "-t", "nat"});
  ASSERT_TRUE(saved.ok());
  EXPECT_NE(saved->out.find("-A KUBE-SERVICES"), std::string::npos) << saved->out;
  EXPECT_EQ(httpRequest("127.0.0.1", 10256, "/healthz").error, ECONNREFUSED);
}

TEST_F(KubeProxyRunTest, ConfigurationFileChangeEndsKubeProxy) {
  KPROXY_ENTER_FRESH_NETNS();
  bringUpLoopback();
  ASSERT_TRUE(run({"ip", "addr", "add", "10.0.0.5/32", "dev", "lo"}).ok());
  ASSERT_TRUE(startKubeProxy().ok());
  HttpReply r = waitFor("127.0.0.1", 10256, "/healthz", [](const HttpReply& x) { return x.status == 200; });
  ASSERT_EQ(r.status, 200) << describe(r);
  EXPECT_FALSE(process_.wait(300ms).has_value());  // still running
  std::ofstream(dir_ + "/config.conf", std::ios::app) << "# edited\n";
  EXPECT_EQ(process_.wait(10s), std::optional<int>(1));
  EXPECT_NE(readFile(dir_ + "/log").find("content of the proxy server's configuration file was updated"),
            std::string::npos);
}

TEST_F(KubeProxyRunTest, BadFlagsAndWriteConfig) {
  ASSERT_TRUE(process_.start({"--proxymode=ipvs"}, dir_ + "/log").ok());
  EXPECT_EQ(process_.wait(10s), std::optional<int>(1));
  EXPECT_NE(readFile(dir_ + "/log").find("unknown flag: --proxymode (did you mean --proxy-mode?)"), std::string::npos);

  KubeProxyProcess writer;
  ASSERT_TRUE(writer.start({"--write-config-to=" + dir_ + "/out.yaml", "--proxy-mode=ipvs", "--cluster-cidr=10.0.0.0/8"},
                           dir_ + "/log2")
                  .ok());
  EXPECT_EQ(writer.wait(10s), std::optional<int>(0));
  const std::string written = readFile(dir_ + "/out.yaml");
  EXPECT_NE(written.find("mode: ipvs"), std::string::npos) << written;
  EXPECT_NE(written.find("clusterCIDR: 10.0.0.0/8"), std::string::npos) << written;
  EXPECT_NE(written.find("  minSyncPeriod: 1s\n  scheduler"), std::string::npos) << written;  // ipvs, from the flags
}

}  // namespace
}  // namespace kproxy::netns
