// kube-proxy's command line: pflag syntax, every upstream flag with its default, bad input, and
// upstream's precedence between flags and the configuration file (Options.Complete).
#include "src/config/flags.h"

#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace kproxy::config {
namespace {

using std::chrono::seconds;

constexpr char kHeader[] = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";

KubeProxyFlags parseOk(const std::vector<std::string>& args) {
  auto f = parseKubeProxyFlags(args);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message);
  return f.ok() ? *f : KubeProxyFlags{};
}

std::string parseError(const std::vector<std::string>& args) {
  auto f = parseKubeProxyFlags(args);
  EXPECT_FALSE(f.ok());
  return f.ok() ? "" : f.error().message;
}

// Files by path, for completeConfiguration.
FileReader files(std::map<std::string, std::string> contents) {
  return [contents](const std::string& path) -> Result<std::string> {
    auto it = contents.find(path);
    if (it == contents.end()) return Error("open " + path + ": no such file or directory");
    return it->second;
  };
}

KubeProxyConfiguration complete(const std::vector<std::string>& args, std::map<std::string, std::string> fs = {},
                                std::vector<std::string>* warnings = nullptr) {
  KubeProxyFlags flags = parseOk(args);
  auto c = completeConfiguration(flags, files(std::move(fs)));
  EXPECT_TRUE(c.ok()) << (c.ok() ? "" : c.error().message);
  if (!c.ok()) return {};
  if (warnings != nullptr) *warnings = c->warnings;
  return c->config;
}

// Every Linux flag of spec ipvs-and-runtime.md §3.1, with pflag's default text.
TEST(FlagsTest, EveryUpstreamFlagIsRegisteredOnCli11WithItsDefault) {
  const std::map<std::string, std::string> expected = {
      {"config", ""},
      {"write-config-to", ""},
      {"cleanup", "false"},
      {"init-only", "false"},
      {"feature-gates", ""},
      {"kubeconfig", ""},
      {"master", ""},
      {"kube-api-content-type", "application/vnd.kubernetes.protobuf"},
      {"kube-api-burst", "10"},
      {"kube-api-qps", "5"},
      {"hostname-override", ""},
      {"bind-address", "0.0.0.0"},
      {"healthz-bind-address", "0.0.0.0:10256"},
      {"metrics-bind-address", "127.0.0.1:10249"},
      {"bind-address-hard-fail", "false"},
      {"profiling", "false"},
      {"show-hidden-metrics-for-version", ""},
      {"proxy-mode", ""},
      {"iptables-masquerade-bit", "14"},
      {"masquerade-all", "false"},
      {"iptables-localhost-nodeports", "true"},
      {"iptables-sync-period", "30s"},
      {"iptables-min-sync-period", "1s"},
      {"ipvs-sync-period", "30s"},
      {"ipvs-min-sync-period", "1s"},
      {"ipvs-scheduler", ""},
      {"ipvs-exclude-cidrs", "[]"},
      {"ipvs-strict-arp", "false"},
      {"ipvs-tcp-timeout", "0s"},
      {"ipvs-tcpfin-timeout", "0s"},
      {"ipvs-udp-timeout", "0s"},
      {"detect-local-mode", ""},
      {"pod-bridge-interface", ""},
      {"pod-interface-name-prefix", ""},
      {"cluster-cidr", ""},
      {"nodeport-addresses", "[]"},
      {"oom-score-adj", "-999"},
      {"conntrack-max-per-core", "32768"},
      {"conntrack-min", "131072"},
      {"conntrack-tcp-timeout-established", "24h0m0s"},
      {"conntrack-tcp-timeout-close-wait", "1h0m0s"},
      {"conntrack-tcp-be-liberal", "false"},
      {"conntrack-udp-timeout", "0s"},
      {"conntrack-udp-timeout-stream", "0s"},
      {"config-sync-period", "15m0s"},
      {"healthz-port", "10256"},
      {"metrics-port", "10249"},
      {"proxy-port-range", ""},
      {"v", "0"},
      {"vmodule", ""},
      {"logging-format", "text"},
      {"log-flush-frequency", "5s"},
      {"log-text-split-stream", "false"},
      {"log-text-info-buffer-size", "0"},
      {"log-json-split-stream", "false"},
      {"log-json-info-buffer-size", "0"},
      {"version", "false"},
      {"help", "false"},
      {"objects", "[]"},  // kproxy's extension
  };
  CLI::App app{"kube-proxy"};
  registerKubeProxyFlags(app, [](const std::string&, const std::string&) {});
  for (const auto& [name, def] : expected) {
    SCOPED_TRACE(name);
    const CLI::Option* opt = app.get_option_no_throw("--" + name);
    ASSERT_NE(opt, nullptr);
    EXPECT_EQ(opt->get_default_str(), def);
  }
  EXPECT_NE(app.get_option_no_throw("-v"), nullptr);
  EXPECT_NE(app.get_option_no_throw("-h"), nullptr);
  EXPECT_EQ(app.get_options().size(), expected.size());
}

