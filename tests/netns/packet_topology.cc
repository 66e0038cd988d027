#include "tests/netns/packet_topology.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "src/util/subprocess.h"
#include "tests/netns/netns.h"

namespace kproxy::netns {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kCommandTimeout{20000};
constexpr milliseconds kPollInterval{50};

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

Status runChecked(const std::vector<std::string>& argv) {
  auto r = runProcess(argv, {}, {.timeout = kCommandTimeout});
  if (!r.ok()) return r.error().wrap(commandLine(argv));
  if (!r->succeeded()) {
    return Error(commandLine(argv) + ": exit " + std::to_string(r->exit_code) + ": " + r->err);
  }
  return okStatus();
}

sockaddr_in ipv4Address(const std::string& ip, uint16_t port, bool* valid) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  *valid = inet_pton(AF_INET, ip.c_str(), &sin.sin_addr) == 1;
  return sin;
}

std::string peerIp(const sockaddr_in& sin) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
  return text;
}

// "<pod> <source ip> [payload]" -> reply fields.
void parseAnswer(const std::string& text, Reply* reply, std::string* payload) {
  std::istringstream in(text);
  in >> reply->backend >> reply->source;
  if (payload != nullptr) in >> *payload;
}

Status bindSource(int fd, const std::string& source_ip, uint16_t port = 0) {
  if (source_ip.empty() && port == 0) return okStatus();
  bool valid = false;
  sockaddr_in sin = ipv4Address(source_ip.empty() ? "0.0.0.0" : source_ip, port, &valid);
  if (!valid) return Error("bad source address " + source_ip);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) return Error(errnoText("bind " + source_ip));
  return okStatus();
}

bool deadRunOf(const std::string& name) {
  if (name.rfind("kpkt-", 0) != 0) return false;
  const long pid = std::strtol(name.c_str() + 5, nullptr, 10);
  if (pid <= 0 || pid == getpid()) return false;
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// Deletes the namespaces and work directories (kpkt-<pid>-…) that a crashed earlier run left behind.
void sweepStaleRuns() {
  std::error_code ec;
  for (const char* dir : {"/run/netns", "/tmp"}) {
    std::vector<std::string> stale;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (deadRunOf(entry.path().filename().string())) stale.push_back(entry.path().string());
    }
    for (const auto& path : stale) {
      if (std::string(dir) == "/run/netns") {
        (void)runChecked({"ip", "netns", "del", std::filesystem::path(path).filename().string()});
      } else {
        std::filesystem::remove_all(path, ec);
      }
    }
  }
}

}  // namespace

const char* backendName(IptablesBackendChoice backend) {
  return backend == IptablesBackendChoice::kNft ? "nft" : "legacy";
}

std::string Reply::describe() const {
  std::string out;
  if (ok()) {
    out = "answered by " + backend + ", which saw source " + source;
  } else {
    out = std::string("failed: ") + std::strerror(error);
  }
  return out + " (" + std::to_string(elapsed.count()) + " ms)";
}

// ----- sockets in namespaces -----

Result<UniqueFd> socketIn(const std::string& ns_name, int domain, int type) {
  std::string error;
  int fd = -1;
  // A thread of its own enters the namespace, so the caller's thread stays where it is.
  std::thread worker([&] {
    UniqueFd ns_fd(open(("/run/netns/" + ns_name).c_str(), O_RDONLY | O_CLOEXEC));
    if (!ns_fd) {
      error = errnoText("open /run/netns/" + ns_name);
      return;
    }
    if (setns(ns_fd.get(), CLONE_NEWNET) != 0) {
      error = errnoText("setns " + ns_name);
      return;
    }
    fd = socket(domain, type | SOCK_CLOEXEC, 0);
    if (fd < 0) error = errnoText("socket in " + ns_name);
  });
  worker.join();
  if (!error.empty()) return Error(error);
  return UniqueFd(fd);
}

