// `kproxy run`: the daemon. Objects come from manifest files re-read on change (--objects, a
// kproxy extension; the Kubernetes API source plugs into the same ObjectEventSink).
#pragma once

#include <string>
#include <vector>

#include "src/cli/verbs.h"

namespace kproxy::cli {

struct RunOptions {
  std::string config_path;
  std::vector<std::string> objects;  // --objects FILE (repeatable)
  std::string hostname_override;
  std::string proxy_mode;
  int verbosity = 0;
};

// Runs until SIGTERM or SIGINT; returns the exit code. Rules are left in place on exit (upstream).
int runDaemon(const RunOptions& options);

Verb addRunVerb(CLI::App& app);

}  // namespace kproxy::cli
