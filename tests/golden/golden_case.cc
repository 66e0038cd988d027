#include "tests/golden/golden_case.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

namespace kproxy::golden {
namespace fs = std::filesystem;
namespace {

std::vector<std::string> readArgs(const fs::path& file) {
  std::vector<std::string> args;
  std::istringstream in(readFileOrEmpty(file));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    args.push_back(line);
  }
  return args;
}

// Applies render arguments from an `args` file. Returns "" or a problem.
std::string applyArgs(const std::vector<std::string>& args, cli::RenderOptions& options, bool& full_sync) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& into) -> bool {
      if (i + 1 >= args.size()) return false;
      into = args[++i];
      return true;
    };
    if (a == "--full-sync") {
      options.full_sync = true;
      full_sync = true;
    } else if (a == "--ip-family") {
      if (!value(options.ip_family)) return "--ip-family needs a value";
    } else if (a == "--hostname-override") {
      if (!value(options.hostname_override)) return "--hostname-override needs a value";
    } else if (a == "--proxy-mode") {
      if (!value(options.proxy_mode)) return "--proxy-mode needs a value";
    } else {
      return "unsupported argument in args file: " + a;
    }
  }
  return "";
}

std::string firstLine(const std::string& text) {
  auto nl = text.find('\n');
  std::string line = text.substr(0, nl);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

std::vector<std::string> nfacctCountersOf(const fs::path& facts_file) {
  // A light scan of "nfacctCounters:" list items; the real decoder is tested elsewhere.
  std::vector<std::string> out;
  std::istringstream in(readFileOrEmpty(facts_file));
  std::string line;
  bool in_list = false;
  while (std::getline(in, line)) {
    if (line.rfind("nfacctCounters:", 0) == 0) {
      in_list = true;
      auto rest = line.substr(15);
      auto open = rest.find('[');
      if (open != std::string::npos) {
        std::string items = rest.substr(open + 1, rest.find(']') - open - 1);
        std::istringstream parts(items);
        std::string item;
        while (std::getline(parts, item, ',')) {
          item.erase(0, item.find_first_not_of(" \"'"));
          item.erase(item.find_last_not_of(" \"'") + 1);
          if (!item.empty()) out.push_back(item);
        }
        in_list = false;
      }
      continue;
    }
    if (in_list) {
      auto dash = line.find("- ");
      if (dash != std::string::npos && line.find_first_not_of(' ') == dash) {
        std::string item = line.substr(dash + 2);
        item.erase(0, item.find_first_not_of(" \"'"));
        item.erase(item.find_last_not_of(" \"'") + 1);
        out.push_back(item);
      } else {
        in_list = false;
      }
    }
  }
  return out;
}

}  // namespace

std::string readFileOrEmpty(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<GoldenCase> discoverGoldenCases(const fs::path& mode_dir) {
  std::vector<GoldenCase> cases;
  if (!fs::is_directory(mode_dir)) return cases;
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(mode_dir)) {
    if (entry.is_directory()) dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    GoldenCase c;
    c.name = dir.filename().string();
    c.dir = dir;
    auto fail = [&](const std::string& msg) {
      c.upstream = "ERROR: " + msg;
      c.steps.clear();
      cases.push_back(c);
    };
    if (!fs::exists(dir / "UPSTREAM")) {
      fail("missing UPSTREAM");
      continue;
    }
    c.upstream = firstLine(readFileOrEmpty(dir / "UPSTREAM"));
    if (fs::exists(dir / "compare")) c.compare = firstLine(readFileOrEmpty(dir / "compare"));
    if (!fs::exists(dir / "config.yaml")) {
      fail("missing config.yaml");
      continue;
    }
    cli::RenderOptions base;
    base.config_path = (dir / "config.yaml").string();
    if (fs::exists(dir / "node-facts.yaml")) {
      base.node_facts_path = (dir / "node-facts.yaml").string();
      c.nfacct_counters = nfacctCountersOf(dir / "node-facts.yaml");
    }
    bool case_full = false;
    if (auto problem = applyArgs(readArgs(dir / "args"), base, case_full); !problem.empty()) {
      fail(problem);
      continue;
    }

    std::vector<fs::path> step_dirs;
    if (fs::is_directory(dir / "steps")) {
      for (const auto& entry : fs::directory_iterator(dir / "steps")) {
        if (entry.is_directory()) step_dirs.push_back(entry.path());
      }
      std::sort(step_dirs.begin(), step_dirs.end());
    } else {
      step_dirs.push_back(dir);
    }
    std::string problem;
    std::vector<std::string> earlier;
    for (size_t i = 0; i < step_dirs.size(); ++i) {
      GoldenStep step;
      step.name = step_dirs[i] == dir ? "" : step_dirs[i].filename().string();
      step.dir = step_dirs[i];
      step.options = base;
      step.options.files = {(step_dirs[i] / "cluster.yaml").string()};
      step.options.from = earlier;
      step.full_sync = i == 0 || case_full;
      problem = applyArgs(readArgs(step_dirs[i] / "args"), step.options, step.full_sync);
      if (!problem.empty()) break;
      step.has_expected = fs::exists(step_dirs[i] / "expected.txt");
      const bool flows_instead = !step.has_expected && fs::exists(step_dirs[i] / "flows.yaml") &&
                                 mode_dir.filename() == "nftables";
      if (!fs::exists(step_dirs[i] / "cluster.yaml") || (!step.has_expected && !flows_instead)) {
        problem = "missing cluster.yaml or expected.txt in " + step_dirs[i].string();
        break;
      }
      earlier.push_back(step.options.files[0]);
      c.steps.push_back(std::move(step));
    }
    if (!problem.empty()) {
      fail(problem);
      continue;
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace kproxy::golden
