// `kproxy run`, `kproxy` with no verb, and the binary called as `kube-proxy`: the daemon with
// upstream kube-proxy's command line (src/config/flags.h) and runtime (spec ipvs-and-runtime.md
// §3.4): flags and configuration file with upstream's precedence, --write-config-to, --cleanup,
// --init-only, the healthz (:10256), metrics (:10249) and health-check node port servers, exit
// when the configuration file changes or this node's IPs change, and a clean stop on SIGTERM or
// SIGINT that leaves the rules in place.
//
// Objects come from the Kubernetes API or, with kproxy's --objects FILE, from manifests re-read
// when they change; both feed the same watch::ObjectEventSink.
#pragma once

#include <string>
#include <vector>

#include "src/cli/verbs.h"

namespace kproxy::cli {

// The version kproxy reports as kube-proxy (`--version`): the upstream release it follows.
inline constexpr const char* kKubernetesGitVersion = "v1.33.0+kproxy.0.1.0";

// Runs kube-proxy's command line (the arguments after the verb, or after argv[0]); returns the
// exit code: 0 on SIGTERM/SIGINT, --help, --version, --write-config-to, a successful --cleanup;
// 1 on bad flags or configuration, a changed configuration file, a changed or deleted Node, or a
// server that cannot bind with bindAddressHardFail.
int runKubeProxy(const std::vector<std::string>& args);

// Registers the `run` verb; everything after it goes to runKubeProxy unparsed.
Verb addRunVerb(CLI::App& app);

}  // namespace kproxy::cli
