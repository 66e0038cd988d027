// One test per golden case under testdata/golden/ipvs (testdata/golden/README.md): render it like
// `kproxy render --proxy-mode ipvs --output-dir DIR` and compare the four files with
// expected/{ipvsadm.txt,ipset.txt,kube-ipvs0.txt,iptables.txt}. UPDATE_GOLDEN=1 rewrites them from
// the output; read the diff against the spec before committing.
//
// Upstream's IPVS tests assert only parts of the state (a virtual-server count, one set's members,
// the jump targets of a chain). A case's optional `upstream-checks` file restates those assertions
// so that they are checked on every run, independently of the full expected files:
//   virtual-servers: N                     number of virtual servers
// (lists are separated by ", ")
//   real-servers VIP:PORT/PROTO: RS, ...   exact destinations of one virtual server ("(none)")
//   no-virtual-server VIP:PORT/PROTO       that virtual server does not exist
//   persistence: SECONDS                   every virtual server is persistent with that timeout
//   set NAME: MEMBER, ...                  exact members of one set ("(none)")
//   chain NAME: TARGET [SET], ...          the rules of chain NAME (nat rules, then filter rules
//                                          of a chain of that name), as jump target and the
//                                          --match-set name if any (upstream checkIptables)
//   first-rule CHAIN: TEXT                 the first "-A CHAIN" rule is "-A CHAIN TEXT"
//   iptables-line: TEXT                    iptables.txt has this line
//   kube-ipvs0: ADDR, ...                  exact addresses bound on kube-ipvs0 ("(none)")
// Multi-step cases (steps/NN-name/ with cluster.yaml, expected/ and optional upstream-checks)
// are rendered as `--from` every earlier step, like the iptables cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "modes/common/restore_text.h"
#include "src/cli/render_command.h"
#include "tests/golden/golden_case.h"
#include "src/util/text_diff.h"

