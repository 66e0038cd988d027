// Crash safety (issue 15 item 4): `kproxy sync` or `kproxy run` killed with SIGKILL at any point of
// a full sync leaves the kernel with the complete old or the complete new ruleset, never a mix,
// and the next start converges. iptables mode on both back ends (iptables-nft, iptables-legacy);
// nftables mode has no live applier yet, so it has no row here.
//
// Two cluster states, A and B, differ in every table kproxy writes: B gives every service other
// endpoints, drops a tenth of the services, adds as many new ones, and leaves a different set of
// services without endpoints (REJECT rules in filter). Each kill point takes the kernel from one
// state to the other (A to B, then B to A, ...), kills kproxy, waits until every process kproxy
// left behind has ended (the test process is their subreaper), then compares every table of both
// families (parsed with modes/common/saved_rule, so formatting does not count; plus the list of
// nf_tables tables) with the expected old and new states. Then the same verb runs again, unkilled,
// and must reach the new state exactly.
//
// Kill points, per verb and back end:
//  * just before the restore: when kproxy reads the nat table back (`iptables-save -t nat`, the
//    last thing before it plans and writes), through a wrapper on PATH that holds the call until
//    kproxy is dead: must give the old state;
//  * just after iptables-restore is spawned: the wrapper holds the restore before it reads any
//    input, kproxy is killed, then the restore goes on: must give the new state (a pipe as stdin
//    would have given it a truncated input: the first table committed, the second not);
//  * after delays spread evenly over the measured duration of that verb's full sync: either.
//
// Sizes: KPROXY_CRASH_SERVICES (default 1000) and KPROXY_CRASH_TIMED_KILLS (default 1; when set,
// every row also gets both hooks). ctest runs the default size (about 40 s on an idle 2-core
// machine); `make test-crash-safety` runs 5,000 services with 6 delays on both back ends.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "modes/common/restore_text.h"
#include "modes/common/saved_rule.h"
#include "src/util/subprocess.h"
#include "tests/netns/netns.h"
#include "tests/netns/packet_topology.h"