uint16_t UdpFlow::localPort() const {
  sockaddr_in sin{};
  socklen_t len = sizeof sin;
  if (getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&sin), &len) != 0) return 0;
  return ntohs(sin.sin_port);
}

Reply UdpFlow::exchange(const std::string& ip, uint16_t port, milliseconds timeout) {
  Reply reply;
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  bool valid = false;
  sockaddr_in dst = ipv4Address(ip, port, &valid);
  const std::string payload = "q" + std::to_string(++sequence_);
  if (!valid || sendto(fd_.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst) < 0) {
    reply.error = valid ? errno : EINVAL;
    reply.elapsed = since(start);
    return reply;
  }
  reply.error = ETIMEDOUT;
  while (true) {
    pollfd pfd{fd_.get(), POLLIN, 0};
    const int ready = poll(&pfd, 1, remainingMs(deadline));
    if (ready <= 0) break;
    char buf[512];
    const ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
    if (n < 0) {
      // An ICMP error on this socket (port unreachable from a REJECT) surfaces here.
      if (errno == ECONNREFUSED) {
        reply.error = ECONNREFUSED;
        break;
      }
      continue;
    }
    Reply got;
    std::string echoed;
    parseAnswer(std::string(buf, static_cast<size_t>(n)), &got, &echoed);
    if (echoed != payload) continue;  // a late answer to an earlier datagram
    reply.error = 0;
    reply.backend = got.backend;
    reply.source = got.source;
    break;
  }
  reply.elapsed = since(start);
  return reply;
}

// ----- objects -----

std::string renderObjects(const std::vector<ServiceSpec>& services) {
  std::string y;
  y += "apiVersion: v1\nkind: Node\nmetadata:\n  name: " + std::string(kNodeName) +
       "\nspec:\n  podCIDR: 10.244.0.0/24\n  podCIDRs: [10.244.0.0/24]\nstatus:\n  addresses:\n"
       "  - {type: InternalIP, address: " + std::string(kNodeIp) + "}\n";
  for (const auto& s : services) {
    y += "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: " + s.name + "\n  namespace: test\nspec:\n";
    y += "  type: " + s.type + "\n";
    y += "  clusterIP: " + s.cluster_ip + "\n  clusterIPs: [" + s.cluster_ip + "]\n  ipFamilies: [IPv4]\n";
    if (!s.external_traffic_policy.empty()) y += "  externalTrafficPolicy: " + s.external_traffic_policy + "\n";
    if (!s.internal_traffic_policy.empty()) y += "  internalTrafficPolicy: " + s.internal_traffic_policy + "\n";
    if (s.health_check_node_port != 0) y += "  healthCheckNodePort: " + std::to_string(s.health_check_node_port) + "\n";
    if (s.client_ip_affinity) {
      y += "  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n    clientIP: {timeoutSeconds: 10800}\n";
    }
    if (!s.source_ranges.empty()) {
      y += "  loadBalancerSourceRanges:\n";
      for (const auto& r : s.source_ranges) y += "  - " + r + "\n";
    }
    y += "  ports:\n";
    for (const auto& p : s.ports) {
      y += "  - {name: " + p.name + ", protocol: " + p.protocol + ", port: " + std::to_string(p.port) +
           ", targetPort: " + std::to_string(p.target_port);
      if (p.node_port != 0) y += ", nodePort: " + std::to_string(p.node_port);
      y += "}\n";
    }
    if (!s.load_balancer_ips.empty()) {
      y += "status:\n  loadBalancer:\n    ingress:\n";
      for (const auto& ip : s.load_balancer_ips) y += "    - {ip: " + ip + "}\n";
    }
    if (!s.has_slice) continue;
    y += "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: " + s.name +
         "-1\n  namespace: test\n  labels: {kubernetes.io/service-name: " + s.name + "}\naddressType: IPv4\n";
    if (s.endpoints.empty()) {
      y += "endpoints: []\n";
    } else {
      y += "endpoints:\n";
      for (const auto& e : s.endpoints) {
        y += "- addresses: [" + e.ip + "]\n  conditions: {ready: true, serving: true, terminating: false}\n  nodeName: " +
             e.node + "\n";
      }
    }
    y += "ports:\n";
    for (const auto& p : s.ports) {
      y += "- {name: " + p.name + ", protocol: " + p.protocol + ", port: " + std::to_string(p.target_port) + "}\n";
    }
  }
  return y;
}

