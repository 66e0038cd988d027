#include "netlink/iptables_restore.h"

#include <cstdlib>
#include <fstream>
#include <regex>

#include "src/util/subprocess.h"

namespace kproxy::netlink {
namespace {

// Restores of tens of megabytes take seconds on a busy node; a hung binary must not hang kproxy.
constexpr std::chrono::milliseconds kCommandTimeout{120'000};
// A full restore at 10k services x 10 endpoints took 77-117 s on a loaded 2-core machine
// (nf_tables); killing it at kCommandTimeout would make every retry fail the same way.
constexpr std::chrono::milliseconds kRestoreTimeout{900'000};

class ProcessIptables final : public IptablesRestore {
 public:
  explicit ProcessIptables(IptablesBackend backend)
      : backend_(backend), bin_(IptablesBinaries::forBackend(backend)) {
    auto version = runProcess({bin_.iptables, "--version"}, {}, {.timeout = kCommandTimeout});
    random_fully_ = version.ok() && version->succeeded() && versionAtLeast(version->out, 1, 6, 2);
  }

  IptablesBackend backend() const override { return backend_; }
  bool hasRandomFully() const override { return random_fully_; }

  Status restore(IpFamily family, const std::vector<std::string_view>& pieces, const RestoreOptions& options) override {
    std::vector<std::string> argv = {family == IpFamily::kIPv4 ? bin_.restore : bin_.ip6restore, "-w", "5"};
    if (options.noflush) argv.push_back("--noflush");
    if (options.counters) argv.push_back("--counters");
    auto r = runProcessPieces(argv, pieces, {.timeout = kRestoreTimeout, .capture_stdout = false});
    if (!r.ok()) return r.error();
    if (!r->succeeded()) {
      std::string message = r->err;
      while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
      for (auto& ch : message)
        if (ch == '\n') ch = ' ';
      return Error(commandLine(argv) + " failed (exit " + std::to_string(r->exit_code) + "): " + message,
                   restoreErrorLine(r->err));
    }
    return okStatus();
  }

  Result<std::string> save(IpFamily family, std::string_view table) override {
    std::vector<std::string> argv = {family == IpFamily::kIPv4 ? bin_.save : bin_.ip6save};
    if (!table.empty()) {
      argv.push_back("-t");
      argv.emplace_back(table);
    }
    auto r = runProcess(argv, {}, {.timeout = kCommandTimeout});
    if (!r.ok()) return r.error();
    if (!r->succeeded()) return Error(commandLine(argv) + " failed: " + r->err);
    return std::move(r->out);
  }

  Result<bool> ruleExists(IpFamily family, std::string_view table, std::string_view chain,
                          const std::vector<std::string>& args) override {
    auto argv = command(family, table, "-C", chain, args);
    auto r = runProcess(argv, {}, {.timeout = kCommandTimeout});
    if (!r.ok()) return r.error();
    if (r->exit_code == 0) return true;
    if (r->exit_code == 1) return false;  // "Bad rule (does a matching rule exist in that chain?)"
    return Error(commandLine(argv) + " failed: " + r->err);
  }

  Status insertRule(IpFamily family, std::string_view table, std::string_view chain,
                    const std::vector<std::string>& args, bool prepend) override {
    std::vector<std::string> full = args;
    if (prepend) full.insert(full.begin(), "1");
    return runSimple(command(family, table, prepend ? "-I" : "-A", chain, full));
  }

  Status deleteRule(IpFamily family, std::string_view table, std::string_view chain,
                    const std::vector<std::string>& args) override {
    return runSimple(command(family, table, "-D", chain, args));
  }

  Status ensureChain(IpFamily family, std::string_view table, std::string_view chain) override {
    auto exists = chainExists(family, table, chain);
    if (!exists.ok()) return exists.error();
    if (*exists) return okStatus();
    auto argv = command(family, table, "-N", chain, {});
    auto r = runProcess(argv, {}, {.timeout = kCommandTimeout});
    if (!r.ok()) return r.error();
    // Another writer may have created it meanwhile: EEXIST is success (design.md convention 6).
    if (r->exit_code == 0 || r->err.find("already exists") != std::string::npos) return okStatus();
    return Error(commandLine(argv) + " failed: " + r->err);
  }

  Result<bool> chainExists(IpFamily family, std::string_view table, std::string_view chain) override {
    auto argv = command(family, table, "-S", chain, {"1"});
    auto r = runProcess(argv, {}, {.timeout = kCommandTimeout});
    if (!r.ok()) return r.error();
    return r->exit_code == 0;
  }

 private:
  std::vector<std::string> command(IpFamily family, std::string_view table, std::string_view op,
                                   std::string_view chain, const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {family == IpFamily::kIPv4 ? bin_.iptables : bin_.ip6tables, "-w", "5", "-t",
                                     std::string(table), std::string(op), std::string(chain)};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  Status runSimple(const std::vector<std::string>& argv) {
    auto r = runProcess(argv, {}, {.timeout = kCommandTimeout});
    if (!r.ok()) return r.error();
    if (!r->succeeded()) return Error(commandLine(argv) + " failed: " + r->err, r->exit_code);
    return okStatus();
  }

  static bool versionAtLeast(const std::string& text, int major, int minor, int patch) {
    std::smatch m;
    static const std::regex kVersion("v([0-9]+)\\.([0-9]+)\\.([0-9]+)");
    if (!std::regex_search(text, m, kVersion)) return false;
    int v[3] = {std::atoi(m[1].str().c_str()), std::atoi(m[2].str().c_str()), std::atoi(m[3].str().c_str())};
    int want[3] = {major, minor, patch};
    for (int i = 0; i < 3; ++i) {
      if (v[i] != want[i]) return v[i] > want[i];
    }
    return true;
  }

  IptablesBackend backend_;
  IptablesBinaries bin_;
  bool random_fully_ = false;
};

size_t countRules(const std::string& save_output) {
  size_t n = 0;
  size_t pos = 0;
  while (pos < save_output.size()) {
    if (save_output[pos] == '-') ++n;
    size_t nl = save_output.find('\n', pos);
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  return n;
}

Result<std::string> runSave(const std::string& binary, std::string_view table = {}) {
  std::vector<std::string> argv = {binary};
  if (!table.empty()) {
    argv.push_back("-t");
    argv.emplace_back(table);
  }
  auto r = runProcess(argv, {}, {.timeout = kCommandTimeout});
  if (!r.ok()) return r.error();
  if (!r->succeeded()) {
    std::string message = r->err;
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return Error(commandLine(argv) + ": " + message);
  }
  return std::move(r->out);
}

std::string saveAll(const std::string& binary, std::string_view table = {}) {
  auto saved = runSave(binary, table);
  return saved.ok() ? *saved : std::string();
}

}  // namespace

IptablesBinaries IptablesBinaries::forBackend(IptablesBackend backend) {
  const std::string s = backend == IptablesBackend::kNft ? "nft" : "legacy";
  return {"iptables-" + s,         "ip6tables-" + s,    "iptables-" + s + "-restore", "ip6tables-" + s + "-restore",
          "iptables-" + s + "-save", "ip6tables-" + s + "-save"};
}

// The legacy tables loaded in this network namespace. Running iptables-legacy-save when there are
// none would create them (and make iptables-nft warn about legacy tables from then on).
static bool legacyTablesPresent() {
  for (const char* path : {"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names"}) {
    std::ifstream in(path);
    std::string name;
    if (in >> name) return true;
  }
  return false;
}

IptablesBackend detectIptablesBackend(std::string* why, std::string* warning) {
  auto say = [&](const std::string& text) {
    if (why != nullptr) *why = text;
  };
  bool legacy_present = legacyTablesPresent();
  if (legacy_present) {
    // libiptc opens a raw socket: without CAP_NET_RAW the legacy tools cannot even list. Then
    // the legacy rules cannot be counted (the upstream image's wrapper counts them as none and
    // silently picks nf_tables); say so instead of guessing quietly.
    auto probe = runSave(IptablesBinaries::forBackend(IptablesBackend::kLegacy).save, "mangle");
    if (!probe.ok()) {
      legacy_present = false;
      if (warning != nullptr) {
        *warning = "this network namespace has iptables-legacy tables, but they cannot be read (" +
                   probe.error().message +
                   "; the legacy back end needs CAP_NET_RAW as well as CAP_NET_ADMIN): using nf_tables, so "
                   "rules in the legacy tables are not seen";
      }
    }
  }
  for (auto backend : {IptablesBackend::kLegacy, IptablesBackend::kNft}) {
    if (backend == IptablesBackend::kLegacy && !legacy_present) continue;
    auto bin = IptablesBinaries::forBackend(backend);
    for (const auto& save : {bin.save, bin.ip6save}) {
      std::string mangle = saveAll(save, "mangle");
      if (mangle.find("KUBE-IPTABLES-HINT") != std::string::npos ||
          mangle.find("KUBE-KUBELET-CANARY") != std::string::npos) {
        say(save + " shows kubelet's hint chain");
        return backend;
      }
    }
  }
  auto legacy = IptablesBinaries::forBackend(IptablesBackend::kLegacy);
  auto nft = IptablesBinaries::forBackend(IptablesBackend::kNft);
  size_t legacy_rules = legacy_present ? countRules(saveAll(legacy.save)) + countRules(saveAll(legacy.ip6save)) : 0;
  size_t nft_rules = countRules(saveAll(nft.save)) + countRules(saveAll(nft.ip6save));
  if (legacy_rules > nft_rules) {
    say("legacy holds more rules (" + std::to_string(legacy_rules) + " > " + std::to_string(nft_rules) + ")");
    return IptablesBackend::kLegacy;
  }
  say("nf_tables (" + std::to_string(nft_rules) + " rules, legacy " + std::to_string(legacy_rules) + ")");
  return IptablesBackend::kNft;
}

std::unique_ptr<IptablesRestore> newProcessIptables(IptablesBackend backend) {
  return std::make_unique<ProcessIptables>(backend);
}

int restoreErrorLine(std::string_view text) {
  static const std::regex kAt("Error occurred at line: ([0-9]+)");
  static const std::regex kFailed("line ([0-9]+) failed");
  std::string s(text);
  std::smatch m;
  if (std::regex_search(s, m, kAt) || std::regex_search(s, m, kFailed)) return std::atoi(m[1].str().c_str());
  return 0;
}

}  // namespace kproxy::netlink
