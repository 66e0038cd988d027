#include "src/util/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "src/util/unique_handle.h"

extern char** environ;

namespace kproxy {

std::string commandLine(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out.push_back(' ');
    out += a;
  }
  return out;
}

Result<ProcessResult> runProcess(const std::vector<std::string>& argv, std::string_view input,
                                 const ProcessOptions& options) {
  return runProcessPieces(argv, std::vector<std::string_view>{input}, options);
}

namespace {

// `input`, whole, in an anonymous file positioned at its start: the child's stdin. Written before
// the child starts, so that the child reads every byte even if this process dies meanwhile (a
// pipe would hand it a truncated input: iptables-restore commits each table at its COMMIT line,
// so a truncated input can apply one table and not the next).
Result<UniqueFd> inputFile(const std::vector<std::string>& argv, const std::vector<std::string_view>& input) {
  size_t total = 0;
  for (auto piece : input) total += piece.size();
  if (total == 0) {
    UniqueFd null(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!null) return Error(commandLine(argv) + ": open /dev/null: " + std::strerror(errno), errno);
    return null;
  }
  UniqueFd fd(static_cast<int>(memfd_create("kproxy-stdin", MFD_CLOEXEC)));
  if (!fd) {
    // kernel < 3.17, or a seccomp profile without memfd_create: an unnamed file in /tmp.
    const int memfd_errno = errno;
    fd = UniqueFd(open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (!fd) {
      return Error(commandLine(argv) + ": no file for the input (memfd_create: " + std::strerror(memfd_errno) +
                       "; O_TMPFILE in /tmp: " + std::strerror(errno) + ")",
                   errno);
    }
  }
  for (auto piece : input) {
    while (!piece.empty()) {
      ssize_t w = write(fd.get(), piece.data(), piece.size());
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return Error(commandLine(argv) + ": write input: " + std::strerror(errno), errno);
      piece.remove_prefix(static_cast<size_t>(w));
    }
  }
  if (lseek(fd.get(), 0, SEEK_SET) != 0) return Error(commandLine(argv) + ": lseek input: " + std::strerror(errno), errno);
  return fd;
}

}  // namespace

Result<ProcessResult> runProcessPieces(const std::vector<std::string>& argv, const std::vector<std::string_view>& input,
                                 const ProcessOptions& options) {
  if (argv.empty()) return Error("runProcess: empty command");
  // A child that exits before reading its output pipes' ends must not kill us with SIGPIPE.
  static const bool sigpipe_ignored = [] {
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)sigpipe_ignored;
  auto in = inputFile(argv, input);
  if (!in.ok()) return in.error();
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return Error(commandLine(argv) + ": pipe: " + std::strerror(errno), errno);
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return Error(commandLine(argv) + ": pipe: " + std::strerror(errno), errno);
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in->get(), 0);
  if (options.capture_stdout) {
    posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  // A process group of its own: a signal sent to ours (a terminal's ^C, `kill -- -PGID`) does
  // not cut a restore short; only its own pid, or the end of the whole PID namespace, stops it.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Error(commandLine(argv) + ": cannot start: " + std::strerror(rc), rc);
  in->reset();
  out_w.reset();
  err_w.reset();

  ProcessResult result;
  for (int fd : {out_r.get(), err_r.get()}) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  char buf[65536];
  bool timed_out = false;
  while (out_r.get() >= 0 || err_r.get() >= 0) {
    pollfd fds[2];
    int n = 0;
    if (out_r.get() >= 0) fds[n++] = {out_r.get(), POLLIN, 0};
    if (err_r.get() >= 0) fds[n++] = {err_r.get(), POLLIN, 0};
    int wait_ms = -1;
    if (options.timeout.count() > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(left.count());
    }
    int ready = poll(fds, n, wait_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (fds[i].revents == 0) continue;
      UniqueFd& fd = fds[i].fd == out_r.get() ? out_r : err_r;
      std::string& sink = fds[i].fd == out_r.get() ? result.out : result.err;
      ssize_t r = read(fd.get(), buf, sizeof(buf));
      if (r > 0) {
        sink.append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        fd.reset();
      }
    }
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Error(commandLine(argv) + ": timed out after " + std::to_string(options.timeout.count()) + "ms");
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace kproxy