std::string renderConfig(const KproxyConfigOptions& options) {
  return "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
         "kind: KubeProxyConfiguration\n"
         "mode: iptables\n"
         "hostnameOverride: " + std::string(kNodeName) + "\n"
         "clusterCIDR: " + std::string(kClusterCidr) + "\n"
         "iptables:\n"
         "  syncPeriod: " + options.sync_period + "\n"
         "  minSyncPeriod: " + options.min_sync_period + "\n"
         // nf_conntrack_max is global (read-only outside the initial namespace): leave it alone.
         "conntrack:\n"
         "  maxPerCore: 0\n";
}

Result<std::string> kproxyBinary() {
  if (const char* env = std::getenv("KPROXY_BINARY"); env != nullptr && *env != '\0') {
    if (access(env, X_OK) != 0) return Error(std::string("KPROXY_BINARY=") + env + " is not executable");
    return std::string(env);
  }
  std::error_code ec;
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return Error("cannot read /proc/self/exe: " + ec.message());
  // The test binary lives in <build>/tests; kproxy in <build>/src or <build>.
  for (std::filesystem::path dir = exe.parent_path(); !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
    for (const char* candidate : {"kproxy", "src/kproxy", "bin/kproxy"}) {
      std::filesystem::path p = dir / candidate;
      if (std::filesystem::is_regular_file(p, ec) && access(p.c_str(), X_OK) == 0) return p.string();
    }
  }
  return Error("no kproxy binary next to " + exe.string() +
               ": build the kproxy target first (ninja kproxy) or set KPROXY_BINARY");
}

// ----- servers -----

struct PacketTopology::Server {
  std::string name;
  UniqueFd tcp, udp, stop;
  std::thread thread;

  void loop() {
    while (true) {
      pollfd fds[3] = {{stop.get(), POLLIN, 0}, {tcp.get(), POLLIN, 0}, {udp.get(), POLLIN, 0}};
      if (poll(fds, 3, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[0].revents != 0) return;
      if ((fds[1].revents & POLLIN) != 0) {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        UniqueFd conn(accept4(tcp.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
        if (conn) {
          const std::string answer = name + " " + peerIp(peer) + "\n";
          (void)!write(conn.get(), answer.data(), answer.size());
        }
      }
      if ((fds[2].revents & POLLIN) != 0) {
        sockaddr_in peer{};
        socklen_t len = sizeof peer;
        char buf[256];
        const ssize_t n = recvfrom(udp.get(), buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer), &len);
        if (n >= 0) {
          const std::string answer = name + " " + peerIp(peer) + " " + std::string(buf, static_cast<size_t>(n));
          (void)sendto(udp.get(), answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&peer), len);
        }
      }
    }
  }
};

// ----- the topology -----

PacketTopology::PacketTopology(const Options& options)
    : options_(options), prefix_("kpkt-" + std::to_string(getpid())) {}

std::string PacketTopology::ns(const std::string& role) const { return prefix_ + "-" + role; }

std::string PacketTopology::iptablesBinary() const {
  return options_.backend == IptablesBackendChoice::kNft ? "iptables-nft" : "iptables-legacy";
}

Status PacketTopology::createNamespace(const std::string& role) {
  const std::string name = ns(role);
  (void)runChecked({"ip", "netns", "del", name});  // left over from an earlier test of this process
  if (auto s = runChecked({"ip", "netns", "add", name}); !s.ok()) return s;
  namespaces_.push_back(name);
  return ipIn(role, {"link", "set", "lo", "up"});
}

Status PacketTopology::ipIn(const std::string& role, const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"ip", "-n", ns(role)};
  argv.insert(argv.end(), args.begin(), args.end());
  return runChecked(argv);
}