namespace kproxy::netns {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

int envInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// ----- the two cluster states -----

std::string dotted(int a, int b, int i) {
  return std::to_string(a) + "." + std::to_string(b) + "." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

// `n` services in state A (b = false) or B (b = true), as a List with the Node.
std::string clusterYaml(int n, bool b) {
  std::string out = "apiVersion: v1\nkind: List\nitems:\n";
  std::vector<int> ids;
  for (int i = 0; i < n; ++i)
    if (!b || i % 10 != 3) ids.push_back(i);
  if (b)
    for (int i = n; i < n + n / 10; ++i) ids.push_back(i);
  for (int i : ids) {
    const std::string name = "svc-" + std::to_string(i);
    const bool node_port = i % 10 == 0;
    out += "- apiVersion: v1\n  kind: Service\n  metadata: {name: " + name + ", namespace: crash}\n  spec:\n";
    out += "    clusterIP: " + dotted(10, 96, i) + "\n    clusterIPs: [" + dotted(10, 96, i) + "]\n";
    out += "    ipFamilies: [IPv4]\n    type: ";
    out += node_port ? "NodePort\n" : "ClusterIP\n";
    out += "    ports:\n    - {name: http, port: 80, protocol: TCP, targetPort: 8080";
    if (node_port) out += ", nodePort: " + std::to_string(30000 + i / 10);
    out += "}\n";
    if (i % 20 == (b ? 10 : 0)) continue;  // no endpoints: a REJECT rule in filter
    out += "- apiVersion: discovery.k8s.io/v1\n  kind: EndpointSlice\n";
    out += "  metadata: {name: " + name + "-x, namespace: crash, labels: {kubernetes.io/service-name: " + name + "}}\n";
    out += "  addressType: IPv4\n  endpoints:\n";
    for (int k = 0; k < 2; ++k) {
      out += "  - addresses: [" + dotted(10, b ? 245 : 244, 2 * i + k) + "]\n";
      out += "    conditions: {ready: true, serving: true, terminating: false}\n";
    }
    out += "  ports:\n  - {name: http, port: 8080, protocol: TCP}\n";
  }
  out += "- apiVersion: v1\n  kind: Node\n  metadata: {name: node-1, labels: {kubernetes.io/hostname: node-1}}\n";
  out += "  status:\n    addresses:\n    - {type: InternalIP, address: 192.168.49.2}\n";
  return out;
}

const char kConfig[] =
    "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
    "kind: KubeProxyConfiguration\n"
    "mode: iptables\n"
    "hostnameOverride: node-1\n"
    "clusterCIDR: 10.244.0.0/16\n"
    "iptables:\n"
    "  syncPeriod: 1h\n"
    "  minSyncPeriod: 0s\n"
    // nf_conntrack_max is global (read-only outside the initial namespace): leave it alone.
    "conntrack:\n"
    "  maxPerCore: 0\n";

// ----- the kernel's state -----

// Every chain of every table of both families ("ipv4 nat KUBE-SERVICES -" -> its rules' canonical
// keys, in order) and, keyed "nft", the nf_tables tables that exist.
using KernelState = std::map<std::string, std::vector<std::string>>;

Result<KernelState> readState(const std::string& backend) {
  KernelState state;
  for (IpFamily family : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    const std::string save = std::string(family == IpFamily::kIPv4 ? "iptables-" : "ip6tables-") + backend + "-save";
    auto saved = runProcess({save}, {}, {.timeout = 120s});
    if (!saved.ok()) return saved.error();
    if (!saved->succeeded()) return Error(save + " failed: " + saved->err);
    auto parsed = restore::parseRestoreText(saved->out);
    if (!parsed.ok()) return parsed.error().wrap(save);
    for (const auto& table : parsed->tables) {
      for (const auto& chain : table.chains) {
        std::vector<std::string>& rules =
            state[std::string(ipFamilyName(family)) + " " + table.name + " " + chain.name + " " + chain.policy];
        for (const auto& line : chain.rules) {
          auto rule = restore::canonicalRule(line, family);
          if (!rule.ok()) return rule.error().wrap(save + ": " + line);
          rules.push_back(rule->key);
        }
      }
    }
  }
  auto tables = runProcess({"nft", "list", "tables"}, {}, {.timeout = 60s});
  if (!tables.ok()) return tables.error();
  if (!tables->succeeded()) return Error("nft list tables failed: " + tables->err);
  std::vector<std::string>& names = state["nft"];
  std::string line;
  for (char ch : tables->out) {
    if (ch != '\n') {
      line += ch;
    } else if (!line.empty()) {
      names.push_back(std::exchange(line, {}));
    }
  }
  std::sort(names.begin(), names.end());
  return state;
}

// The chains where `a` and `b` differ (at most `limit`), for messages.
std::string differences(const KernelState& a, const KernelState& b, const char* a_name, const char* b_name,
                        size_t limit = 8) {
  std::string out;
  size_t n = 0;
  auto note = [&](const std::string& text) {
    if (n++ < limit) out += "  " + text + "\n";
  };
  for (const auto& [chain, rules] : a) {
    auto it = b.find(chain);
    if (it == b.end()) {
      note(chain + ": only in " + a_name);
    } else if (it->second != rules) {
      note(chain + ": " + std::to_string(rules.size()) + " rules in " + a_name + ", " +
           std::to_string(it->second.size()) + " in " + b_name + ", not the same");
    }
  }
  for (const auto& [chain, rules] : b)
    if (a.count(chain) == 0) note(chain + ": only in " + b_name);
  if (n > limit) out += "  ... " + std::to_string(n - limit) + " more\n";
  return out;
}

// ----- running kproxy -----

// A kproxy process (stdout and stderr to a log file), SIGKILLed if still running at the end.
class Kproxy {
 public:
  Kproxy() = default;
  Kproxy(const Kproxy&) = delete;
  Kproxy& operator=(const Kproxy&) = delete;
  ~Kproxy() { kill9(); }

  Status start(const std::vector<std::string>& argv, const std::string& path_env, const std::string& log_path) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e)
      if (std::string_view(*e).rfind("PATH=", 0) != 0) env_strings.emplace_back(*e);
    env_strings.push_back("PATH=" + path_env);
    std::vector<char*> envp, args;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    UniqueFd log(open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!log) return Error("open " + log_path);
    const pid_t parent = getpid();
    started_ = Clock::now();
    pid_ = fork();
    if (pid_ < 0) return Error("fork");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // kproxy itself dies with the test; its children do not
      if (getppid() != parent) _exit(127);
      int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
      dup2(log.get(), 1);
      dup2(log.get(), 2);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    return okStatus();
  }

