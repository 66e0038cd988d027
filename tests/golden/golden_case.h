// Discovery of golden cases (testdata/golden/<mode>/<case>, see testdata/golden/README.md) and
// rendering them the way `kproxy render` does. Shared by the golden tests and the netns test that
// loads every full payload into a real kernel.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "src/cli/render_command.h"

namespace kproxy::golden {

struct GoldenStep {
  std::string name;                 // "" for a single-step case, else the step folder name
  std::filesystem::path dir;        // holds cluster.yaml and expected.txt
  cli::RenderOptions options;       // ready to pass to runRender
  bool full_sync = false;           // whether this step's payload is a full sync
  bool has_expected = true;         // expected.txt exists (a step may have only flows.yaml: a trace case)
};

struct GoldenCase {
  std::string name;                 // folder name
  std::filesystem::path dir;
  std::string upstream;             // first line of UPSTREAM
  std::string compare = "exact";    // the compare file's first line
  std::vector<GoldenStep> steps;
  std::vector<std::string> nfacct_counters;  // from node-facts.yaml, for the kernel test
};

// All cases of a mode, sorted by name. Every step needs cluster.yaml and expected.txt, except
// that in nftables cases a step may have flows.yaml instead of expected.txt (a trace-only step). Problems in a case folder (missing files, bad args) are
// reported as a case with an empty `steps` and the message in `upstream` prefixed by "ERROR: ".
std::vector<GoldenCase> discoverGoldenCases(const std::filesystem::path& mode_dir);

std::string readFileOrEmpty(const std::filesystem::path& path);

// gtest prints a case by its name.
inline void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

}  // namespace kproxy::golden