Result<std::string> PacketTopology::execIn(const std::string& ns_name, const std::vector<std::string>& argv) const {
  std::vector<std::string> full = {"ip", "netns", "exec", ns_name};
  full.insert(full.end(), argv.begin(), argv.end());
  auto r = runProcess(full, {}, {.timeout = kCommandTimeout});
  if (!r.ok()) return r.error().wrap(commandLine(full));
  if (!r->succeeded()) return Error(commandLine(full) + ": exit " + std::to_string(r->exit_code) + ": " + r->err);
  return r->out;
}

Result<std::unique_ptr<PacketTopology>> PacketTopology::create(const Options& options) {
  sweepStaleRuns();
  std::unique_ptr<PacketTopology> t(new PacketTopology(options));
  std::string dir_template = "/tmp/" + t->prefix_ + "-XXXXXX";
  if (mkdtemp(dir_template.data()) == nullptr) return Error(errnoText("mkdtemp"));
  t->work_dir_ = dir_template;

  for (const char* role : {"node", "ext"}) {
    if (auto s = t->createNamespace(role); !s.ok()) return s.error();
  }
  const std::string node = t->nodeNs();
  for (const char* sysctl : {"net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"}) {
    if (auto r = t->execIn(node, {"sysctl", "-qw", sysctl}); !r.ok()) return r.error();
  }
  const std::vector<std::vector<std::string>> node_setup = {
      {"link", "add", "ext0", "type", "veth", "peer", "name", "eth0", "netns", t->externalNs()},
      {"addr", "add", std::string(kNodeIp) + "/24", "dev", "ext0"},
      {"link", "set", "ext0", "up"},
      {"route", "add", "203.0.113.0/24", "dev", "ext0"},
      {"route", "add", "default", "dev", "ext0"},
  };
  for (const auto& args : node_setup) {
    if (auto s = t->ipIn("node", args); !s.ok()) return s.error();
  }
  const std::vector<std::vector<std::string>> ext_setup = {
      {"addr", "add", std::string(kExternalClientA) + "/32", "dev", "eth0"},
      {"addr", "add", std::string(kExternalClientB) + "/32", "dev", "eth0"},
      {"link", "set", "eth0", "up"},
      {"route", "add", kNodeIp, "dev", "eth0", "src", kExternalClientA},
      // Everything else (LB IPs included) is routed to the node, as a router would.
      {"route", "add", "default", "via", kNodeIp, "dev", "eth0", "src", kExternalClientA},
  };
  for (const auto& args : ext_setup) {
    if (auto s = t->ipIn("ext", args); !s.ok()) return s.error();
  }
  return t;
}

Status PacketTopology::addPod(const std::string& name, const std::string& ip) {
  const std::string role = "pod-" + name;
  const std::string veth = "v-" + name;
  if (veth.size() > 15) return Error("pod name too long for an interface name: " + name);
  if (auto s = createNamespace(role); !s.ok()) return s;
  const std::vector<std::vector<std::string>> node_setup = {
      {"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", podNs(name)},
      {"addr", "add", std::string(kNodePodGateway) + "/32", "dev", veth},
      {"link", "set", veth, "up"},
      {"route", "add", ip + "/32", "dev", veth, "src", kNodePodGateway},
  };
  for (const auto& args : node_setup) {
    if (auto s = ipIn("node", args); !s.ok()) return s;
  }
  const std::vector<std::vector<std::string>> pod_setup = {
      {"addr", "add", ip + "/32", "dev", "eth0"},
      {"link", "set", "eth0", "up"},
      {"route", "add", kNodePodGateway, "dev", "eth0", "src", ip},
      {"route", "add", "default", "via", kNodePodGateway, "dev", "eth0", "src", ip},
  };
  for (const auto& args : pod_setup) {
    if (auto s = ipIn(role, args); !s.ok()) return s;
  }
  return okStatus();
}

