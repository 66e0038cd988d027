// `kproxy diff`: drift of this network namespace from what a full sync to the given cluster state
// would program, as unified diffs: in iptables mode the KUBE-* chains; in IPVS mode the virtual
// and real servers, ip set members, kube-ipvs0 addresses and IPVS mode's chains (the mode's
// registry entry, live_drift). Exit 0 when the node matches, 1 when it differs, 2 on error. Plan
// and node are compared in process (no scratch namespace), so diff needs only what reading the
// node needs (CAP_NET_ADMIN; CAP_NET_RAW too on the legacy iptables back end).
#pragma once

#include <string>
#include <vector>

#include "src/cli/live_context.h"
#include "src/cli/verbs.h"

namespace kproxy::cli {

using DiffOptions = LiveVerbOptions;

int runDiff(const DiffOptions& options, std::string& out, std::string& err);

Verb addDiffVerb(CLI::App& app);

}  // namespace kproxy::cli
