// The command-line verbs. Each registers its CLI11 subcommand and returns the function that runs
// it once the command line is parsed; main.cc only lists them.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace kproxy::cli {

struct Verb {
  CLI::App* command = nullptr;
  std::function<int()> run;  // returns the process exit code
};

Verb addRenderVerb(CLI::App& app);
Verb addTraceVerb(CLI::App& app);  // trace_command.cc
Verb addVersionVerb(CLI::App& app);

// Writes bytes to stdout, all of them.
void writeStdout(std::string_view bytes);

}  // namespace kproxy::cli