Status PacketTopology::startServer(const std::string& pod) {
  auto server = std::make_unique<Server>();
  server->name = pod;
  auto tcp = socketIn(podNs(pod), AF_INET, SOCK_STREAM);
  if (!tcp.ok()) return tcp.error();
  auto udp = socketIn(podNs(pod), AF_INET, SOCK_DGRAM);
  if (!udp.ok()) return udp.error();
  server->tcp = std::move(*tcp);
  server->udp = std::move(*udp);
  const int one = 1;
  setsockopt(server->tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  bool valid = false;
  sockaddr_in any = ipv4Address("0.0.0.0", kBackendPort, &valid);
  for (int fd : {server->tcp.get(), server->udp.get()}) {
    if (bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) != 0) return Error(errnoText("bind in " + podNs(pod)));
  }
  if (listen(server->tcp.get(), 512) != 0) return Error(errnoText("listen in " + podNs(pod)));
  server->stop = UniqueFd(eventfd(0, EFD_CLOEXEC));
  if (!server->stop) return Error(errnoText("eventfd"));
  server->thread = std::thread([s = server.get()] { s->loop(); });
  servers_.push_back(std::move(server));
  return okStatus();
}

static Status writeFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) return Error("cannot write " + tmp);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return Error(errnoText("rename " + tmp));
  return okStatus();
}

Status PacketTopology::writeObjects(const std::string& objects_yaml) {
  return writeFileAtomically(work_dir_ + "/objects.yaml", objects_yaml);
}

Status PacketTopology::startKproxy(const std::string& objects_yaml, const KproxyConfigOptions& config) {
  if (kproxy_pid_ > 0) return Error("kproxy is already running");
  auto binary = kproxyBinary();
  if (!binary.ok()) return binary.error();
  if (auto s = writeFileAtomically(work_dir_ + "/config.yaml", renderConfig(config)); !s.ok()) return s;
  if (auto s = writeObjects(objects_yaml); !s.ok()) return s;
  if (options_.backend == IptablesBackendChoice::kLegacy) {
    // kubelet's hint chain in legacy mangle makes kproxy pick the legacy back end, as the
    // upstream image's iptables wrapper does.
    if (auto r = execIn(nodeNs(), {"iptables-legacy", "-w", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"}); !r.ok()) {
      return r.error();
    }
  }
  const std::vector<std::string> argv = {"ip", "netns", "exec", nodeNs(), *binary, "run",
                                         "--config", work_dir_ + "/config.yaml",
                                         "--objects", work_dir_ + "/objects.yaml",
                                         "--hostname-override", kNodeName, "-v", "2"};
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  const std::string log_path = work_dir_ + "/kproxy.log";
  UniqueFd log_fd(open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!log_fd) return Error(errnoText("open " + log_path));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return Error(errnoText("fork"));
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. Die with the test process.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(log_fd.get(), 1);
    dup2(log_fd.get(), 2);
    // Signals blocked in the parent's thread would stay blocked across exec.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp(cargv[0], cargv.data());
    _exit(127);
  }
  kproxy_pid_ = pid;
  // The first full sync is done when the nodeports tail rule and the canaries are in.
  return waitForRules(
      "nat",
      [](const std::string& save) {
        return save.find("kubernetes service nodeports; NOTE: this must be the last rule in this chain") != std::string::npos &&
               save.find(":KUBE-PROXY-CANARY") != std::string::npos;
      },
      "kproxy's first sync", std::chrono::seconds(15));
}

Status PacketTopology::stopKproxy() {
  if (kproxy_pid_ <= 0) return okStatus();
  const pid_t pid = kproxy_pid_;
  kproxy_pid_ = -1;
  kill(pid, SIGTERM);
  int status = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (true) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0) return Error(errnoText("waitpid kproxy"));
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return Error("kproxy did not exit within 5 s of SIGTERM; killed");
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return okStatus();
  if (WIFSIGNALED(status)) return Error("kproxy was killed by signal " + std::to_string(WTERMSIG(status)));
  return Error("kproxy exited with status " + std::to_string(WEXITSTATUS(status)));
}