TEST(FlagsTest, NoFlagsGiveTheDefaultsWithPlatformDefaults) {
  KubeProxyConfiguration c = complete({});
  EXPECT_EQ(c.mode, "iptables");
  EXPECT_EQ(c.detect_local_mode, "ClusterCIDR");
  EXPECT_EQ(c.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(c.metrics_bind_address, "127.0.0.1:10249");
  EXPECT_EQ(c.iptables.sync_period, seconds(30));
  EXPECT_EQ(c.iptables.min_sync_period, seconds(1));
  EXPECT_EQ(c.oom_score_adj, -999);
  EXPECT_TRUE(c.hostname_override.empty());
  EXPECT_TRUE(c.node_port_addresses.empty());
}

// pflag's syntax: every way kubeadm, systemd units and humans write flags.
TEST(FlagsTest, PflagSyntax) {
  struct Case {
    std::vector<std::string> args;
    int verbosity;
    std::string mode;
    bool masquerade_all;
  };
  const Case cases[] = {
      {{"--v=4"}, 4, "", false},
      {{"--v", "4"}, 4, "", false},
      {{"-v", "4"}, 4, "", false},
      {{"-v=4"}, 4, "", false},
      {{"-v4"}, 4, "", false},
      {{"--proxy-mode=ipvs"}, 0, "ipvs", false},
      {{"--proxy-mode", "ipvs"}, 0, "ipvs", false},
      {{"--proxy-mode", "ipvs", "--proxy-mode=iptables"}, 0, "iptables", false},  // last wins
      {{"--masquerade-all"}, 0, "", true},
      {{"--masquerade-all=true"}, 0, "", true},
      {{"--masquerade-all=T"}, 0, "", true},
      {{"--masquerade-all", "--masquerade-all=false"}, 0, "", false},
      {{"--v=2", "--", }, 2, "", false},
  };
  for (const auto& tc : cases) {
    std::string joined;
    for (const auto& a : tc.args) joined += a + " ";
    SCOPED_TRACE(joined);
    KubeProxyFlags f = parseOk(tc.args);
    EXPECT_EQ(f.config.logging.verbosity, tc.verbosity);
    EXPECT_EQ(f.config.mode, tc.mode);
    EXPECT_EQ(f.config.iptables.masquerade_all, tc.masquerade_all);
  }
}

TEST(FlagsTest, ValuesMayBeEmptyOrStartWithADash) {
  KubeProxyFlags f = parseOk({"--metrics-bind-address=", "--oom-score-adj=-1000", "--nodeport-addresses=",
                              "--hostname-override", "-weird-"});
  EXPECT_EQ(f.config.metrics_bind_address, "");
  EXPECT_EQ(f.config.oom_score_adj, -1000);
  EXPECT_TRUE(f.config.node_port_addresses.empty());
  EXPECT_EQ(f.hostname_override, "-weird-");
  // An empty bind address disables the server (the deprecated port flag does not bring it back).
  EXPECT_EQ(complete({"--metrics-bind-address="}).metrics_bind_address, "");
}

TEST(FlagsTest, ListFlagsAreCommaSeparatedAndRepeatedUsesAppend) {
  KubeProxyFlags f = parseOk({"--nodeport-addresses", "10.0.0.0/8,192.168.0.0/16", "--nodeport-addresses=172.16.0.0/12",
                              "--ipvs-exclude-cidrs=10.1.0.0/16", "--feature-gates=A=true,B=false",
                              "--feature-gates", "C=1", "--vmodule=foo=2", "--vmodule=bar=3"});
  EXPECT_EQ(f.config.node_port_addresses, (std::vector<std::string>{"10.0.0.0/8", "192.168.0.0/16", "172.16.0.0/12"}));
  EXPECT_EQ(f.config.ipvs.exclude_cidrs, (std::vector<std::string>{"10.1.0.0/16"}));
  EXPECT_EQ(f.config.feature_gates, (std::map<std::string, bool>{{"A", true}, {"B", false}, {"C", true}}));
  EXPECT_EQ(f.config.logging.vmodule, "foo=2,bar=3");
}

TEST(FlagsTest, EveryConfigurationFlagReachesItsField) {
  KubeProxyConfiguration c = complete({
      "--kubeconfig=/k", "--kube-api-content-type=application/json", "--kube-api-burst=20", "--kube-api-qps=7.5",
      "--bind-address=10.0.0.5", "--healthz-bind-address=10.0.0.5:1234", "--metrics-bind-address=0.0.0.0:9999",
      "--bind-address-hard-fail", "--profiling", "--show-hidden-metrics-for-version=1.32",
      "--iptables-masquerade-bit=13", "--iptables-localhost-nodeports=false", "--ipvs-scheduler=lc",
      "--ipvs-strict-arp", "--ipvs-tcp-timeout=5s", "--ipvs-tcpfin-timeout=6s", "--ipvs-udp-timeout=7s",
      "--detect-local-mode=InterfaceNamePrefix", "--pod-bridge-interface=cbr0", "--pod-interface-name-prefix=veth",
      "--cluster-cidr=10.244.0.0/16,fd00::/48", "--oom-score-adj=-500", "--conntrack-max-per-core=0",
      "--conntrack-min=1000", "--conntrack-tcp-timeout-established=2h", "--conntrack-tcp-timeout-close-wait=30m",
      "--conntrack-tcp-be-liberal", "--conntrack-udp-timeout=30s", "--conntrack-udp-timeout-stream=2m",
      "--config-sync-period=5m", "--logging-format=json", "--log-flush-frequency=2s", "--proxy-port-range=30000-30100",
      "--log-text-info-buffer-size=1Mi", "--log-json-split-stream",
  });
  EXPECT_EQ(c.client_connection.kubeconfig, "/k");
  EXPECT_EQ(c.client_connection.content_type, "application/json");
  EXPECT_EQ(c.client_connection.burst, 20);
  EXPECT_FLOAT_EQ(c.client_connection.qps, 7.5f);
  EXPECT_EQ(c.bind_address, "10.0.0.5");
  EXPECT_EQ(c.healthz_bind_address, "10.0.0.5:1234");
  EXPECT_EQ(c.metrics_bind_address, "0.0.0.0:9999");
  EXPECT_TRUE(c.bind_address_hard_fail);
  EXPECT_TRUE(c.enable_profiling);
  EXPECT_EQ(c.show_hidden_metrics_for_version, "1.32");
  EXPECT_EQ(c.iptables.masquerade_bit, 13);
  EXPECT_FALSE(c.iptables.localhost_node_ports);
  EXPECT_EQ(c.ipvs.scheduler, "lc");
  EXPECT_TRUE(c.ipvs.strict_arp);
  EXPECT_EQ(c.ipvs.tcp_timeout, seconds(5));
  EXPECT_EQ(c.ipvs.tcp_fin_timeout, seconds(6));
  EXPECT_EQ(c.ipvs.udp_timeout, seconds(7));
  EXPECT_EQ(c.detect_local_mode, "InterfaceNamePrefix");
  EXPECT_EQ(c.detect_local.bridge_interface, "cbr0");
  EXPECT_EQ(c.detect_local.interface_name_prefix, "veth");
  EXPECT_EQ(c.cluster_cidr, "10.244.0.0/16,fd00::/48");
  EXPECT_EQ(c.oom_score_adj, -500);
  EXPECT_EQ(c.conntrack.max_per_core, 0);
  EXPECT_EQ(c.conntrack.min, 1000);
  EXPECT_EQ(c.conntrack.tcp_established_timeout, std::chrono::hours(2));
  EXPECT_EQ(c.conntrack.tcp_close_wait_timeout, std::chrono::minutes(30));
  EXPECT_TRUE(c.conntrack.tcp_be_liberal);
  EXPECT_EQ(c.conntrack.udp_timeout, seconds(30));
  EXPECT_EQ(c.conntrack.udp_stream_timeout, std::chrono::minutes(2));
  EXPECT_EQ(c.config_sync_period, std::chrono::minutes(5));
  EXPECT_EQ(c.logging.format, "json");
  EXPECT_EQ(c.logging.flush_frequency, seconds(2));
  EXPECT_EQ(c.port_range, "30000-30100");
}

TEST(FlagsTest, NonConfigurationFlags) {
  KubeProxyFlags f = parseOk({"--config=/c", "--write-config-to=/w", "--cleanup", "--init-only", "--master=https://m",
                              "--objects=a.yaml", "--objects", "b.yaml"});
  EXPECT_EQ(f.config_file, "/c");
  EXPECT_EQ(f.write_config_to, "/w");
  EXPECT_TRUE(f.cleanup);
  EXPECT_TRUE(f.init_only);
  EXPECT_EQ(f.master, "https://m");
  EXPECT_EQ(f.objects, (std::vector<std::string>{"a.yaml", "b.yaml"}));
  EXPECT_EQ(parseOk({"--version"}).version, "true");
  EXPECT_EQ(parseOk({"--version=raw"}).version, "raw");
  EXPECT_EQ(parseOk({"--version=false"}).version, "false");
  EXPECT_TRUE(parseOk({"--help"}).help);
  EXPECT_TRUE(parseOk({"-h", "--no-such-flag"}).help);  // pflag stops at -h
}

TEST(FlagsTest, BadCommandLines) {
  struct Case {
    std::vector<std::string> args;
    std::string error;
  };
  const Case cases[] = {
      {{"--proxymode=ipvs"}, "unknown flag: --proxymode (did you mean --proxy-mode?)"},
      {{"--hostname-overide", "n"}, "unknown flag: --hostname-overide (did you mean --hostname-override?)"},
      {{"--iptables-sync-perod=5s"}, "unknown flag: --iptables-sync-perod (did you mean --iptables-sync-period?)"},
      {{"--completely-different"}, "unknown flag: --completely-different (see --help for the list of flags)"},
      {{"-config=/c"}, "unknown shorthand flag: 'c' in -config=/c (did you mean --config?)"},
      {{"-x"}, "unknown shorthand flag: 'x' in -x"},
      {{"run"}, "\"kube-proxy\" does not take any arguments, got [\"run\"]"},
      {{"--cleanup", "false"}, "\"kube-proxy\" does not take any arguments, got [\"false\"]"},
      {{"--v=1", "--", "--config=x"}, "\"kube-proxy\" does not take any arguments, got [\"--config=x\"]"},
      {{"--config"}, "flag needs an argument: --config"},
      {{"-v"}, "flag needs an argument: 'v' in -v"},
      {{"---config=x"}, "bad flag syntax: ---config=x"},
      {{"--kube-api-burst=abc"},
       "invalid argument \"abc\" for \"--kube-api-burst\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax"},
      {{"--oom-score-adj=99999999999"},
       "invalid argument \"99999999999\" for \"--oom-score-adj\" flag: strconv.ParseInt: parsing \"99999999999\": "
       "value out of range"},
      {{"--kube-api-qps=fast"},
       "invalid argument \"fast\" for \"--kube-api-qps\" flag: strconv.ParseFloat: parsing \"fast\": invalid syntax"},
      {{"--masquerade-all=yes"},
       "invalid argument \"yes\" for \"--masquerade-all\" flag: strconv.ParseBool: parsing \"yes\": invalid syntax"},
      {{"--iptables-sync-period=5"},
       "invalid argument \"5\" for \"--iptables-sync-period\" flag: time: missing unit in duration \"5\""},
      {{"-v=high"}, "invalid argument \"high\" for \"-v, --v\" flag: strconv.ParseUint: parsing \"high\": invalid syntax"},
      {{"--bind-address=300.1.1.1"},
       "invalid argument \"300.1.1.1\" for \"--bind-address\" flag: \"300.1.1.1\" is not a valid IP address"},
      {{"--healthz-bind-address=localhost:10256"},
       "invalid argument \"localhost:10256\" for \"--healthz-bind-address\" flag: \"localhost\" is not a valid IP "
       "address"},
      {{"--metrics-bind-address=1.2.3.4:http"},
       "invalid argument \"1.2.3.4:http\" for \"--metrics-bind-address\" flag: \"http\" is not a valid number"},
      {{"--feature-gates=Foo"}, "invalid argument \"Foo\" for \"--feature-gates\" flag: malformed pair, expect string=bool"},
      {{"--feature-gates=Foo=maybe"},
       "invalid argument \"Foo=maybe\" for \"--feature-gates\" flag: invalid value of Foo: maybe, err: "
       "strconv.ParseBool: parsing \"maybe\": invalid syntax"},
      {{"--version=v2"}, "invalid argument \"v2\" for \"--version\" flag: strconv.ParseBool: parsing \"v2\": invalid syntax"},
      // pflag stops at the first bad value on the command line.
      {{"--kube-api-qps=x", "--kube-api-burst=y"},
       "invalid argument \"x\" for \"--kube-api-qps\" flag: strconv.ParseFloat: parsing \"x\": invalid syntax"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.args.front());
    EXPECT_EQ(parseError(tc.args), tc.error);
  }
}

TEST(FlagsTest, NearestFlagByEditDistance) {
  EXPECT_EQ(nearestFlag("proxymode"), "proxy-mode");
  EXPECT_EQ(nearestFlag("kubconfig"), "kubeconfig");
  EXPECT_EQ(nearestFlag("metric-bind-address"), "metrics-bind-address");
  EXPECT_EQ(nearestFlag("cleanp"), "cleanup");
}

// upstream: with --config the file replaces everything the flags built; only a few flags apply.
TEST(FlagsTest, ConfigFileReplacesFlags) {
  const std::string file = std::string(kHeader) +
                           "mode: ipvs\n"
                           "hostnameOverride: from-file\n"
                           "clusterCIDR: 10.0.0.0/8\n"
                           "metricsBindAddress: 0.0.0.0:10249\n"
                           "featureGates: {PreferSameTrafficDistribution: true}\n"
                           "logging: {verbosity: 3, vmodule: [{filePattern: file, verbosity: 5}]}\n";
  std::vector<std::string> warnings;
  KubeProxyConfiguration c = complete({"--config=/etc/kp.yaml", "--proxy-mode=iptables", "--iptables-sync-period=5s",
                                       "--ipvs-min-sync-period=7s", "--cluster-cidr=192.168.0.0/16",
                                       "--masquerade-all", "--metrics-port=0", "--healthz-port=0",
                                       "--feature-gates=PreferSameTrafficDistribution=false",
                                       "--metrics-bind-address=1.1.1.1:1", "--kube-api-qps=99"},
                                      {{"/etc/kp.yaml", file}}, &warnings);
  EXPECT_EQ(c.mode, "ipvs");
  EXPECT_EQ(c.hostname_override, "from-file");
  EXPECT_EQ(c.cluster_cidr, "10.0.0.0/8");
  EXPECT_EQ(c.metrics_bind_address, "0.0.0.0:10249");
  EXPECT_EQ(c.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_FALSE(c.iptables.masquerade_all);
  EXPECT_EQ(c.iptables.sync_period, seconds(30));
  // ipvs.minSyncPeriod absent from the file: v1alpha1's ipvs default, 0s (not the flags' 1s).
  EXPECT_EQ(c.ipvs.min_sync_period, seconds(0));
  EXPECT_EQ(c.feature_gates.at("PreferSameTrafficDistribution"), true);
  EXPECT_FLOAT_EQ(c.client_connection.qps, 5);
  EXPECT_EQ(c.logging.verbosity, 3);
  EXPECT_EQ(c.logging.vmodule, "file=5");
  // The deprecation notices are still printed.
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0], "Flag --metrics-port has been deprecated, This flag is deprecated and will be removed in "
                         "a future release. Please use --metrics-bind-address instead.");
}

