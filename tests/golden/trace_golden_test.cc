// One test per golden trace case under testdata/golden/trace (testdata/golden/README.md, "Trace
// cases"): every flow of flows.yaml is traced with the code path of `kproxy trace -o json`, and
// the outputs joined with ", " and the masquerade flag must equal upstream's expectation.
#include <gtest/gtest.h>
#include <simdjson.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "src/cli/trace_command.h"
#include "src/util/result.h"

namespace kproxy::golden {
namespace {
namespace fs = std::filesystem;

const fs::path kTraceDir = fs::path(KPROXY_SOURCE_DIR) / "testdata/golden/trace";
// nftables cases with a flows.yaml (in the case folder or a step folder) are trace cases too.
const fs::path kNftablesDir = fs::path(KPROXY_SOURCE_DIR) / "testdata/golden/nftables";
// So are IPVS cases with a flows.yaml; their expectations are kproxy's own (upstream's IPVS tests
// have no packet flows), derived from upstream's IPVS proxier (see each flows.yaml).
const fs::path kIpvsDir = fs::path(KPROXY_SOURCE_DIR) / "testdata/golden/ipvs";

bool hasFlows(const fs::path& dir) {
  if (fs::exists(dir / "flows.yaml")) return true;
  if (!fs::is_directory(dir / "steps")) return false;
  for (const auto& entry : fs::directory_iterator(dir / "steps")) {
    if (fs::exists(entry.path() / "flows.yaml")) return true;
  }
  return false;
}

struct Flow {
  std::string name;
  std::string src;
  std::string dst;
  std::string dport;
  std::string protocol = "tcp";
  std::string output;
  bool masq = false;
};

struct TraceStep {
  std::string name;  // "" for a single-step case
  cli::TraceOptions options;  // everything but the packet
  std::vector<Flow> flows;
};

struct TraceCase {
  std::string name;
  std::string mode;      // "iptables" (testdata/golden/trace), "nftables" or "ipvs"
  std::string upstream;  // first line of UPSTREAM; "ERROR: ..." when the folder is malformed
  std::vector<TraceStep> steps;
};

void PrintTo(const TraceCase& c, std::ostream* os) { *os << c.name; }

std::string firstLine(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

Result<std::vector<Flow>> loadFlows(const fs::path& path) {
  std::vector<Flow> flows;
  try {
    YAML::Node root = YAML::LoadFile(path.string());
    if (!root.IsSequence() || root.size() == 0) return Error(path.string() + ": expected a non-empty list of flows");
    for (const auto& item : root) {
      Flow f;
      f.name = item["name"].as<std::string>();
      f.src = item["src"].as<std::string>();
      f.dst = item["dst"].as<std::string>();
      f.dport = item["dport"].as<std::string>();
      if (item["protocol"]) f.protocol = item["protocol"].as<std::string>();
      f.output = item["output"].as<std::string>();
      f.masq = item["masq"] ? item["masq"].as<bool>() : false;
      flows.push_back(std::move(f));
    }
  } catch (const YAML::Exception& e) {
    return Error(path.string() + ": " + e.what());
  }
  return flows;
}

TraceCase loadCase(const fs::path& dir, const std::string& mode) {
  TraceCase c;
  c.name = dir.filename().string();
  c.mode = mode;
  auto error = [&](const std::string& message) {
    c.upstream = "ERROR: " + message;
    c.steps.clear();
    return c;
  };
  if (!fs::exists(dir / "UPSTREAM")) return error("no UPSTREAM file");
  c.upstream = firstLine(dir / "UPSTREAM");
  cli::TraceOptions base;
  base.output = "json";
  if (fs::exists(dir / "node-facts.yaml")) base.node_facts_path = (dir / "node-facts.yaml").string();
  if (fs::exists(dir / "rules.txt")) {
    TraceStep step{.name = "", .options = base, .flows = {}};
    step.options.rules_path = (dir / "rules.txt").string();
    auto flows = loadFlows(dir / "flows.yaml");
    if (!flows.ok()) return error(flows.error().message);
    step.flows = *flows;
    c.steps.push_back(std::move(step));
    return c;
  }
  if (!fs::exists(dir / "config.yaml")) return error("no config.yaml");
  base.config_path = (dir / "config.yaml").string();
  if (fs::exists(dir / "cluster.yaml")) {
    TraceStep step{.name = "", .options = base, .flows = {}};
    step.options.files = {(dir / "cluster.yaml").string()};
    auto flows = loadFlows(dir / "flows.yaml");
    if (!flows.ok()) return error(flows.error().message);
    step.flows = *flows;
    c.steps.push_back(std::move(step));
    return c;
  }
  if (!fs::is_directory(dir / "steps")) return error("neither rules.txt, cluster.yaml nor steps/");
  std::vector<fs::path> step_dirs;
  for (const auto& entry : fs::directory_iterator(dir / "steps")) {
    if (entry.is_directory()) step_dirs.push_back(entry.path());
  }
  std::sort(step_dirs.begin(), step_dirs.end());
  std::vector<std::string> earlier;
  for (const auto& sd : step_dirs) {
    TraceStep step{.name = sd.filename().string(), .options = base, .flows = {}};
    step.options.files = {(sd / "cluster.yaml").string()};
    step.options.from = earlier;
    if (mode != "iptables" && !fs::exists(sd / "flows.yaml")) {
      // A step that only brings the cluster to the next traced state.
      earlier.push_back((sd / "cluster.yaml").string());
      c.steps.push_back(std::move(step));
      continue;
    }
    auto flows = loadFlows(sd / "flows.yaml");
    if (!flows.ok()) return error(flows.error().message);
    step.flows = *flows;
    earlier.push_back((sd / "cluster.yaml").string());
    c.steps.push_back(std::move(step));
  }
  if (c.steps.empty()) return error("steps/ is empty");
  return c;
}

std::vector<TraceCase> discoverTraceCases(const fs::path& root, const std::string& mode) {
  std::vector<fs::path> dirs;
  if (fs::is_directory(root)) {
    for (const auto& entry : fs::directory_iterator(root)) {
      if (entry.is_directory() && (mode == "iptables" || hasFlows(entry.path()))) dirs.push_back(entry.path());
    }
  }
  std::sort(dirs.begin(), dirs.end());
  std::vector<TraceCase> cases;
  for (const auto& d : dirs) cases.push_back(loadCase(d, mode));
  return cases;
}

std::vector<TraceCase> discoverTraceCases() {
  auto cases = discoverTraceCases(kTraceDir, "iptables");
  for (auto& c : discoverTraceCases(kNftablesDir, "nftables")) cases.push_back(std::move(c));
  for (auto& c : discoverTraceCases(kIpvsDir, "ipvs")) cases.push_back(std::move(c));
  return cases;
}

std::string upstreamPrefix(const std::string& mode) { return "pkg/proxy/" + mode + "/proxier_test.go "; }

struct Traced {
  std::string output;  // outputs joined with ", "
  bool masquerade = false;
};

Result<Traced> parseTraceJson(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS) return Error("output is not JSON: " + json);
  Traced t;
  simdjson::dom::array outputs;
  if (doc["outputs"].get_array().get(outputs) != simdjson::SUCCESS) return Error("no \"outputs\" array");
  for (auto o : outputs) {
    std::string_view s;
    if (o.get_string().get(s) != simdjson::SUCCESS) return Error("an output is not a string");
    if (!t.output.empty()) t.output += ", ";
    t.output += s;
  }
  if (doc["masquerade"].get_bool().get(t.masquerade) != simdjson::SUCCESS) return Error("no \"masquerade\" bool");
  simdjson::dom::array chains;
  if (doc["chains"].get_array().get(chains) != simdjson::SUCCESS) return Error("no \"chains\" array");
  return t;
}

class TraceGoldenTest : public ::testing::TestWithParam<TraceCase> {};

TEST_P(TraceGoldenTest, ReproducesUpstreamFlows) {
  const TraceCase& c = GetParam();
  ASSERT_EQ(c.upstream.rfind("ERROR: ", 0), std::string::npos) << c.name << ": " << c.upstream;
  if (!(c.mode == "ipvs" && c.upstream == "none")) {
    ASSERT_EQ(c.upstream.rfind(upstreamPrefix(c.mode) + "Test", 0), 0u)
        << c.name << ": UPSTREAM must name the upstream test";
  }
  for (const auto& step : c.steps) {
    SCOPED_TRACE("step " + (step.name.empty() ? std::string("(single)") : step.name));
    for (const auto& flow : step.flows) {
      SCOPED_TRACE("flow \"" + flow.name + "\"");
      cli::TraceOptions options = step.options;
      options.src = flow.src;
      options.dst = flow.dst;
      options.dport = flow.dport;
      options.protocol = flow.protocol;
      std::string out, err;
      ASSERT_EQ(cli::runTrace(options, out, err), 0) << err;
      if (c.mode == "ipvs" && step.name.empty()) {
        // The same flow from the state as the node's tools print it back (trace --rules with
        // --ipsets and --ipvs): the case's expected/ files are render's output.
        const fs::path dir = kIpvsDir / c.name / "expected";
        cli::TraceOptions live;
        live.output = "json";
        live.node_facts_path = options.node_facts_path;
        live.rules_path = (dir / "iptables.txt").string();
        live.ipsets_path = (dir / "ipset.txt").string();
        live.ipvs_path = (dir / "ipvsadm.txt").string();
        live.src = flow.src;
        live.dst = flow.dst;
        live.dport = flow.dport;
        live.protocol = flow.protocol;
        std::string live_out, live_err;
        ASSERT_EQ(cli::runTrace(live, live_out, live_err), 0) << live_err;
        auto from_text = parseTraceJson(live_out);
        ASSERT_TRUE(from_text.ok()) << from_text.error().message;
        EXPECT_EQ(from_text->output, flow.output) << "traced with --rules/--ipsets/--ipvs";
        EXPECT_EQ(from_text->masquerade, flow.masq) << "traced with --rules/--ipsets/--ipvs";
      }
      auto traced = parseTraceJson(out);
      ASSERT_TRUE(traced.ok()) << traced.error().message;
      if (traced->output != flow.output || traced->masquerade != flow.masq) {
        cli::TraceOptions text = options;
        text.output = "text";
        std::string text_out, text_err;
        (void)cli::runTrace(text, text_out, text_err);
        ADD_FAILURE() << "packet " << flow.protocol << " " << flow.src << " -> " << flow.dst << ":" << flow.dport
                      << "\n  output: expected \"" << flow.output << "\", got \"" << traced->output << "\""
                      << "\n  masq:   expected " << flow.masq << ", got " << traced->masquerade << "\n"
                      << text_out;
      }
    }
  }
}

std::string caseName(const ::testing::TestParamInfo<TraceCase>& info) {
  std::string name = (info.param.mode == "iptables" ? "" : info.param.mode + "_") + info.param.name;
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Trace, TraceGoldenTest, ::testing::ValuesIn(discoverTraceCases()), caseName);

// Every upstream test with packet-flow expectations has its cases (issue 7, item 3).
TEST(TraceGoldenCases, CoverTheUpstreamFlowTests) {
  std::set<std::string> tests;
  size_t flows = 0;
  for (const auto& c : discoverTraceCases(kTraceDir, "iptables")) {
    std::string test = c.upstream.substr(upstreamPrefix("iptables").size());
    tests.insert(test.substr(0, test.find('/')));
    for (const auto& s : c.steps) flows += s.flows.size();
  }
  for (const char* name :
       {"TestTracePacket", "TestNodePorts", "TestNoEndpointsReject", "TestClusterIPGeneral", "TestLoadBalancer",
        "TestHealthCheckNodePort", "TestExternalTrafficPolicyLocal", "TestExternalTrafficPolicyCluster",
        "TestInternalTrafficPolicy", "TestTerminatingEndpointsTrafficPolicyLocal",
        "TestTerminatingEndpointsTrafficPolicyCluster", "TestInternalExternalMasquerade"}) {
    EXPECT_EQ(tests.count(name), 1u) << name;
  }
  EXPECT_GE(flows, 240u);
}

// Every test of upstream's nftables proxier_test.go with packet-flow expectations has its cases.
TEST(TraceGoldenCases, CoverTheUpstreamNftablesFlowTests) {
  std::set<std::string> tests;
  size_t flows = 0;
  for (const auto& c : discoverTraceCases(kNftablesDir, "nftables")) {
    if (c.upstream.rfind(upstreamPrefix("nftables"), 0) != 0) continue;
    std::string test = c.upstream.substr(upstreamPrefix("nftables").size());
    tests.insert(test.substr(0, test.find('/')));
    for (const auto& s : c.steps) flows += s.flows.size();
  }
  for (const char* name :
       {"TestNoEndpointsReject", "TestClusterIPGeneral", "TestLoadBalancer", "TestNodePorts",
        "TestExternalTrafficPolicyLocal", "TestExternalTrafficPolicyCluster", "TestInternalTrafficPolicy",
        "TestTerminatingEndpointsTrafficPolicyLocal", "TestTerminatingEndpointsTrafficPolicyCluster",
        "TestInternalExternalMasquerade"}) {
    EXPECT_EQ(tests.count(name), 1u) << name;
  }
  EXPECT_GE(flows, 150u);
}

// IPVS mode's trace cases (issue 12 item 4): each situation has a case with flows.
TEST(TraceGoldenCases, CoverTheIpvsSituations) {
  std::set<std::string> names;
  for (const auto& c : discoverTraceCases(kIpvsDir, "ipvs")) names.insert(c.name);
  for (const char* name :
       {"upstream-ipv4-proxier-cluster-ips", "upstream-node-port-ipv4-tcp-two-endpoints", "upstream-only-local-node-ports",
        "upstream-load-balancer-source-ranges", "upstream-ipv4-proxier-cluster-ip-no-endpoints",
        "upstream-node-port-ipv4-no-endpoints", "kproxy-session-affinity-trace"}) {
    EXPECT_EQ(names.count(name), 1u) << name << " has no flows.yaml";
  }
}

}  // namespace
}  // namespace kproxy::golden