PacketTopology::~PacketTopology() {
  (void)stopKproxy();
  for (auto& s : servers_) {
    const uint64_t one = 1;
    (void)!write(s->stop.get(), &one, sizeof one);
    if (s->thread.joinable()) s->thread.join();
  }
  servers_.clear();
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) (void)runChecked({"ip", "netns", "del", *it});
  if (!work_dir_.empty() && std::getenv("KPROXY_KEEP_PACKET_DIR") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
  }
}

Result<std::string> PacketTopology::iptablesSave(const std::string& table) const {
  const std::string save = options_.backend == IptablesBackendChoice::kNft ? "iptables-nft-save" : "iptables-legacy-save";
  return execIn(nodeNs(), {save, "-t", table});
}

Status PacketTopology::waitForRules(const std::string& table, const std::function<bool(const std::string&)>& done,
                                    const std::string& what, milliseconds timeout) const {
  const auto start = Clock::now();
  std::string last;
  while (true) {
    auto save = iptablesSave(table);
    if (save.ok()) {
      if (done(*save)) return okStatus();
      last = *save;
    } else {
      last = save.error().message;
    }
    if (kproxy_pid_ > 0 && !kproxyRunning()) return Error(what + ": kproxy is not running; its log:\n" + kproxyLogTail(40));
    if (since(start) > timeout) {
      return Error(what + ": not seen within " + std::to_string(timeout.count()) + " ms; last iptables-save -t " + table +
                   ":\n" + last + "kproxy log (tail):\n" + kproxyLogTail(20));
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

Status PacketTopology::waitForLine(const std::string& table, const std::string& text, milliseconds timeout) const {
  return waitForRules(
      table, [&](const std::string& save) { return save.find(text) != std::string::npos; },
      "\"" + text + "\" in " + table, timeout);
}

Status PacketTopology::waitForNoLine(const std::string& table, const std::string& text, milliseconds timeout) const {
  return waitForRules(
      table, [&](const std::string& save) { return save.find(text) == std::string::npos; },
      "no \"" + text + "\" in " + table, timeout);
}

bool PacketTopology::kproxyRunning() const {
  if (kproxy_pid_ <= 0) return false;
  siginfo_t info{};
  // WNOWAIT: look without reaping, so stopKproxy() still gets the exit status.
  if (waitid(P_PID, static_cast<id_t>(kproxy_pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

Reply PacketTopology::tcpRequest(const std::string& from, const std::string& ip, uint16_t port,
                                 const RequestOptions& options) const {
  Reply reply;
  const auto start = Clock::now();
  const auto deadline = start + options.timeout;
  auto finish = [&](int error) {
    reply.error = error;
    reply.elapsed = since(start);
    return reply;
  };
  auto fd = socketIn(from, AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
  if (!fd.ok()) {
    ADD_FAILURE() << fd.error().message;
    return finish(EBADF);
  }
  if (auto s = bindSource(fd->get(), options.source_ip); !s.ok()) {
    ADD_FAILURE() << s.error().message;
    return finish(EADDRNOTAVAIL);
  }
  bool valid = false;
  sockaddr_in dst = ipv4Address(ip, port, &valid);
  if (!valid) return finish(EINVAL);
  if (connect(fd->get(), reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0 && errno != EINPROGRESS) {
    return finish(errno);
  }
  pollfd pfd{fd->get(), POLLOUT, 0};
  if (poll(&pfd, 1, remainingMs(deadline)) <= 0) return finish(ETIMEDOUT);
  int so_error = 0;
  socklen_t len = sizeof so_error;
  getsockopt(fd->get(), SOL_SOCKET, SO_ERROR, &so_error, &len);
  if (so_error != 0) return finish(so_error);
  std::string answer;
  while (true) {
    pollfd in{fd->get(), POLLIN, 0};
    if (poll(&in, 1, remainingMs(deadline)) <= 0) return finish(ETIMEDOUT);
    char buf[256];
    const ssize_t n = read(fd->get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return finish(errno);
    }
    if (n == 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  parseAnswer(answer, &reply, nullptr);
  if (reply.backend.empty()) return finish(EPROTO);
  return finish(0);
}

Result<UdpFlow> PacketTopology::udpFlow(const std::string& from, const std::string& source_ip) const {
  auto fd = socketIn(from, AF_INET, SOCK_DGRAM);
  if (!fd.ok()) return fd.error();
  // Bind now, so the source port (and with it the 5-tuple) is fixed for every exchange.
  if (auto s = bindSource(fd->get(), source_ip.empty() ? "0.0.0.0" : source_ip); !s.ok()) return s.error();
  return UdpFlow(std::move(*fd));
}

Reply PacketTopology::udpRequest(const std::string& from, const std::string& ip, uint16_t port,
                                 const RequestOptions& options) const {
  auto flow = udpFlow(from, options.source_ip);
  if (!flow.ok()) {
    ADD_FAILURE() << flow.error().message;
    Reply r;
    r.error = EBADF;
    return r;
  }
  return flow->exchange(ip, port, options.timeout);
}

std::string PacketTopology::kproxyLog() const {
  std::ifstream in(work_dir_ + "/kproxy.log", std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string PacketTopology::kproxyLogTail(size_t lines) const {
  std::istringstream in(kproxyLog());
  std::vector<std::string> kept;
  for (std::string line; std::getline(in, line);) {
    if (line.find("] FLAG: --") != std::string::npos) continue;  // the start-up flag dump
    kept.push_back(line);
  }
  std::string out;
  for (size_t i = kept.size() > lines ? kept.size() - lines : 0; i < kept.size(); ++i) out += kept[i] + "\n";
  return out;
}

int PacketTopology::countLogLines(const std::string& text) const {
  std::istringstream in(kproxyLog());
  int count = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find(text) != std::string::npos) ++count;
  }
  return count;
}

}  // namespace kproxy::netns

namespace kproxy::netns {

void PacketTest::SetUp() {
  KPROXY_ENTER_FRESH_NETNS();
  auto created = PacketTopology::create({.backend = GetParam()});
  ASSERT_TRUE(created.ok()) << created.error().message;
  topology_ = std::move(*created);
}

void PacketTest::TearDown() {
  if (topology_ != nullptr && HasFailure()) {
    std::fprintf(stderr, "---- kproxy log, last 60 lines without the flag dump (%s back end) ----\n%s---- end ----\n",
                 backendName(GetParam()), topology_->kproxyLogTail(60).c_str());
  }
  topology_.reset();
}

void PacketTest::addBackends(const std::vector<PodSpec>& pods) {
  for (const auto& pod : pods) {
    Status added = topology_->addPod(pod.name, pod.ip);
    ASSERT_TRUE(added.ok()) << added.error().message;
    if (!pod.server) continue;
    Status started = topology_->startServer(pod.name);
    ASSERT_TRUE(started.ok()) << started.error().message;
  }
}

void PacketTest::startKproxy(const std::vector<ServiceSpec>& services, const KproxyConfigOptions& config) {
  Status started = topology_->startKproxy(renderObjects(services), config);
  ASSERT_TRUE(started.ok()) << started.error().message;
}

void PacketTest::updateObjects(const std::vector<ServiceSpec>& services) {
  Status written = topology_->writeObjects(renderObjects(services));
  ASSERT_TRUE(written.ok()) << written.error().message;
}

std::string backendParamName(const ::testing::TestParamInfo<IptablesBackendChoice>& info) {
  return backendName(info.param);
}

}  // namespace kproxy::netns
