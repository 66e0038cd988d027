// `kproxy trace` end to end (in-process): the JSON and text formats, --rules from a file (the
// planned payload, an iptables-save dump with counters), several syncs with --from, and bad
// input (exit 2, nothing on stdout, one clear line per problem).
#include "src/cli/trace_command.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "src/cli/render_command.h"

namespace kproxy::cli {
namespace {
namespace fs = std::filesystem;

class TraceCommandTest : public ::testing::Test {
 protected:
  // Messages name files as given on the command line, relative to the repository root.
  void SetUp() override {
    ASSERT_EQ(chdir(KPROXY_SOURCE_DIR), 0);
    dir_ = fs::temp_directory_path() / ("kproxy-trace-test-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }

  // The example cluster: shop/web (NodePort 30080, two endpoints), shop/checkout (LB, eTP Local).
  static TraceOptions example() {
    return TraceOptions{.files = {"testdata/examples/cluster.yaml"},
                        .config_path = "testdata/examples/config.yaml",
                        .src = "10.244.0.5",
                        .dst = "10.96.12.34",
                        .dport = "80"};
  }

  fs::path dir_;
};

TEST_F(TraceCommandTest, JsonStartsWithTheThreeKeysAndParses) {
  TraceOptions options = example();
  options.output = "json";
  std::string out, err;
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_EQ(err, "");
  EXPECT_EQ(out.rfind("{\"outputs\": [\"10.244.0.11:8080\", \"10.244.1.12:8080\"], \"masquerade\": false, \"chains\": "
                      "[\"nat/PREROUTING\", \"nat/KUBE-SERVICES\", \"nat/KUBE-SVC-",
                      0),
            0u)
      << out;
  EXPECT_EQ(out.back(), '\n');

  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(out).get(doc), simdjson::SUCCESS) << out;
  simdjson::dom::array probabilities;
  ASSERT_EQ(doc["probabilities"].get_array().get(probabilities), simdjson::SUCCESS);
  ASSERT_EQ(probabilities.size(), 2u);
  for (auto p : probabilities) {
    double v = 0;
    ASSERT_EQ(p["probability"].get_double().get(v), simdjson::SUCCESS);
    EXPECT_DOUBLE_EQ(v, 0.5);
  }
  std::string_view verdict;
  ASSERT_EQ(doc["verdict"].get_string().get(verdict), simdjson::SUCCESS);
  EXPECT_EQ(verdict, "");
  simdjson::dom::array chains;
  ASSERT_EQ(doc["chains"].get_array().get(chains), simdjson::SUCCESS);
  std::vector<std::string> names;
  for (auto c : chains) names.emplace_back(std::string_view(c));
  ASSERT_EQ(names.size(), 9u);
  EXPECT_EQ(names.back(), "filter/KUBE-PROXY-FIREWALL");
}

TEST_F(TraceCommandTest, TextExplainsChainsEndpointsMasqueradeAndVerdict) {
  std::string out, err;
  ASSERT_EQ(runTrace(example(), out, err), 0) << err;
  EXPECT_EQ(out.rfind("packet: tcp 10.244.0.5 -> 10.96.12.34:80\n", 0), 0u) << out;
  EXPECT_NE(out.find("\n  nat PREROUTING: \"kubernetes service portals\" (implied) -> KUBE-SERVICES\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\n    nat KUBE-SERVICES: \"shop/web:http cluster IP\" -> KUBE-SVC-"), std::string::npos) << out;
  EXPECT_NE(out.find("\"shop/web:http -> 10.244.0.11:8080\" -> KUBE-SEP-"), std::string::npos) << out;
  EXPECT_NE(out.find("(probability 0.5)"), std::string::npos) << out;
  EXPECT_NE(out.find("\n  filter KUBE-SERVICES: no rule matched\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\n  10.244.0.11:8080  50.00%\n  10.244.1.12:8080  50.00%\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\nmasquerade: no "), std::string::npos) << out;
  EXPECT_NE(out.find("\nverdict: DNAT to one of 2 endpoints\n"), std::string::npos) << out;

  // From outside to the NodePort: masqueraded, and the text says by which rule.
  TraceOptions options = example();
  options.src = "203.0.113.9";
  options.dst = "192.168.49.2";
  options.dport = "30080";
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_NE(out.find("\nmasquerade: yes "), std::string::npos) << out;
  EXPECT_NE(out.find("\"masquerade traffic for shop/web:http external destinations\": -A KUBE-EXT-"),
            std::string::npos)
      << out;
}

TEST_F(TraceCommandTest, VerdictNamesTheDecidingRule) {
  TraceOptions options{.files = {"testdata/golden/trace/upstream-no-endpoints-reject/cluster.yaml"},
                       .config_path = "testdata/golden/trace/upstream-no-endpoints-reject/config.yaml",
                       .node_facts_path = "testdata/golden/trace/upstream-no-endpoints-reject/node-facts.yaml",
                       .src = "10.0.0.2",
                       .dst = "172.30.0.41",
                       .dport = "80"};
  std::string out, err;
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_NE(out.find("\nverdict: REJECT by filter KUBE-SERVICES \"ns1/svc1:p80 has no endpoints\"\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nendpoints: none\n"), std::string::npos) << out;
  options.output = "json";
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("{\"outputs\": [\"REJECT\"], \"masquerade\": false, ", 0), 0u) << out;
  EXPECT_NE(out.find("\"verdict\": \"REJECT\""), std::string::npos) << out;
}

TEST_F(TraceCommandTest, RulesFromAFileTraceLikeThePlan) {
  // The payload render prints, traced as the kernel state, gives the same answer as -f.
  RenderOptions render{.files = {"testdata/examples/cluster.yaml"}, .config_path = "testdata/examples/config.yaml"};
  std::string payload, err;
  ASSERT_EQ(runRender(render, payload, err), 0) << err;
  const std::string facts = write("facts.yaml", "localAddresses:\n- 127.0.0.1/8\n- 192.168.49.2/24\n");

  for (const auto& [src, dst, port] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"10.244.0.5", "10.96.12.34", "80"},
           {"203.0.113.9", "192.168.49.2", "30080"},
           {"203.0.113.9", "198.51.100.7", "443"},
           {"198.51.100.99", "198.51.100.7", "443"},
           {"10.244.0.5", "10.96.0.10", "53"}}) {
    SCOPED_TRACE(src + " -> " + dst + ":" + port);
    TraceOptions from_plan = example();
    from_plan.node_facts_path = facts;
    from_plan.src = src;
    from_plan.dst = dst;
    from_plan.dport = port;
    from_plan.output = "json";
    TraceOptions from_rules{.node_facts_path = facts,
                            .rules_path = write("rules.txt", payload),
                            .src = src,
                            .dst = dst,
                            .dport = port,
                            .output = "json"};
    std::string a, b, err_a, err_b;
    ASSERT_EQ(runTrace(from_plan, a, err_a), 0) << err_a;
    ASSERT_EQ(runTrace(from_rules, b, err_b), 0) << err_b;
    EXPECT_EQ(a, b);
  }
}