TEST(FlagsTest, FlagsThatStillApplyWithAConfigFile) {
  const std::string file = std::string(kHeader) + "hostnameOverride: from-file\nlogging: {verbosity: 3, format: text, "
                                                  "vmodule: [{filePattern: file, verbosity: 5}]}\n";
  KubeProxyConfiguration c = complete({"--config", "/c", "--hostname-override=  Node-A.Example  ", "-v=6",
                                       "--vmodule=flag=2", "--logging-format=json", "--log-flush-frequency=1s"},
                                      {{"/c", file}});
  EXPECT_EQ(c.hostname_override, "node-a.example");
  EXPECT_EQ(c.logging.verbosity, 6);
  EXPECT_EQ(c.logging.vmodule, "flag=2,file=5");  // flags first, then the file's
  EXPECT_EQ(c.logging.format, "json");
  EXPECT_EQ(c.logging.flush_frequency, seconds(1));
  // Logging flags not given leave the file's values alone.
  KubeProxyConfiguration d = complete({"--config=/c"}, {{"/c", file}});
  EXPECT_EQ(d.logging.verbosity, 3);
  EXPECT_EQ(d.hostname_override, "from-file");
  // --master, --cleanup, --init-only and --write-config-to are not configuration fields: they
  // are read from the flags whatever the file says.
  KubeProxyFlags f = parseOk({"--config=/c", "--master=https://m", "--cleanup", "--init-only", "--write-config-to=/w"});
  EXPECT_EQ(f.master, "https://m");
  EXPECT_TRUE(f.cleanup && f.init_only);
  EXPECT_EQ(f.write_config_to, "/w");
}

