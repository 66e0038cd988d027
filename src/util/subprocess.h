// Runs a child process without a shell: argv[0] is looked up in PATH, stdout and stderr are
// captured. `input` is written whole into an anonymous memory file before the child starts, and
// that file is its stdin: if this process dies (SIGKILL, OOM) at any moment, the child still
// reads every byte and runs to its end, since it also gets a process group of its own and no
// parent-death signal. This is what keeps an iptables-restore of a full sync from being cut short
// between its tables (see modes/iptables/applier.h).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "src/util/result.h"

namespace kproxy {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal (see signal)
  int signal = 0;
  std::string out;
  std::string err;

  bool succeeded() const { return exit_code == 0; }
};

struct ProcessOptions {
  std::chrono::milliseconds timeout{0};  // 0: no timeout; on timeout the child is killed
  bool capture_stdout = true;
};

// Errors are about starting or talking to the child; a non-zero exit is a successful Result.
Result<ProcessResult> runProcess(const std::vector<std::string>& argv, std::string_view input = {},
                                 const ProcessOptions& options = {});
// The same with the input in pieces, written one after the other (a large iptables-restore input
// is never joined into one string first).
Result<ProcessResult> runProcessPieces(const std::vector<std::string>& argv, const std::vector<std::string_view>& input,
                                 const ProcessOptions& options = {});

// "cmd arg1 arg2" for messages.
std::string commandLine(const std::vector<std::string>& argv);

}  // namespace kproxy
