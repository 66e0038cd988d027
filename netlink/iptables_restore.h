// IptablesRestore: the iptables back end as kproxy drives it: iptables-restore for every change
// (one run per call; the kernel takes each table of it at once, table by table: see
// modes/iptables/applier.h), iptables-save to read state back, and the few single-rule commands
// upstream uses for jump rules. Not netlink, but a kernel side effect, so it lives here.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::netlink {

// Which iptables back end the binaries talk to (the upstream image's iptables-wrapper decides).
enum class IptablesBackend { kNft, kLegacy };

struct RestoreOptions {
  bool noflush = true;   // --noflush: tables are not flushed first
  bool counters = true;  // --counters
};

// A failed iptables-restore; `line` is the 1-based payload line iptables-restore named (0 if none).
struct RestoreFailure {
  std::string message;
  int line = 0;
};

class IptablesRestore {
 public:
  virtual ~IptablesRestore() = default;

  virtual IptablesBackend backend() const = 0;

  // Restores `pieces` (concatenated, they are one iptables-restore input) for `family`, waiting for
  // the xtables lock. The input is complete before iptables-restore starts, which then runs to its
  // end even if kproxy is killed meanwhile. On failure the Error message names the failing line
  // and carries it in code; tables committed before the failing one stay committed.
  virtual Status restore(IpFamily family, const std::vector<std::string_view>& pieces,
                         const RestoreOptions& options = {}) = 0;

  // iptables-save output of one table ("" = all tables).
  virtual Result<std::string> save(IpFamily family, std::string_view table) = 0;

  // `iptables -w -t TABLE -C CHAIN args...`: true when the rule exists.
  virtual Result<bool> ruleExists(IpFamily family, std::string_view table, std::string_view chain,
                                  const std::vector<std::string>& args) = 0;
  // `iptables -w -t TABLE -I CHAIN 1 args...` (prepend) or `-A` (append).
  virtual Status insertRule(IpFamily family, std::string_view table, std::string_view chain,
                            const std::vector<std::string>& args, bool prepend) = 0;
  virtual Status deleteRule(IpFamily family, std::string_view table, std::string_view chain,
                            const std::vector<std::string>& args) = 0;
  // `iptables -N` when missing (EEXIST is success).
  virtual Status ensureChain(IpFamily family, std::string_view table, std::string_view chain) = 0;
  virtual Result<bool> chainExists(IpFamily family, std::string_view table, std::string_view chain) = 0;

  // Whether the iptables binary supports MASQUERADE --random-fully.
  virtual bool hasRandomFully() const = 0;
};

}  // namespace kproxy::netlink

namespace kproxy::netlink {

// The binaries of one back end.
struct IptablesBinaries {
  std::string iptables, ip6tables;
  std::string restore, ip6restore;
  std::string save, ip6save;

  static IptablesBinaries forBackend(IptablesBackend backend);
};

// Picks the back end as the upstream kube-proxy image's iptables wrapper does: the one holding
// kubelet's KUBE-IPTABLES-HINT or KUBE-KUBELET-CANARY chain (mangle), else the one with more
// rules, else nf_tables. `why` says which test decided; `warning` is set when the choice had to
// be made without seeing the legacy tables (they exist but cannot be read: no CAP_NET_RAW).
IptablesBackend detectIptablesBackend(std::string* why = nullptr, std::string* warning = nullptr);

// The implementation that runs the iptables binaries (no shell).
std::unique_ptr<IptablesRestore> newProcessIptables(IptablesBackend backend);

// The 1-based payload line named by an iptables-restore error message ("Error occurred at line:
// 12", "iptables-restore: line 12 failed"), or 0.
int restoreErrorLine(std::string_view stderr_text);

}  // namespace kproxy::netlink