TEST(FlagsTest, EmptyHostnameOverrideIsInvalid) {
  for (const auto& args : std::vector<std::vector<std::string>>{{"--hostname-override=   "},
                                                               {"--config=/c", "--hostname-override", " \t "}}) {
    KubeProxyFlags f = parseOk(args);
    auto c = completeConfiguration(f, files({{"/c", kHeader}}));
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().message, "empty hostname-override is invalid");
  }
  // An empty value is "not given" (upstream checks len > 0 before trimming).
  EXPECT_EQ(complete({"--hostname-override="}).hostname_override, "");
}

TEST(FlagsTest, ConfigFileErrors) {
  KubeProxyFlags f = parseOk({"--config=/missing"});
  auto c = completeConfiguration(f, files({}));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, "open /missing: no such file or directory");
  f = parseOk({"--config=/bad"});
  c = completeConfiguration(f, files({{"/bad", "apiVersion: v1\nkind: ConfigMap\n"}}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("got unexpected config type"), std::string::npos) << c.error().message;
  // Lenient decoding is a warning, not an error.
  std::vector<std::string> warnings;
  complete({"--config=/c"}, {{"/c", std::string(kHeader) + "noSuchField: 1\n"}}, &warnings);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("Using lenient decoding as strict decoding failed"), std::string::npos);
}

