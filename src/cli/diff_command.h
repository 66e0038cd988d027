// `kproxy diff`: drift of this network namespace's kube-proxy rules from what a full sync to the
// given cluster state would program, chain by chain, as a unified diff. Exit 0 when the node
// matches, 1 when it differs, 2 on error. The plan is compared with what iptables-save lists in
// process (modes/common/chain_drift.h), so diff needs only what reading the rules needs
// (CAP_NET_ADMIN; CAP_NET_RAW too on the legacy back end).
#pragma once

#include <string>
#include <vector>

#include "modes/common/chain_drift.h"
#include "modes/common/restore_text.h"
#include "src/cli/live_context.h"
#include "src/cli/verbs.h"

namespace kproxy::cli {

using DiffOptions = LiveVerbOptions;

int runDiff(const DiffOptions& options, std::string& out, std::string& err);

// The rules kube-proxy owns in a parsed iptables-save (or restore) text: every KUBE-* chain (but
// the canaries and kubelet's hint chain) and, of the built-in chains, the rules that jump to them.
std::vector<restore::ChainRules> kubeProxyChains(const restore::RestoreText& text);

Verb addDiffVerb(CLI::App& app);

}  // namespace kproxy::cli