TEST_F(TraceCommandTest, RulesFromAnIptablesSaveDumpWithCounters) {
  // iptables-save -c of a node: other tables, built-in chains with policies and counters,
  // per-rule counters, nf_tables' order of matches, /32 addresses.
  const std::string dump =
      "# Generated by iptables-nft-save v1.8.9 (nf_tables) on Mon Jan  1 00:00:00 2024\n"
      "*mangle\n:PREROUTING ACCEPT [100:6000]\n:KUBE-IPTABLES-HINT - [0:0]\nCOMMIT\n"
      "*filter\n:INPUT ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:KUBE-NODEPORTS - [0:0]\n"
      "[0:0] -A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
      "[3:180] -A KUBE-SERVICES -d 172.30.0.46/32 -p tcp -m comment --comment \"ns6/svc6:p80 has no endpoints\" -m tcp "
      "--dport 80 -j REJECT --reject-with icmp-port-unreachable\n"
      "COMMIT\n"
      "*nat\n:PREROUTING ACCEPT [7:420]\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-A - [0:0]\n:KUBE-SEP-A - [0:0]\n"
      ":DOCKER - [0:0]\n"
      "[7:420] -A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
      "[0:0] -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n"
      "[0:0] -A DOCKER -i docker0 -j RETURN\n"
      "[1:60] -A KUBE-SERVICES -d 172.30.0.41/32 -p tcp -m comment --comment \"ns1/svc1:p80 cluster IP\" -m tcp --dport "
      "80 -j KUBE-SVC-A\n"
      "[1:60] -A KUBE-SVC-A -m comment --comment \"ns1/svc1:p80 -> 10.180.0.1:80\" -j KUBE-SEP-A\n"
      "[1:60] -A KUBE-SEP-A -p tcp -m comment --comment ns1/svc1:p80 -m tcp -j DNAT --to-destination 10.180.0.1:80\n"
      "COMMIT\n";
  TraceOptions options{.node_facts_path = write("facts.yaml", "localAddresses:\n- 192.168.0.2/24\n"),
                       .rules_path = write("dump.txt", dump),
                       .src = "10.0.0.2",
                       .dst = "172.30.0.41",
                       .dport = "80",
                       .output = "json"};
  std::string out, err;
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("{\"outputs\": [\"10.180.0.1:80\"], \"masquerade\": false, \"chains\": [\"nat/PREROUTING\", "
                      "\"nat/KUBE-SERVICES\", \"nat/KUBE-SVC-A\", \"nat/KUBE-SEP-A\", \"filter/KUBE-SERVICES\", "
                      "\"filter/KUBE-NODEPORTS\"]",
                      0),
            0u)
      << out;
  EXPECT_EQ(out.find("\"implied\""), std::string::npos) << out;  // the dump has the jump itself
  options.dst = "172.30.0.46";
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("{\"outputs\": [\"REJECT\"], ", 0), 0u) << out;
}