// spec §3.1 "Sync-period subtlety": flags-only runs start from the internal configuration's
// single pair (iptables' 30s / 1s); each family of flags applies only in its own mode.
TEST(FlagsTest, SyncPeriodFlagsFollowTheMode) {
  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string file;  // "" = flags only
    Duration ipt_sync, ipt_min, ipvs_sync, ipvs_min;
  };
  using std::chrono::milliseconds;
  const Case cases[] = {
      {"defaults", {}, "", seconds(30), seconds(1), seconds(30), seconds(0)},
      {"ipvs mode alone runs with the iptables minimum", {"--proxy-mode=ipvs"}, "", seconds(30), seconds(1),
       seconds(30), seconds(1)},
      {"iptables flags ignored in ipvs mode", {"--proxy-mode=ipvs", "--iptables-min-sync-period=5s"}, "", seconds(30),
       seconds(1), seconds(30), seconds(1)},
      {"ipvs flags in ipvs mode", {"--proxy-mode=ipvs", "--ipvs-min-sync-period=3s", "--ipvs-sync-period=20s"}, "",
       seconds(30), seconds(1), seconds(20), seconds(3)},
      {"ipvs flags ignored in iptables mode", {"--ipvs-min-sync-period=3s", "--ipvs-sync-period=20s"}, "", seconds(30),
       seconds(1), seconds(30), seconds(0)},
      {"iptables flags", {"--iptables-min-sync-period=0s", "--iptables-sync-period=10s"}, "", seconds(10), seconds(0),
       seconds(30), seconds(0)},
      {"file with mode ipvs keeps v1alpha1's 0s", {"--ipvs-min-sync-period=3s"},
       std::string(kHeader) + "mode: ipvs\n", seconds(30), seconds(1), seconds(30), seconds(0)},
      {"file values", {"--iptables-sync-period=1s"},
       std::string(kHeader) + "iptables: {syncPeriod: 45s, minSyncPeriod: 500ms}\n", seconds(45), milliseconds(500),
       seconds(30), seconds(0)},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    std::vector<std::string> args = tc.args;
    std::map<std::string, std::string> fs;
    if (!tc.file.empty()) {
      args.push_back("--config=/c");
      fs["/c"] = tc.file;
    }
    KubeProxyConfiguration c = complete(args, fs);
    EXPECT_EQ(c.iptables.sync_period, tc.ipt_sync);
    EXPECT_EQ(c.iptables.min_sync_period, tc.ipt_min);
    EXPECT_EQ(c.ipvs.sync_period, tc.ipvs_sync);
    EXPECT_EQ(c.ipvs.min_sync_period, tc.ipvs_min);
  }
  KubeProxyConfiguration nft = complete({"--proxy-mode=nftables", "--iptables-min-sync-period=2s"});
  EXPECT_EQ(nft.nftables.min_sync_period, seconds(2));
  EXPECT_EQ(nft.node_port_addresses, (std::vector<std::string>{"primary"}));
}