  // Whether it is still running (reaps it when not).
  bool running() {
    if (pid_ <= 0) return false;
    if (waitpid(pid_, &status_, WNOHANG) == pid_) {
      pid_ = -1;
      ended_ = Clock::now();
      return false;
    }
    return true;
  }
  // SIGKILL; true when it was still running.
  bool kill9() {
    if (!running()) return false;
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    pid_ = -1;
    return true;
  }
  // Waits for it to exit on its own; its exit code, or -1 (signal, timeout: then killed).
  int wait(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (running()) {
      if (Clock::now() > deadline) {
        kill9();
        return -1;
      }
      std::this_thread::sleep_for(5ms);
    }
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }
  int stop() {
    if (!running()) return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
    kill(pid_, SIGTERM);
    return wait(30s);
  }
  Clock::time_point started() const { return started_; }
  Clock::duration took() const { return ended_ - started_; }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  Clock::time_point started_, ended_;
};

// Waits until every process left to this one (the subreaper) has ended; false on timeout.
bool reapOrphans(std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const pid_t r = waitpid(-1, nullptr, WNOHANG);
    if (r < 0 && errno == ECHILD) return true;
    if (r == 0) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
  }
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

enum class Verb { kSync, kRun };
enum class KillAt { kBeforeRestore, kRestoreSpawned, kDelay };

struct Row {
  std::string backend;
  Verb verb;
};

std::string rowName(const ::testing::TestParamInfo<Row>& info) {
  return std::string(info.param.verb == Verb::kSync ? "Sync" : "Run") + "_" + info.param.backend;
}

