// Every live verb works with only the capabilities a security-minded operator grants kube-proxy:
// the real binary runs under `setpriv` with its bounding, inheritable and ambient sets reduced to
// CAP_NET_ADMIN (plus CAP_NET_RAW, which the iptables-legacy tools need for their raw socket), in
// a private network namespace: sync, diff (no drift right after a sync, exit 0; the drift once a
// rule is gone, exit 1), facts, cleanup and run --objects. One row per mode and back end; IPVS
// rows need a kernel with IPVS (tests/kernel), nftables rows come with nftables mode.
//
// Then the settings that need more than that: sysctls when /proc/sys is read-only, as in a
// container without `privileged: true`, and the legacy back end without CAP_NET_RAW. kproxy warns
// and goes on where upstream does, and upstream's `--init-only` run with privileges first makes
// the unprivileged run need nothing more.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "src/util/subprocess.h"
#include "tests/netns/netns.h"
#include "tests/netns/packet_topology.h"

namespace kproxy::netns {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kExamples = std::string(KPROXY_SOURCE_DIR) + "/testdata/examples";
const std::string kCluster = kExamples + "/cluster.yaml";
const std::string kConfig = kExamples + "/config.yaml";

constexpr uint64_t kNetAdmin = uint64_t{1} << 12;  // CAP_NET_ADMIN
constexpr uint64_t kNetRaw = uint64_t{1} << 13;    // CAP_NET_RAW

struct PrivilegeRow {
  std::string name;
  std::string mode;     // --proxy-mode
  std::string backend;  // "nft", or "legacy": kubelet's hint chain in legacy mangle picks it
  std::string caps;     // setpriv's list, e.g. "+net_admin"
  uint64_t mask;        // the same as a capability mask
};

// The argv that runs `argv` with only `caps` (root keeps its uid; its capabilities are capped by
// the bounding set at exec, and the ambient set passes them on to iptables and friends).
std::vector<std::string> withOnly(const std::string& caps, const std::vector<std::string>& argv) {
  std::vector<std::string> out = {"setpriv", "--inh-caps=-all," + caps, "--ambient-caps=-all," + caps,
                                  "--bounding-set=-all," + caps, "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

ProcessResult mustRun(const std::vector<std::string>& argv) {
  auto r = runProcess(argv, {}, {.timeout = 120s});
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : ProcessResult{};
}

std::string describe(const ProcessResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

uint64_t capabilityMask(const std::string& status, const std::string& field) {
  const size_t at = status.find(field + ":\t");
  if (at == std::string::npos) return ~uint64_t{0};
  return std::stoull(status.substr(at + field.size() + 2, 16), nullptr, 16);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `kproxy run` in the background (stdout and stderr to a log file), killed with the test.
class Daemon {
 public:
  ~Daemon() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Status start(const std::vector<std::string>& argv, const std::string& log_path) {
    std::vector<char*> cargv;
    for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    const int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log < 0) return Error("open " + log_path);
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) return Error("fork");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
      dup2(log, 1);
      dup2(log, 2);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execvp(cargv[0], cargv.data());
      _exit(127);
    }
    close(log);
    return okStatus();
  }
  bool running() { return pid_ > 0 && waitpid(pid_, &status_, WNOHANG) == 0; }
  // SIGTERM, then the exit status (-1 when it did not stop within 10 s, or was killed).
  int stop() {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

class LeastPrivilege : public ::testing::TestWithParam<PrivilegeRow> {
 protected:
  void SetUp() override {
    KPROXY_ENTER_FRESH_NETNS();
    ASSERT_TRUE(mustRun({"ip", "link", "set", "lo", "up"}).succeeded());
    auto binary = kproxyBinary();
    ASSERT_TRUE(binary.ok()) << binary.error().message;
    kproxy_ = *binary;
    char dir[] = "/tmp/kproxy-lp-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    // The example configuration in the row's mode (with --config, run takes the mode from the file).
    std::string config = readFile(kConfig);
    const size_t at = config.find("mode: iptables");
    ASSERT_NE(at, std::string::npos);
    config.replace(at, std::string("mode: iptables").size(), "mode: " + GetParam().mode);
    config_ = dir_ + "/config.yaml";
    std::ofstream(config_) << config;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // `kproxy VERB ARGS...` with only the row's capabilities.
  ProcessResult kproxy(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kproxy_};
    argv.insert(argv.end(), args.begin(), args.end());
    return mustRun(withOnly(GetParam().caps, argv));
  }
  std::vector<std::string> input() const {
    return {"-f", kCluster, "--config", config_};  // every family the node has, as on a node
  }
  std::vector<std::string> verb(const std::string& name) const {
    std::vector<std::string> args = {name};
    for (const auto& a : input()) args.push_back(a);
    return args;
  }
  // The rules as root sees them, with the row's back end.
  std::string saved() {
    return mustRun({"iptables-" + GetParam().backend + "-save"}).out;
  }

  std::string kproxy_;
  std::string dir_;
  std::string config_;
};

TEST_P(LeastPrivilege, EveryLiveVerbWorks) {
  const PrivilegeRow& row = GetParam();
  if (row.backend == "legacy") {
    ASSERT_TRUE(mustRun({"iptables-legacy", "-w", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"}).succeeded());
  }

  // The reduction itself: only the row's capabilities, and no CAP_SYS_ADMIN for a namespace.
  ProcessResult status = mustRun(withOnly(row.caps, {"cat", "/proc/self/status"}));
  EXPECT_EQ(capabilityMask(status.out, "CapEff"), row.mask) << status.out;
  EXPECT_EQ(capabilityMask(status.out, "CapBnd"), row.mask) << status.out;
  EXPECT_FALSE(mustRun(withOnly(row.caps, {"unshare", "--net", "true"})).succeeded());

  ProcessResult r = kproxy(verb("sync"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.err.find("error:"), std::string::npos) << describe(r);
  EXPECT_NE(saved().find(":KUBE-SERVICES"), std::string::npos);

  r = kproxy(verb("diff"));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.out, "");

  // Drift is seen with the same privileges, and a second sync repairs it.
  ASSERT_TRUE(mustRun({"iptables-" + row.backend, "-w", "-t", "nat", "-D", "KUBE-SEP-GXKVICYM64SODBWJ", "-m", "comment",
                       "--comment", "shop/web:http", "-s", "10.244.0.11", "-j", "KUBE-MARK-MASQ"})
                  .succeeded());
  r = kproxy(verb("diff"));
  EXPECT_EQ(r.exit_code, 1) << describe(r);
  EXPECT_NE(r.out.find("+-A KUBE-SEP-GXKVICYM64SODBWJ -s 10.244.0.11/32"), std::string::npos) << describe(r);
  ASSERT_EQ(kproxy(verb("sync")).exit_code, 0);
  EXPECT_EQ(kproxy(verb("diff")).exit_code, 0);

  r = kproxy({"facts"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("localAddresses:"), std::string::npos) << describe(r);

  r = kproxy({"cleanup"});
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(saved().find(":KUBE-SERVICES"), std::string::npos) << saved();

  // The daemon, fed from the manifests: converges (diff exits 0), then stops cleanly on SIGTERM.
  Daemon daemon;
  const std::string log = dir_ + "/run.log";
  ASSERT_TRUE(daemon
                  .start(withOnly(row.caps, {kproxy_, "run", "--config", config_, "--objects", kCluster,
                                             "--hostname-override", "node-1"}),
                         log)
                  .ok());
  const auto deadline = Clock::now() + 60s;
  int code = -1;
  while (Clock::now() < deadline && daemon.running()) {
    code = kproxy(verb("diff")).exit_code;
    if (code == 0) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(code, 0) << "kproxy run never programmed the plan\n" << readFile(log);
  EXPECT_EQ(daemon.stop(), 0) << readFile(log);
  EXPECT_EQ(readFile(log).find("rror"), std::string::npos) << readFile(log);
  EXPECT_EQ(kproxy({"cleanup"}).exit_code, 0);
}

std::string rowName(const ::testing::TestParamInfo<PrivilegeRow>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(
    Modes, LeastPrivilege,
    ::testing::Values(PrivilegeRow{"iptables_nft", "iptables", "nft", "+net_admin", kNetAdmin},
                      PrivilegeRow{"iptables_legacy", "iptables", "legacy", "+net_admin,+net_raw", kNetAdmin | kNetRaw}),
    rowName);

class NeedsMoreThanNetAdmin : public LeastPrivilege {};

// /proc/sys read-only, as a container without `privileged: true` sees it (a private mount
// namespace with a read-only bind mount of /proc/sys), and only CAP_NET_ADMIN.
std::vector<std::string> readOnlySysctls(const std::vector<std::string>& argv) {
  std::string command = "mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec";
  for (const auto& a : argv) command += " '" + a + "'";
  return {"unshare", "--mount", "--propagation", "private", "sh", "-c", command};
}

// Conntrack sysctls are warnings (upstream's conntracker is fatal on a failed write except for a
// read-only /sys; kproxy deliberately goes on, see node_setup.h); route_localnet, which localhost
// node ports need, is fatal as upstream's proxier makes it. Both messages name the way out:
// `kube-proxy --init-only` with privileges first, after which the same unprivileged run passes.
TEST_P(NeedsMoreThanNetAdmin, SysctlsOnAReadOnlyProcSysNeedInitOnly) {
  const std::string config = dir_ + "/config.yaml";
  std::ofstream(config) << readFile(kConfig)
                        << "conntrack:\n  maxPerCore: 0\n  tcpEstablishedTimeout: 12345s\n";
  ASSERT_TRUE(mustRun({"sysctl", "-qw", "net.ipv4.conf.all.route_localnet=0"}).succeeded());
  const std::vector<std::string> sync = {kproxy_, "sync", "-f", kCluster, "--config", config, "--ip-family", "ipv4"};

  ProcessResult r = mustRun(readOnlySysctls(withOnly(GetParam().caps, sync)));
  EXPECT_NE(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("route_localnet"), std::string::npos) << describe(r);
  EXPECT_NE(r.err.find("--init-only"), std::string::npos) << describe(r);

  // The privileged init container's part: the node setup, then exit.
  r = mustRun({kproxy_, "run", "--config", config, "--init-only"});
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(readFile("/proc/sys/net/ipv4/conf/all/route_localnet"), "1\n");
  EXPECT_EQ(readFile("/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established"), "12345\n");

  r = mustRun(readOnlySysctls(withOnly(GetParam().caps, sync)));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.err.find("can't set sysctl"), std::string::npos) << describe(r);

  // A conntrack setting that still differs is a warning naming --init-only, not a failure.
  std::ofstream(config) << readFile(kConfig) << "conntrack:\n  maxPerCore: 0\n  tcpEstablishedTimeout: 23456s\n";
  r = mustRun(readOnlySysctls(withOnly(GetParam().caps, sync)));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("warning: can't set sysctl net/netfilter/nf_conntrack_tcp_timeout_established"), std::string::npos)
      << describe(r);
  EXPECT_NE(r.err.find("--init-only"), std::string::npos) << describe(r);
}

INSTANTIATE_TEST_SUITE_P(IptablesNft, NeedsMoreThanNetAdmin,
                         ::testing::Values(PrivilegeRow{"iptables_nft", "iptables", "nft", "+net_admin", kNetAdmin}),
                         rowName);

// The legacy tools open a raw socket. Without CAP_NET_RAW kproxy cannot read the legacy tables
// the node uses; it says so and programs nf_tables (as the upstream image's wrapper would,
// silently).
TEST(LegacyBackendWithoutNetRaw, WarnsAndUsesNfTables) {
  KPROXY_ENTER_FRESH_NETNS();
  auto binary = kproxyBinary();
  ASSERT_TRUE(binary.ok()) << binary.error().message;
  ASSERT_TRUE(mustRun({"iptables-legacy", "-w", "-t", "mangle", "-N", "KUBE-IPTABLES-HINT"}).succeeded());
  ProcessResult r =
      mustRun(withOnly("+net_admin", {*binary, "sync", "-f", kCluster, "--config", kConfig, "--ip-family", "ipv4"}));
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.err.find("warning: this network namespace has iptables-legacy tables, but they cannot be read"),
            std::string::npos)
      << describe(r);
  EXPECT_NE(r.err.find("needs CAP_NET_RAW"), std::string::npos) << describe(r);
  EXPECT_NE(mustRun({"iptables-nft-save", "-t", "nat"}).out.find(":KUBE-SERVICES"), std::string::npos);
}

}  // namespace
}  // namespace kproxy::netns
