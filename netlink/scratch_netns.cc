#include "netlink/scratch_netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "netlink/nfacct.h"
#include "src/util/subprocess.h"
#include "src/util/unique_handle.h"

namespace kproxy::netlink {

Result<std::string> savedAfterRestoreInScratchNetns(IptablesBackend backend, IpFamily family,
                                                    const std::vector<std::string>& nfacct_counters,
                                                    const std::string& restore_input) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Error(std::string("pipe: ") + std::strerror(errno), errno);
  UniqueFd read_end(fds[0]), write_end(fds[1]);
  pid_t pid = fork();
  if (pid < 0) return Error(std::string("fork: ") + std::strerror(errno), errno);
  if (pid == 0) {
    // Child: a private, empty network namespace; report "OK\n<save output>" or "ERR\n<why>".
    read_end.reset();
    std::string out;
    if (unshare(CLONE_NEWNET) != 0) {
      out = std::string("ERR\nunshare(CLONE_NEWNET): ") + std::strerror(errno) + " (run as root)";
    } else {
      auto nfacct = newNetlinkNfacct();
      for (const auto& c : nfacct_counters) (void)nfacct->ensure(c);
      auto iptables = newProcessIptables(backend);
      auto restored = iptables->restore(family, {restore_input}, {.noflush = true, .counters = false});
      if (!restored.ok()) {
        out = "ERR\n" + restored.error().message;
      } else {
        auto saved = iptables->save(family, "");
        out = saved.ok() ? "OK\n" + *saved : "ERR\n" + saved.error().message;
      }
    }
    size_t off = 0;
    while (off < out.size()) {
      ssize_t n = write(write_end.get(), out.data() + off, out.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    _exit(0);
  }
  write_end.reset();
  std::string got;
  char buf[65536];
  for (;;) {
    ssize_t n = read(read_end.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (got.rfind("OK\n", 0) == 0) return got.substr(3);
  if (got.rfind("ERR\n", 0) == 0) return Error("scratch namespace: " + got.substr(4));
  return Error("scratch namespace: the helper process failed");
}

}  // namespace kproxy::netlink
