// The verbs that touch the node: `kproxy sync` (one full sync into the current network namespace,
// in the configured mode), `kproxy cleanup` (remove what every mode of kproxy/kube-proxy created)
// and `kproxy facts` (print this node's probed facts for render --node-facts).
#pragma once

#include <string>
#include <vector>

#include "src/cli/live_context.h"
#include "src/cli/verbs.h"

namespace kproxy::cli {

struct SyncOptions {
  LiveVerbOptions live;
  int verbosity = 0;
};
// Returns the exit code: 0 done, 2 refused input or a failed sync (problems in `err`).
int runSync(const SyncOptions& options, std::string& err);
Verb addSyncVerb(CLI::App& app);

// `kproxy cleanup` in this network namespace: every mode's leftovers. Problems go to `err`, one
// "error: ..." line each; returns the exit code (0 or 2).
int runCleanup(std::string& err);
Verb addCleanupVerb(CLI::App& app);

Verb addFactsVerb(CLI::App& app);

}  // namespace kproxy::cli