// Hand-made --rules text that jumps in a loop, or doubles its paths at every level, exits 2 with
// a message and nothing on stdout (found by tests/fuzz/iptables_trace; a trace used to run for
// ever).
TEST_F(TraceCommandTest, RulesThatJumpInALoopOrTooOftenExitTwo) {
  std::string doubling = "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n";
  for (int i = 0; i < 40; ++i) doubling += ":C" + std::to_string(i) + " - [0:0]\n";
  doubling += "-A KUBE-SERVICES -j C0\n";
  for (int i = 0; i < 39; ++i) {
    const std::string jump = "-A C" + std::to_string(i) + " -j C" + std::to_string(i + 1) + "\n";
    doubling += jump + jump;
  }
  doubling += "COMMIT\n";
  const std::string loop =
      "*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n:A - [0:0]\n-A KUBE-SERVICES -j A\n"
      "-A A -j KUBE-SERVICES\nCOMMIT\n";
  struct Case {
    std::string rules;
    std::string error;
  } cases[] = {
      {loop, "error: --rules: nat: the rules jump in a loop (A -> KUBE-SERVICES -> A); iptables refuses such rules\n"},
      {doubling,
       "error: trace: the packet entered more than 50000 chains or met more than 2000000 rules; the rules jump to the "
       "same chains over and over, which kproxy does not trace\n"},
  };
  for (const auto& c : cases) {
    TraceOptions options{.node_facts_path = write("facts.yaml", "localAddresses:\n- 192.168.0.2/24\n"),
                         .rules_path = write("rules.txt", c.rules),
                         .src = "10.0.0.2",
                         .dst = "172.30.0.41",
                         .dport = "80"};
    std::string out, err;
    EXPECT_EQ(runTrace(options, out, err), 2);
    EXPECT_EQ(out, "");
    EXPECT_EQ(err, c.error);
  }
}

