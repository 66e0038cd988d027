// kproxy: parses the verb, runs it, returns its exit code. Verbs live in src/cli/ (verbs.h).
#include <CLI/CLI.hpp>
#include <iostream>
#include <vector>

#include "src/cli/live_commands.h"
#include "src/cli/run_command.h"
#include "src/cli/verbs.h"
#include "src/cli/version.h"
#include "src/util/huge_pages.h"

int main(int argc, char** argv) {
  kproxy::reexecWithHugePageMalloc(argv);
  CLI::App app{"kproxy: a kube-proxy replacement (iptables and IPVS modes) that is easy to debug"};
  app.require_subcommand(1);
  app.set_version_flag("--version", kproxy::cli::kVersionString);

  const std::vector<kproxy::cli::Verb> verbs = {
      kproxy::cli::addRenderVerb(app),
      kproxy::cli::addTraceVerb(app),
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