namespace kproxy::golden {
namespace {
namespace fs = std::filesystem;

const fs::path kIpvsDir = fs::path(KPROXY_SOURCE_DIR) / "testdata/golden/ipvs";
const char* const kOutputFiles[] = {"ipvsadm.txt", "ipset.txt", "kube-ipvs0.txt", "iptables.txt"};

struct IpvsStep {
  std::string name;  // "" for a single-step case
  fs::path dir;      // holds cluster.yaml, expected/, upstream-checks
  cli::RenderOptions options;
};

struct IpvsCase {
  std::string name;
  fs::path dir;
  std::string upstream;  // first line of UPSTREAM, or "ERROR: ..."
  std::vector<IpvsStep> steps;
};

void PrintTo(const IpvsCase& c, std::ostream* os) { *os << c.name; }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t"));
  s.erase(s.find_last_not_of(" \t") + 1);
  return s;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::string t = trim(text);
  if (t == "(none)" || t.empty()) return out;
  // Items are separated by ", " (set members contain bare commas).
  size_t pos = 0;
  while (true) {
    size_t sep = t.find(", ", pos);
    out.push_back(trim(t.substr(pos, sep == std::string::npos ? std::string::npos : sep - pos)));
    if (sep == std::string::npos) break;
    pos = sep + 2;
  }
  return out;
}

std::string joinList(const std::vector<std::string>& items) {
  if (items.empty()) return "(none)";
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

// Applies render arguments from an `args` file (one per line). Returns "" or a problem.
std::string applyArgs(const fs::path& file, cli::RenderOptions& options) {
  std::vector<std::string> args;
  for (auto& l : lines(readFileOrEmpty(file))) {
    if (!l.empty() && l[0] != '#') args.push_back(l);
  }
  for (size_t i = 0; i < args.size(); ++i) {
    auto value = [&](std::string& into) {
      if (i + 1 >= args.size()) return false;
      into = args[++i];
      return true;
    };
    if (args[i] == "--ip-family") {
      if (!value(options.ip_family)) return "--ip-family needs a value";
    } else if (args[i] == "--hostname-override") {
      if (!value(options.hostname_override)) return "--hostname-override needs a value";
    } else {
      return "unsupported argument in args file: " + args[i];
    }
  }
  return "";
}

std::vector<IpvsCase> discoverIpvsCases() {
  std::vector<IpvsCase> cases;
  if (!fs::is_directory(kIpvsDir)) return cases;
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(kIpvsDir)) {
    if (entry.is_directory()) dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    IpvsCase c{.name = dir.filename().string(), .dir = dir};
    auto problem = [&]() -> std::string {
      if (!fs::exists(dir / "UPSTREAM")) return "missing UPSTREAM";
      const auto upstream_lines = lines(readFileOrEmpty(dir / "UPSTREAM"));
      c.upstream = upstream_lines.empty() ? "" : upstream_lines.front();
      if (!fs::exists(dir / "config.yaml")) return "missing config.yaml";
      cli::RenderOptions base;
      base.config_path = (dir / "config.yaml").string();
      base.proxy_mode = "ipvs";
      if (fs::exists(dir / "node-facts.yaml")) base.node_facts_path = (dir / "node-facts.yaml").string();
      if (auto p = applyArgs(dir / "args", base); !p.empty()) return p;
      std::vector<fs::path> step_dirs;
      if (fs::is_directory(dir / "steps")) {
        for (const auto& entry : fs::directory_iterator(dir / "steps")) {
          if (entry.is_directory()) step_dirs.push_back(entry.path());
        }
        std::sort(step_dirs.begin(), step_dirs.end());
      } else {
        step_dirs.push_back(dir);
      }
      std::vector<std::string> earlier;
      for (const auto& step_dir : step_dirs) {
        IpvsStep step{.name = step_dir == dir ? "" : step_dir.filename().string(), .dir = step_dir, .options = base};
        if (!fs::exists(step_dir / "cluster.yaml")) return "missing cluster.yaml in " + step_dir.string();
        if (!fs::is_directory(step_dir / "expected")) return "missing expected/ in " + step_dir.string();
        if (auto p = applyArgs(step_dir / "args", step.options); !p.empty()) return p;
        step.options.files = {(step_dir / "cluster.yaml").string()};
        step.options.from = earlier;
        earlier.push_back(step.options.files[0]);
        c.steps.push_back(std::move(step));
      }
      return "";
    }();
    if (!problem.empty()) {
      c.upstream = "ERROR: " + problem;
      c.steps.clear();
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

// ---- the rendered output, parsed back for the upstream checks ---------------------------------

struct Rendered {
  std::map<std::string, std::string> files;  // file name -> text
  // "VIP:PORT/PROTO" -> destinations "RIP:RPORT", in file order; and the service lines.
  std::map<std::string, std::vector<std::string>> real_servers;
  std::map<std::string, std::string> service_lines;
  std::map<std::string, std::vector<std::string>> set_members;
  std::vector<std::string> bound;
};

// "-t 10.20.30.41:80" -> "10.20.30.41:80/TCP"; IPv6 "[2001::1]:80" -> "2001::1:80/TCP" is kept
// bracketed ("[2001::1]:80/TCP"), as upstream's VirtualServer.String() writes it.
std::string serviceKey(const std::string& flag, const std::string& addr) {
  std::string proto = flag == "-t" ? "TCP" : flag == "-u" ? "UDP" : "SCTP";
  return addr + "/" + proto;
}

Rendered parseRendered(const fs::path& dir) {
  Rendered r;
  for (const char* name : kOutputFiles) r.files[name] = readFileOrEmpty(dir / name);
  for (const auto& line : lines(r.files["ipvsadm.txt"])) {
    std::istringstream in(line);
    std::string cmd, flag, addr;
    in >> cmd >> flag >> addr;
    const std::string key = serviceKey(flag, addr);
    if (cmd == "-A") {
      r.service_lines[key] = line;
      r.real_servers[key];
    } else if (cmd == "-a") {
      std::string r_flag, rs;
      in >> r_flag >> rs;
      r.real_servers[key].push_back(rs);
    }
  }
  for (const auto& line : lines(r.files["ipset.txt"])) {
    std::istringstream in(line);
    std::string cmd, name, member;
    in >> cmd >> name;
    if (cmd == "create") r.set_members[name];
    if (cmd == "add") {
      in >> member;
      r.set_members[name].push_back(member);
    }
  }
  for (const auto& line : lines(r.files["kube-ipvs0.txt"])) {
    std::istringstream in(line);
    std::string ip, addr_word, add, prefix;
    in >> ip >> addr_word >> add >> prefix;
    if (addr_word == "addr" && add == "add") r.bound.push_back(prefix.substr(0, prefix.find('/')));
  }
  return r;
}

// upstream getRules(chain): nat rules, then filter rules, of chains with that name; each as
// "TARGET" or "TARGET SET".
std::vector<std::string> chainTargets(const std::string& payload, const std::string& chain) {
  std::vector<std::string> out;
  auto parsed = restore::parseRestoreText(payload);
  if (!parsed.ok()) return {"(unparsable: " + parsed.error().message + ")"};
  for (const char* table : {"nat", "filter"}) {
    const restore::Table* t = parsed->find(table);
    if (t == nullptr) continue;
    const restore::Chain* c = t->find(chain);
    if (c == nullptr) continue;
    for (const auto& rule : c->rules) {
      auto words = restore::splitRuleWords(rule);
      std::string target, set;
      for (size_t i = 0; i + 1 < words.size(); ++i) {
        if (words[i] == "-j") target = words[i + 1];
        if (words[i] == "--match-set") set = words[i + 1];
      }
      out.push_back(set.empty() ? target : target + " " + set);
    }
  }
  return out;
}

std::vector<std::string> runUpstreamChecks(const std::string& checks, const Rendered& r) {
  std::vector<std::string> failures;
  for (const auto& raw : lines(checks)) {
    const std::string line = trim(raw);
    if (line.empty() || line[0] == '#') continue;
    auto colon = line.find(": ");
    const std::string head = line.substr(0, colon);
    const std::string arg = colon == std::string::npos ? "" : line.substr(colon + 2);
    auto expect_list = [&](const std::string& what, std::vector<std::string> actual, bool sorted) {
      std::vector<std::string> expected = splitList(arg);
      if (sorted) {
        std::sort(expected.begin(), expected.end());
        std::sort(actual.begin(), actual.end());
      }
      if (expected != actual) failures.push_back(what + ": expected " + joinList(expected) + ", got " + joinList(actual));
    };
    if (head == "virtual-servers") {
      if (std::to_string(r.service_lines.size()) != trim(arg)) {
        failures.push_back("virtual-servers: expected " + arg + ", got " + std::to_string(r.service_lines.size()));
      }
    } else if (head.rfind("real-servers ", 0) == 0) {
      const std::string key = head.substr(13);
      auto it = r.real_servers.find(key);
      if (it == r.real_servers.end()) {
        failures.push_back("no virtual server " + key);
      } else {
        expect_list("real servers of " + key, it->second, true);
      }
    } else if (head.rfind("no-virtual-server ", 0) == 0) {
      if (r.service_lines.count(head.substr(18)) != 0) failures.push_back("unexpected virtual server " + head.substr(18));
    } else if (head == "persistence") {
      for (const auto& [key, svc] : r.service_lines) {
        if (svc.find(" -p " + trim(arg)) == std::string::npos) {
          failures.push_back("virtual server " + key + " is not persistent for " + arg + "s: " + svc);
        }
      }
    } else if (head.rfind("set ", 0) == 0) {
      const std::string name = head.substr(4);
      auto it = r.set_members.find(name);
      if (it == r.set_members.end()) {
        failures.push_back("no set " + name);
      } else {
        expect_list("members of " + name, it->second, true);
      }
    } else if (head.rfind("chain ", 0) == 0) {
      expect_list("rules of " + head.substr(6), chainTargets(r.files.at("iptables.txt"), head.substr(6)), false);
    } else if (head.rfind("first-rule ", 0) == 0) {
      const std::string prefix = "-A " + head.substr(11) + " ";
      std::string first;
      for (const auto& l : lines(r.files.at("iptables.txt"))) {
        if (l.rfind(prefix, 0) == 0) {
          first = l;
          break;
        }
      }
      if (first != prefix + arg) failures.push_back("first rule of " + head.substr(11) + ": expected \"" + prefix + arg +
                                                    "\", got \"" + first + "\"");
    } else if (head == "iptables-line") {
      const auto all = lines(r.files.at("iptables.txt"));
      if (std::find(all.begin(), all.end(), arg) == all.end()) failures.push_back("no iptables line \"" + arg + "\"");
    } else if (head == "kube-ipvs0") {
      expect_list("kube-ipvs0 addresses", r.bound, true);
    } else {
      failures.push_back("unknown check: " + line);
    }
  }
  return failures;
}

// Every -j target is a built-in target or a chain of the same table, and every --match-set names
// a set of ipset.txt.
std::vector<std::string> consistencyProblems(const Rendered& r) {
  std::vector<std::string> problems;
  auto parsed = restore::parseRestoreText(r.files.at("iptables.txt"));
  if (!parsed.ok()) return {"iptables.txt: " + parsed.error().message};
  static const std::set<std::string> kTargets = {"ACCEPT", "DROP", "REJECT", "RETURN", "MARK", "MASQUERADE"};
  for (const auto& table : parsed->tables) {
    for (const auto& chain : table.chains) {
      for (const auto& rule : chain.rules) {
        auto words = restore::splitRuleWords(rule);
        for (size_t i = 0; i + 1 < words.size(); ++i) {
          if (words[i] == "-j" && kTargets.count(words[i + 1]) == 0 && table.find(words[i + 1]) == nullptr) {
            problems.push_back(table.name + ": jump to undeclared chain: " + rule);
          }
          if (words[i] == "--match-set" && r.set_members.count(words[i + 1]) == 0) {
            problems.push_back(table.name + ": unknown set: " + rule);
          }
        }
      }
    }
  }
  return problems;
}

class IpvsGoldenTest : public ::testing::TestWithParam<IpvsCase> {};

TEST_P(IpvsGoldenTest, RendersAsExpected) {
  const IpvsCase& c = GetParam();
  ASSERT_EQ(c.upstream.rfind("ERROR: ", 0), std::string::npos) << c.name << ": " << c.upstream;
  ASSERT_FALSE(c.upstream.empty()) << c.name << ": UPSTREAM must name the upstream test or say none";
  const char* update_env = std::getenv("UPDATE_GOLDEN");
  const bool update = update_env != nullptr && std::string(update_env) == "1";

  for (const auto& step : c.steps) {
    SCOPED_TRACE(c.name + (step.name.empty() ? "" : "/" + step.name));
    const fs::path out_dir = fs::path(::testing::TempDir()) / ("kproxy-ipvs-golden-" + c.name + "-" + step.name);
    fs::remove_all(out_dir);
    cli::RenderOptions options = step.options;
    options.output_dir = out_dir.string();
    std::string out, err;
    ASSERT_EQ(cli::runRender(options, out, err), 0) << "render failed:\n" << err;
    EXPECT_TRUE(out.empty()) << "--output-dir wrote to stdout:\n" << out;

    const Rendered rendered = parseRendered(out_dir);
    auto problems = consistencyProblems(rendered);
    EXPECT_TRUE(problems.empty()) << ::testing::PrintToString(problems);

    for (const char* name : kOutputFiles) {
      const fs::path expected_file = step.dir / "expected" / name;
      const std::string expected = readFileOrEmpty(expected_file);
      const std::string& actual = rendered.files.at(name);
      if (update && (actual != expected || !fs::exists(expected_file))) {
        std::ofstream(expected_file, std::ios::binary) << actual;
        continue;
      }
      EXPECT_TRUE(fs::exists(expected_file)) << "missing " << expected_file;
      EXPECT_EQ(actual, expected) << unifiedDiff(expected, actual, expected_file.string(), "render output");
    }

    if (fs::exists(step.dir / "upstream-checks")) {
      auto failures = runUpstreamChecks(readFileOrEmpty(step.dir / "upstream-checks"), rendered);
      EXPECT_TRUE(failures.empty()) << "upstream assertions failed:\n"
                                    << ::testing::PrintToString(failures) << "\nipvsadm.txt:\n"
                                    << rendered.files.at("ipvsadm.txt");
    }
    fs::remove_all(out_dir);
  }
}

std::string caseName(const ::testing::TestParamInfo<IpvsCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Ipvs, IpvsGoldenTest, ::testing::ValuesIn(discoverIpvsCases()), caseName);

TEST(GoldenCases, AtLeastTwentyFiveIpvsCases) { EXPECT_GE(discoverIpvsCases().size(), 25u); }

// Without --output-dir the four files go to stdout in order, each after exactly one "#" line.
// `mode: ipvs` in the configuration selects IPVS mode; --proxy-mode wins over it.
TEST(IpvsRender, StdoutSectionsAndModeSelection) {
  const fs::path dir = kIpvsDir / "upstream-load-balancer-source-ranges";
  cli::RenderOptions options;
  options.files = {(dir / "cluster.yaml").string()};
  options.config_path = (dir / "config.yaml").string();  // says mode: ipvs
  options.node_facts_path = (dir / "node-facts.yaml").string();
  std::string out, err;
  ASSERT_EQ(cli::runRender(options, out, err), 0) << err;

  std::vector<std::string> headers;
  std::vector<std::string> sections;
  for (const auto& line : lines(out)) {
    if (!line.empty() && line[0] == '#') {
      headers.push_back(line);
      sections.emplace_back();
      continue;
    }
    ASSERT_FALSE(sections.empty()) << "output before the first section header: " << line;
    sections.back() += line + "\n";
  }
  ASSERT_EQ(sections.size(), 4u) << out;
  EXPECT_EQ(headers[0].rfind("# ipvsadm", 0), 0u);
  EXPECT_EQ(headers[1].rfind("# ipset", 0), 0u);
  EXPECT_EQ(headers[2].rfind("# kube-ipvs0", 0), 0u);
  EXPECT_EQ(headers[3].rfind("# iptables-restore", 0), 0u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(sections[i], readFileOrEmpty(dir / "expected" / kOutputFiles[i])) << kOutputFiles[i];
  }

  options.proxy_mode = "iptables";
  ASSERT_EQ(cli::runRender(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("*filter\n", 0), 0u) << "--proxy-mode iptables must win over mode: ipvs";
}

}  // namespace
}  // namespace kproxy::golden