TEST_F(TraceCommandTest, InInterfaceMatchesDashI) {
  const std::string rules =
      "*nat\n:KUBE-SERVICES - [0:0]\n"
      "-A KUBE-SERVICES -i cbr0 -j DNAT --to-destination 10.0.0.1:80\n"
      "-A KUBE-SERVICES -j DNAT --to-destination 10.0.0.2:80\n"
      "COMMIT\n";
  TraceOptions options{.node_facts_path = write("facts.yaml", "localAddresses: []\n"),
                       .rules_path = write("rules.txt", rules),
                       .src = "10.0.0.9",
                       .dst = "172.30.0.41",
                       .dport = "80",
                       .output = "json"};
  std::string out, err;
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("{\"outputs\": [\"10.0.0.2:80\"]", 0), 0u) << out;
  options.in_interface = "cbr0";
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("{\"outputs\": [\"10.0.0.1:80\"]", 0), 0u) << out;
  options.output = "text";
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("packet: tcp 10.0.0.9 -> 172.30.0.41:80 in on cbr0\n", 0), 0u) << out;
}

TEST_F(TraceCommandTest, FromStatesAreSyncedInTurn) {
  const std::string step = "testdata/golden/trace/upstream-internal-traffic-policy-cluster/";
  TraceOptions options{.files = {step + "steps/02-endpoints-deleted/cluster.yaml"},
                       .config_path = step + "config.yaml",
                       .node_facts_path = step + "node-facts.yaml",
                       .from = {step + "steps/01-endpoints/cluster.yaml"},
                       .src = "10.0.0.2",
                       .dst = "172.30.1.1",
                       .dport = "80",
                       .output = "json"};
  std::string out, err;
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("{\"outputs\": [\"REJECT\"]", 0), 0u) << out;
  options.files = {step + "steps/01-endpoints/cluster.yaml"};
  options.from.clear();
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("{\"outputs\": [\"10.0.1.1:80\", \"10.0.1.2:80\", \"10.0.1.3:80\"]", 0), 0u) << out;
}

