// kproxy: parses the verb, runs it, returns its exit code. Verbs live in src/cli/ (verbs.h).
//
// `kproxy` without a verb, or the binary called as `kube-proxy`, is `kproxy run` with kube-proxy's
// command line, so kubeadm's DaemonSet (`/usr/local/bin/kube-proxy --config=... --hostname-override=...`)
// works unchanged.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "src/cli/diff_command.h"
#include "src/cli/live_commands.h"
#include "src/cli/run_command.h"
#include "src/cli/verbs.h"
#include "src/cli/version.h"
#include "src/util/huge_pages.h"

namespace {

std::string_view baseName(const char* path) {
  std::string_view p = path;
  const size_t slash = p.rfind('/');
  return slash == std::string_view::npos ? p : p.substr(slash + 1);
}

// No verb: nothing at all, or kube-proxy flags first (kproxy's own --help and --version stay).
bool isKubeProxyInvocation(int argc, char** argv) {
  if (baseName(argv[0]) == "kube-proxy") return true;
  if (argc < 2) return true;
  const std::string_view first = argv[1];
  return first.size() > 1 && first[0] == '-' && first != "-h" && first != "--help" && first != "--version";
}

}  // namespace

int main(int argc, char** argv) {
  kproxy::reexecWithHugePageMalloc(argv);
  if (isKubeProxyInvocation(argc, argv)) {
    return kproxy::cli::runKubeProxy(std::vector<std::string>(argv + 1, argv + argc));
  }
  CLI::App app{"kproxy: a kube-proxy replacement (iptables and IPVS modes) that is easy to debug"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kproxy::cli::kVersionString);

  const std::vector<kproxy::cli::Verb> verbs = {
      kproxy::cli::addRenderVerb(app),
      kproxy::cli::addTraceVerb(app),
      kproxy::cli::addDiffVerb(app),
      kproxy::cli::addRunVerb(app),
      kproxy::cli::addSyncVerb(app),
      kproxy::cli::addCleanupVerb(app),
      kproxy::cli::addFactsVerb(app),
      kproxy::cli::addVersionVerb(app),
  };

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  for (const auto& verb : verbs) {
    if (verb.command->parsed()) return verb.run();
  }
  return 2;
}