class CrashSafety : public ::testing::TestWithParam<Row> {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    ASSERT_EQ(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    auto lo = runProcess({"ip", "link", "set", "lo", "up"});
    ASSERT_TRUE(lo.ok() && lo->succeeded());
    auto binary = kproxyBinary();
    ASSERT_TRUE(binary.ok()) << binary.error().message;
    kproxy_ = *binary;
    char dir[] = "/tmp/kproxy-crash-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    services_ = envInt("KPROXY_CRASH_SERVICES", 1000);
    std::ofstream(dir_ + "/config.yaml") << kConfig;
    std::ofstream(dir_ + "/a.yaml") << clusterYaml(services_, false);
    std::ofstream(dir_ + "/b.yaml") << clusterYaml(services_, true);
    const char* path = std::getenv("PATH");
    path_ = path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin";
    ASSERT_NO_FATAL_FAILURE(writeHooks());
    if (GetParam().backend == "legacy") {
      // kubelet's hint chain in legacy mangle makes kproxy pick the legacy back end, as the
      // upstream image's iptables wrapper does.
      auto hint = runProcess({"iptables-legacy", "-w", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"});
      ASSERT_TRUE(hint.ok() && hint->succeeded());
    }
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  const std::string& backend() const { return GetParam().backend; }
  std::string hooks() const { return dir_ + "/hooks"; }

  // Wrappers for iptables-<backend>-save and -restore (IPv4) that, when armed with a pattern
  // matching their command line, take the arm file (only one caller wins it), say so, and wait
  // for "go" before they run the real binary (which keeps their stdin, pid and arguments).
  void writeHooks() {
    fs::create_directories(hooks());
    for (const std::string tool : {"save", "restore"}) {
      const std::string name = "iptables-" + backend() + "-" + tool;
      auto real = runProcess({"sh", "-c", "command -v " + name});
      ASSERT_TRUE(real.ok() && real->succeeded()) << name;
      std::string real_path = real->out.substr(0, real->out.find('\n'));
      const std::string script = "#!/bin/sh\n"
                                 "h='" + hooks() + "'\n"
                                 "if [ -f \"$h/arm\" ]; then\n"
                                 "  case \"" + name + " $*\" in\n"
                                 "    $(cat \"$h/arm\" 2>/dev/null))\n"
                                 "      if mv \"$h/arm\" \"$h/hit.$$\" 2>/dev/null; then\n"
                                 "        while [ ! -e \"$h/go\" ]; do sleep 0.005; done\n"
                                 "      fi;;\n"
                                 "  esac\n"
                                 "fi\n"
                                 "exec '" + real_path + "' \"$@\"\n";
      const std::string path = hooks() + "/" + name;
      std::ofstream(path) << script;
      chmod(path.c_str(), 0755);
    }
  }

  std::vector<std::string> argv(const std::string& objects) const {
    if (GetParam().verb == Verb::kSync) {
      return {kproxy_, "sync", "-f", objects, "--config", dir_ + "/config.yaml", "-v", "2"};
    }
    return {kproxy_, "run", "--config", dir_ + "/config.yaml", "--objects", objects, "-v", "2"};
  }
  std::string objects(bool b) const { return dir_ + (b ? "/b.yaml" : "/a.yaml"); }

  // Runs the verb to `b`'s state, unkilled: sync to its exit, run until its first full sync of
  // each family is logged (then SIGTERM). How long that took.
  Result<Clock::duration> converge(bool b) {
    Kproxy k;
    const std::string log = dir_ + "/converge.log";
    if (auto s = k.start(argv(objects(b)), path_, log); !s.ok()) return s.error();
    Clock::duration took{};
    if (GetParam().verb == Verb::kSync) {
      const int code = k.wait(600s);
      if (code != 0) return Error("kproxy sync exited " + std::to_string(code) + ": " + readFile(log));
      took = k.took();
    } else {
      const auto deadline = Clock::now() + 600s;
      while (true) {
        const std::string text = readFile(log);
        const bool dual = text.find("running in dual-stack") != std::string::npos;
        if (text.find("IPv4 iptables full sync:") != std::string::npos &&
            (!dual || text.find("IPv6 iptables full sync:") != std::string::npos)) {
          took = Clock::now() - k.started();
          break;
        }
        if (text.find("sync failed") != std::string::npos) return Error("kproxy run: " + text);
        if (!k.running()) return Error("kproxy run exited: " + text);
        if (Clock::now() > deadline) return Error("kproxy run did not sync within 600 s: " + text);
        std::this_thread::sleep_for(10ms);
      }
      if (int code = k.stop(); code != 0) return Error("kproxy run exited " + std::to_string(code) + " on SIGTERM");
    }
    if (!reapOrphans(60s)) return Error("processes left behind by kproxy did not end");
    return took;
  }

  // Starts the verb towards `b`'s state and kills it at `at` (after `delay` for kDelay). Returns
  // how the kill went, for the log line.
  Result<std::string> killDuring(bool b, KillAt at, Clock::duration delay) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(hooks(), ec))
      if (entry.path().filename().string().rfind("hit.", 0) == 0 || entry.path().filename() == "go" ||
          entry.path().filename() == "arm") {
        fs::remove(entry.path(), ec);
      }
    std::string path = path_;
    if (at != KillAt::kDelay) {
      path = hooks() + ":" + path_;
      const std::string pattern = at == KillAt::kBeforeRestore ? "iptables-" + backend() + "-save -t nat"
                                                               : "iptables-" + backend() + "-restore *";
      std::ofstream(hooks() + "/arm") << pattern << "\n";
    }
    Kproxy k;
    const std::string log = dir_ + "/killed.log";
    if (auto s = k.start(argv(objects(b)), path, log); !s.ok()) return s.error();
    std::string how;
    if (at == KillAt::kDelay) {
      std::this_thread::sleep_until(k.started() + delay);
      how = k.kill9() ? "killed" : "had already exited";
    } else {
      // Wait for the wrapper to be reached.
      const auto deadline = Clock::now() + 600s;
      bool hit = false;
      while (!hit) {
        for (const auto& entry : fs::directory_iterator(hooks(), ec))
          hit = hit || entry.path().filename().string().rfind("hit.", 0) == 0;
        if (hit) break;
        if (!k.running()) return Error("kproxy exited before reaching the hook: " + readFile(log));
        if (Clock::now() > deadline) return Error("the hook was not reached within 600 s");
        std::this_thread::sleep_for(1ms);
      }
      const auto at_hook = Clock::now() - k.started();
      if (!k.kill9()) return Error("kproxy exited while held at the hook");
      std::ofstream(hooks() + "/go") << "";
      how = "killed at " + std::to_string(seconds(at_hook)).substr(0, 5) + " s";
    }
    if (!reapOrphans(600s)) return Error("processes left behind by kproxy did not end");
    return how;
  }

  void runKillPoints() {
    const Row& row = GetParam();
    const auto t0 = Clock::now();
    // The expected states, reached by the verb itself: A from nothing, then B from A.
    auto first = converge(false);
    ASSERT_TRUE(first.ok()) << first.error().message;
    auto a = readState(backend());
    ASSERT_TRUE(a.ok()) << a.error().message;
    auto measured = converge(true);
    ASSERT_TRUE(measured.ok()) << measured.error().message;
    auto b = readState(backend());
    ASSERT_TRUE(b.ok()) << b.error().message;
    ASSERT_NE(differences(*a, *b, "A", "B"), "");
    for (const char* table : {" filter ", " nat "}) {
      bool differs = false;
      for (const auto& [chain, rules] : *a) {
        auto it = b->find(chain);
        differs = differs || (chain.find(table) != std::string::npos && (it == b->end() || it->second != rules));
      }
      EXPECT_TRUE(differs) << "states A and B must differ in" << table << "(else a mix could not be seen)";
    }
    Clock::duration full = *measured;
    std::printf("[crash] %s %s: %d services, full sync A->B %.2f s, state %zu chains\n", row.backend.c_str(),
                row.verb == Verb::kSync ? "sync" : "run", services_, seconds(full), b->size());

    struct Point {
      KillAt at;
      double fraction;  // of the measured full-sync time, for kDelay
    };
    // CI's size: both hooks for sync, the spawned-restore hook for run, one delay each (run
    // passes through the same applier, so its "before" point adds little but time).
    const bool full_size = std::getenv("KPROXY_CRASH_TIMED_KILLS") != nullptr;
    std::vector<Point> points = {{KillAt::kRestoreSpawned, 0}};
    if (full_size || row.verb == Verb::kSync) points.insert(points.begin(), {KillAt::kBeforeRestore, 0});
    const int timed = envInt("KPROXY_CRASH_TIMED_KILLS", 1);
    for (int i = 1; i <= timed; ++i) points.push_back({KillAt::kDelay, static_cast<double>(i) / (timed + 1)});

    bool now_b = true;  // the kernel holds B; every point goes to the other state
    int olds = 0, news = 0;
    for (const Point& p : points) {
      const bool to_b = !now_b;
      const KernelState& old_state = to_b ? *a : *b;
      const KernelState& new_state = to_b ? *b : *a;
      const auto delay = std::chrono::duration_cast<Clock::duration>(full * p.fraction);
      std::string label = p.at == KillAt::kBeforeRestore    ? "before the restore"
                          : p.at == KillAt::kRestoreSpawned ? "restore spawned"
                                                            : "after " + std::to_string(seconds(delay)).substr(0, 5) +
                                                                  " s (" + std::to_string(int(p.fraction * 100)) + "%)";
      SCOPED_TRACE(label);
      const auto point_start = Clock::now();
      auto how = killDuring(to_b, p.at, delay);
      ASSERT_TRUE(how.ok()) << how.error().message;
      auto state = readState(backend());
      ASSERT_TRUE(state.ok()) << state.error().message;
      const bool is_old = *state == old_state, is_new = *state == new_state;
      std::printf("[crash] %s %s %s -> %s: %s: %s, %s\n", row.backend.c_str(), row.verb == Verb::kSync ? "sync" : "run",
                  to_b ? "A" : "B", to_b ? "B" : "A", label.c_str(),
                  is_old ? "old state" : is_new ? "new state" : "MIXED", how->c_str());
      std::fflush(stdout);
      EXPECT_TRUE(is_old || is_new) << "neither the old nor the new state after the kill\nvs old:\n"
                                    << differences(*state, old_state, "kernel", "old") << "vs new:\n"
                                    << differences(*state, new_state, "kernel", "new") << "kproxy's log:\n"
                                    << readFile(dir_ + "/killed.log");
      if (p.at == KillAt::kBeforeRestore) {
        EXPECT_TRUE(is_old) << "killed before the restore began";
      }
      if (p.at == KillAt::kRestoreSpawned) {
        EXPECT_TRUE(is_new) << "the restore was spawned, so it must finish";
      }
      olds += is_old;
      news += is_new;

      // The next start converges to the new state.
      auto again = converge(to_b);
      ASSERT_TRUE(again.ok()) << again.error().message;
      auto converged = readState(backend());
      ASSERT_TRUE(converged.ok()) << converged.error().message;
      EXPECT_TRUE(*converged == new_state) << "did not converge:\n"
                                           << differences(*converged, new_state, "kernel", "new");
      full = *again;
      now_b = to_b;
      std::printf("[crash]   converged in %.2f s; this point took %.1f s\n", seconds(full), seconds(Clock::now() - point_start));
    }
    std::printf("[crash] %s %s: %zu kill points, %d old, %d new, %.1f s in all\n", row.backend.c_str(),
                row.verb == Verb::kSync ? "sync" : "run", points.size(), olds, news, seconds(Clock::now() - t0));
  }

  std::string kproxy_;
  std::string dir_;
  std::string path_;
  int services_ = 0;
};

TEST_P(CrashSafety, KilledFullSyncLeavesOldOrNewAndTheNextStartConverges) { runKillPoints(); }

INSTANTIATE_TEST_SUITE_P(Iptables, CrashSafety,
                         ::testing::Values(Row{"nft", Verb::kSync}, Row{"legacy", Verb::kSync}, Row{"nft", Verb::kRun},
                                           Row{"legacy", Verb::kRun}),
                         rowName);

}  // namespace
}  // namespace kproxy::netns