TEST_F(TraceCommandTest, IpFamilyFollowsTheDestination) {
  const std::string c = "testdata/golden/trace/upstream-node-ports-ipv6-localhost-nodeports-enabled/";
  TraceOptions options{.files = {c + "cluster.yaml"},
                       .config_path = c + "config.yaml",
                       .node_facts_path = c + "node-facts.yaml",
                       .src = "fd00:10::2",
                       .dst = "fd00:172:30::41",
                       .dport = "80",
                       .output = "json"};
  std::string out, err;
  ASSERT_EQ(runTrace(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("{\"outputs\": [\"[fd00:10:180::1]:80\", \"[fd00:10:180::2:1]:80\"]", 0), 0u) << out;
}

TEST_F(TraceCommandTest, BadInputExitsTwoWithNothingOnStdout) {
  const std::string rules_ok = write("ok.txt", "*nat\n:KUBE-SERVICES - [0:0]\nCOMMIT\n");
  const std::string rules_bad = write("bad.txt", "*nat\n-A KUBE-SERVICES -j ACCEPT\nCOMMIT\n");
  const std::string rules_none = write("none.txt", "*raw\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n");
  const std::string rules_addr = write("addr.txt", "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -d 1.2.3 -j ACCEPT\nCOMMIT\n");
  const std::string bad_cluster = write("cluster.yaml",
                                        "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: x}\n"
                                        "spec: {clusterIP: 1.2.3.999, ports: [{port: 80}]}\n");
  auto with = [](TraceOptions o, auto&& change) {
    change(o);
    return o;
  };
  const TraceOptions ok = example();
  struct Case {
    std::string name;
    TraceOptions options;
    std::string message;  // the whole stderr, or its start when it ends in "..."
  };
  const std::vector<Case> cases = {
      {"bad source", with(ok, [](auto& o) { o.src = "10.0.0.300"; }),
       "error: --src: \"10.0.0.300\" is not an IP address\n"},
      {"bad destination", with(ok, [](auto& o) { o.dst = "web"; }), "error: --dst: \"web\" is not an IP address\n"},
      {"port zero", with(ok, [](auto& o) { o.dport = "0"; }), "error: --dport: \"0\" is not a port number (1-65535)\n"},
      {"port too big", with(ok, [](auto& o) { o.dport = "70000"; }),
       "error: --dport: \"70000\" is not a port number (1-65535)\n"},
      {"port not a number", with(ok, [](auto& o) { o.dport = "http"; }),
       "error: --dport: \"http\" is not a port number (1-65535)\n"},
      {"missing packet", with(ok, [](auto& o) { o.src = o.dst = o.dport = ""; }),
       "error: --src is required\nerror: --dst is required\nerror: --dport is required\n"},
      {"bad protocol", with(ok, [](auto& o) { o.protocol = "icmp"; }),
       "error: --protocol: \"icmp\" is not tcp, udp or sctp\n"},
      {"bad output", with(ok, [](auto& o) { o.output = "yaml"; }), "error: -o: \"yaml\" is not text or json\n"},
      {"families differ", with(ok, [](auto& o) { o.src = "fd00::1"; }),
       "error: --src fd00::1 and --dst 10.96.12.34 are not of the same IP family\n"},
      {"family does not match", with(ok, [](auto& o) { o.ip_family = "ipv6"; }),
       "error: --ip-family ipv6 does not match --dst 10.96.12.34\n"},
      {"bad family", with(ok, [](auto& o) { o.ip_family = "ipv5"; }),
       "error: --ip-family: \"ipv5\" is not ipv4 or ipv6\n"},
      {"no source of rules", with(ok, [](auto& o) { o.files.clear(); }),
       "error: trace: one of -f FILE... or --rules FILE is required\n"},
      {"both sources of rules", with(ok, [&](auto& o) { o.rules_path = rules_ok; }),
       "error: trace: give either -f FILE... or --rules FILE, not both\n"},
      {"--config with --rules", with(ok, [&](auto& o) { o.files.clear(); o.rules_path = rules_ok; }),
       "error: --config: only with -f\n"},
      {"missing rules file", with(ok, [](auto& o) { o.files.clear(); o.config_path = ""; o.rules_path = "testdata/no-such-rules.txt"; }),
       "error: testdata/no-such-rules.txt: cannot open..."},
      {"unparsable rules", with(ok, [&](auto& o) { o.files.clear(); o.config_path = ""; o.rules_path = rules_bad; }),
       "error: --rules " + rules_bad + ": line 2: rule for undeclared chain KUBE-SERVICES\n"},
      {"rules without nat or filter", with(ok, [&](auto& o) { o.files.clear(); o.config_path = ""; o.rules_path = rules_none; }),
       "error: --rules " + rules_none + ": no nat or filter table (expected iptables-save or iptables-restore text)\n"},
      {"bad address in a rule", with(ok, [&](auto& o) { o.files.clear(); o.config_path = ""; o.rules_path = rules_addr; }),
       "error: --rules: nat KUBE-SERVICES rule 1 (\"-A KUBE-SERVICES -d 1.2.3 -j ACCEPT\"): bad address \"1.2.3\"\n"},
      {"bad manifests", with(ok, [&](auto& o) { o.files = {bad_cluster}; }), "error: " + bad_cluster + ":4: Service x/a..."},
      {"missing manifest", with(ok, [](auto& o) { o.files = {"testdata/no-such-file.yaml"}; }),
       "error: testdata/no-such-file.yaml: cannot open..."},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string out = "stale", err;
    EXPECT_EQ(runTrace(c.options, out, err), 2);
    EXPECT_EQ(out, "");
    if (c.message.size() > 3 && c.message.compare(c.message.size() - 3, 3, "...") == 0) {
      EXPECT_EQ(err.rfind(c.message.substr(0, c.message.size() - 3), 0), 0u) << err;
    } else {
      EXPECT_EQ(err, c.message);
    }
  }
}

}  // namespace
}  // namespace kproxy::cli
