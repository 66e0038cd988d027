// `kproxy diff`: drift of this network namespace's kube-proxy rules from what a full sync to the
// given cluster state would program, chain by chain, as a unified diff. Exit 0 when the node
// matches, 1 when it differs, 2 on error.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "src/cli/live_context.h"
#include "src/cli/verbs.h"

namespace kproxy::cli {

using DiffOptions = LiveVerbOptions;

int runDiff(const DiffOptions& options, std::string& out, std::string& err);

// The rules kube-proxy owns in an iptables-save text: every KUBE-* chain (but canaries and
// kubelet's own chains) and the rules of built-in chains that jump to them. Keyed "table/chain",
// each value the chain's "-A" lines. Exposed for tests.
std::map<std::string, std::string> kubeProxyChains(const std::string& save_text);

Verb addDiffVerb(CLI::App& app);

}  // namespace kproxy::cli