// upstream addressFromDeprecatedFlags, applied only without --config and --write-config-to.
TEST(FlagsTest, DeprecatedPortFlags) {
  EXPECT_EQ(complete({"--healthz-port=0"}).healthz_bind_address, "");
  EXPECT_EQ(complete({"--metrics-port=0"}).metrics_bind_address, "");
  EXPECT_EQ(complete({"--healthz-bind-address=10.1.2.3", "--healthz-port=9999"}).healthz_bind_address,
            "10.1.2.3:9999");
  EXPECT_EQ(complete({"--metrics-bind-address=::1"}).metrics_bind_address, "[::1]:10249");
  // The default address already has a port, so the port flag alone changes nothing (upstream).
  EXPECT_EQ(complete({"--healthz-port=9999"}).healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(complete({"--write-config-to=/w", "--healthz-port=0"}).healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(complete({"--config=/c", "--healthz-port=0"}, {{"/c", kHeader}}).healthz_bind_address, "0.0.0.0:10256");
  std::vector<std::string> warnings;
  complete({"--healthz-port=1", "--healthz-port=2", "--proxy-port-range=1-2"}, {}, &warnings);
  EXPECT_EQ(warnings, (std::vector<std::string>{
                          "Flag --healthz-port has been deprecated, This flag is deprecated and will be removed in a "
                          "future release. Please use --healthz-bind-address instead.",
                          "Flag --proxy-port-range has been deprecated, This flag has no effect and will be removed "
                          "in a future release."}));
}

TEST(FlagsTest, ClusterCidrAndMasqueradeAllOnlyWithoutAConfigFile) {
  KubeProxyConfiguration c = complete({"--cluster-cidr=10.244.0.0/16", "--masquerade-all"});
  EXPECT_EQ(c.cluster_cidr, "10.244.0.0/16");
  EXPECT_TRUE(c.iptables.masquerade_all);
  KubeProxyConfiguration nft = complete({"--proxy-mode=nftables", "--masquerade-all"});
  EXPECT_TRUE(nft.nftables.masquerade_all);
}

TEST(FlagsTest, PrintFlags) {
  KubeProxyFlags f = parseOk({"--proxy-mode=ipvs", "--nodeport-addresses=10.0.0.0/8,fd00::/8", "-v", "3"});
  std::vector<std::string> lines = printFlags(f);
  auto has = [&](const std::string& line) { return std::find(lines.begin(), lines.end(), line) != lines.end(); };
  EXPECT_TRUE(has("FLAG: --proxy-mode=\"ipvs\""));
  EXPECT_TRUE(has("FLAG: --nodeport-addresses=\"[10.0.0.0/8,fd00::/8]\""));
  EXPECT_TRUE(has("FLAG: --v=\"3\""));
  EXPECT_TRUE(has("FLAG: --healthz-bind-address=\"0.0.0.0:10256\""));
  // Sorted by flag name (pflag's order), so "--config" comes before "--config-sync-period".
  auto config = std::find(lines.begin(), lines.end(), "FLAG: --config=\"\"");
  auto config_sync = std::find(lines.begin(), lines.end(), "FLAG: --config-sync-period=\"15m0s\"");
  EXPECT_LT(config, config_sync);
  EXPECT_EQ(lines.front(), "FLAG: --bind-address=\"0.0.0.0\"");
}

TEST(FlagsTest, UsageListsEveryFlag) {
  const std::string usage = kubeProxyUsage();
  for (const char* name : {"--config", "--hostname-override", "--healthz-port", "--objects", "-v, --v"}) {
    EXPECT_NE(usage.find(name), std::string::npos) << name;
  }
  EXPECT_NE(usage.find("DEPRECATED"), std::string::npos);
}

// deploy/02-configmap.yaml holds a configuration kube-proxy accepts strictly, and the DaemonSet's
// command line (kubeadm's) parses. (deploy/check_manifests.py checks the manifests' schema.)
TEST(FlagsTest, DeployManifestsConfigurationAndCommandLine) {
  const YAML::Node cm = YAML::LoadFile(std::string(KPROXY_SOURCE_DIR) + "/deploy/02-configmap.yaml");
  ASSERT_EQ(cm["kind"].as<std::string>(), "ConfigMap");
  const std::string conf = cm["data"]["config.conf"].as<std::string>();
  std::vector<std::string> warnings;
  KubeProxyConfiguration c = complete({"--config=/var/lib/kube-proxy/config.conf", "--hostname-override=worker-1"},
                                      {{"/var/lib/kube-proxy/config.conf", conf}}, &warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_TRUE(validateConfiguration(c).empty()) << validateConfiguration(c).front().message;
  EXPECT_EQ(c.mode, "iptables");
  EXPECT_EQ(c.hostname_override, "worker-1");
  const YAML::Node ds = YAML::LoadFile(std::string(KPROXY_SOURCE_DIR) + "/deploy/03-daemonset.yaml");
  std::vector<std::string> command = ds["spec"]["template"]["spec"]["containers"][0]["command"].as<std::vector<std::string>>();
  ASSERT_EQ(command.front(), "/usr/local/bin/kube-proxy");
  command.erase(command.begin());
  KubeProxyFlags f = parseOk(command);
  EXPECT_EQ(f.config_file, "/var/lib/kube-proxy/config.conf");
  EXPECT_EQ(f.hostname_override, "$(NODE_NAME)");  // expanded by the kubelet
}

}  // namespace
}  // namespace kproxy::config
