#include "src/util/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
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

Result<ProcessResult> runProcessPieces(const std::vector<std::string>& argv, const std::vector<std::string_view>& input,
                                 const ProcessOptions& options) {
  if (argv.empty()) return Error("runProcess: empty command");
  // A child that exits before reading all of its input must not kill us with SIGPIPE.
  static const bool sigpipe_ignored = [] {
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)sigpipe_ignored;
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0) return Error(commandLine(argv) + ": pipe: " + std::strerror(errno), errno);
  UniqueFd in_r(in_pipe[0]), in_w(in_pipe[1]);
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return Error(commandLine(argv) + ": pipe: " + std::strerror(errno), errno);
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return Error(commandLine(argv) + ": pipe: " + std::strerror(errno), errno);
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_r.get(), 0);
  if (options.capture_stdout) {
    posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Error(commandLine(argv) + ": cannot start: " + std::strerror(rc), rc);
  in_r.reset();
  out_w.reset();
  err_w.reset();

  ProcessResult result;
  size_t piece = 0;    // the piece being written
  size_t written = 0;  // bytes of it written so far
  while (piece < input.size() && input[piece].empty()) ++piece;
  if (piece == input.size()) in_w.reset();
  for (int fd : {in_w.get(), out_r.get(), err_r.get()})
    if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  char buf[65536];
  bool timed_out = false;
  while (in_w.get() >= 0 || out_r.get() >= 0 || err_r.get() >= 0) {
    pollfd fds[3];
    int n = 0;
    if (in_w.get() >= 0) fds[n++] = {in_w.get(), POLLOUT, 0};
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
      if (fds[i].fd == in_w.get()) {
        const std::string_view current = input[piece];
        ssize_t w = write(in_w.get(), current.data() + written, current.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) in_w.reset();  // child closed stdin (EPIPE)
        if (written == current.size()) {
          written = 0;
          ++piece;
          while (piece < input.size() && input[piece].empty()) ++piece;
          if (piece == input.size()) in_w.reset();
        }
      } else {
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
