// validateConfiguration, rule by rule, against the messages of upstream's
// pkg/proxy/apis/config/validation (validation_test.go for the paths and texts), and the
// feature gates.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "src/config/kube_proxy_configuration.h"

namespace kproxy::config {
namespace {

using std::chrono::seconds;

struct Case {
  std::string name;
  std::function<void(KubeProxyConfiguration&)> change;
  std::vector<std::string> expected;  // empty: valid
};

std::string joinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

void runCases(const std::vector<Case>& cases) {
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    KubeProxyConfiguration c;
    tc.change(c);
    std::vector<std::string> actual;
    for (const auto& e : validateConfiguration(c)) actual.push_back(e.message);
    // One message per line, so that a mismatch prints as a line diff.
    EXPECT_EQ(joinLines(actual), joinLines(tc.expected));
  }
}

const std::string kRoot = "KubeProxyConfiguration";

TEST(ValidateConfigurationTest, DefaultsAreValid) {
  EXPECT_TRUE(validateConfiguration(KubeProxyConfiguration{}).empty());
}

TEST(ValidateConfigurationTest, FeatureGates) {
  runCases({
      {"known gate",
       [](auto& c) {
         c.feature_gates = {{"PreferSameTrafficDistribution", true}};
       },
       {}},
      {"locked gate at its default",
       [](auto& c) {
         c.feature_gates = {{"NFTablesProxyMode", true}};
       },
       {}},
      {"AllAlpha",
       [](auto& c) {
         c.feature_gates = {{"AllAlpha", true}};
       },
       {}},
      {"unknown gate",
       [](auto& c) {
         c.feature_gates = {{"NoSuchGate", true}};
       },
       {kRoot +
        R"(.featureGates: Invalid value: map[string]bool{"NoSuchGate":true}: unrecognized feature gate: NoSuchGate)"}},
      {"locked gate changed",
       [](auto& c) {
         c.feature_gates = {{"ServiceTrafficDistribution", false}};
       },
       {kRoot + R"(.featureGates: Invalid value: map[string]bool{"ServiceTrafficDistribution":false}: )"
                "cannot set feature gate ServiceTrafficDistribution to false, feature is locked to true"}},
      {"two locked gates changed, then an unknown one",
       [](auto& c) {
         c.feature_gates = {{"LoadBalancerIPMode", false}, {"NFTablesProxyMode", false}, {"Zzz", true}};
       },
       {kRoot +
        R"(.featureGates: Invalid value: map[string]bool{"LoadBalancerIPMode":false, "NFTablesProxyMode":false, "Zzz":true}: )"
        "[cannot set feature gate LoadBalancerIPMode to false, feature is locked to true, "
        "cannot set feature gate NFTablesProxyMode to false, feature is locked to true, "
        "unrecognized feature gate: Zzz]"}},
  });
}

TEST(ValidateConfigurationTest, MasqueradeBit) {
  const std::string ipt = kRoot + ".KubeProxyIPTablesConfiguration.MasqueradeBit";
  const std::string nft = kRoot + ".KubeProxyNFTablesConfiguration.MasqueradeBit";
  runCases({
      {"0 and 31",
       [](auto& c) {
         c.iptables.masquerade_bit = 0;
         c.nftables.masquerade_bit = 31;
       },
       {}},
      {"iptables 32",
       [](auto& c) { c.iptables.masquerade_bit = 32; },
       {ipt + ": Invalid value: 32: must be within the range [0, 31]"}},
      {"iptables -1 is checked in every mode",
       [](auto& c) {
         c.mode = "nftables";
         c.iptables.masquerade_bit = -1;
       },
       {ipt + ": Invalid value: -1: must be within the range [0, 31]"}},
      {"nftables section only in nftables mode", [](auto& c) { c.nftables.masquerade_bit = 32; }, {}},
      {"nftables 32 in nftables mode",
       [](auto& c) {
         c.mode = "nftables";
         c.nftables.masquerade_bit = 32;
       },
       {nft + ": Invalid value: 32: must be within the range [0, 31]"}},
  });
}

TEST(ValidateConfigurationTest, IPVSSection) {
  const std::string ipvs = kRoot + ".KubeProxyIPVSConfiguration";
  runCases({
      {"ignored outside ipvs mode",
       [](auto& c) {
         c.ipvs.tcp_timeout = seconds(-1);
         c.ipvs.exclude_cidrs = {"x"};
       },
       {}},
      {"valid",
       [](auto& c) {
         c.mode = "ipvs";
         c.ipvs.exclude_cidrs = {"10.0.0.0/8", "fd00::/64", "010.1.0.0/16"};
         c.ipvs.tcp_timeout = seconds(0);
       },
       {}},
      {"negative timeouts and bad CIDRs",
       [](auto& c) {
         c.mode = "ipvs";
         c.ipvs.tcp_timeout = seconds(-1);
         c.ipvs.tcp_fin_timeout = std::chrono::milliseconds(-1500);
         c.ipvs.udp_timeout = std::chrono::minutes(-2);
         c.ipvs.exclude_cidrs = {"10.0.0.0/8", "10.0.0.1", " 10.1.0.0/16"};
       },
       {ipvs + ".TCPTimeout: Invalid value: -1s: must be greater than or equal to 0",
        ipvs + ".TCPFinTimeout: Invalid value: -1.5s: must be greater than or equal to 0",
        ipvs + ".UDPTimeout: Invalid value: -2m0s: must be greater than or equal to 0",
        ipvs + R"(.ExcludeCidrs[1]: Invalid value: "10.0.0.1": must be a valid CIDR)",
        ipvs + R"(.ExcludeCidrs[2]: Invalid value: " 10.1.0.0/16": must be a valid CIDR)"}},
  });
}

TEST(ValidateConfigurationTest, Conntrack) {
  const std::string ct = kRoot + ".KubeProxyLinuxConfiguration.KubeProxyConntrackConfiguration";
  runCases({
      {"zeros",
       [](auto& c) {
         c.conntrack.max_per_core = 0;
         c.conntrack.min = 0;
         c.conntrack.tcp_established_timeout = seconds(0);
         c.conntrack.tcp_close_wait_timeout = seconds(0);
       },
       {}},
      {"negatives",
       [](auto& c) {
         c.conntrack.max_per_core = -1;
         c.conntrack.min = -2;
         c.conntrack.tcp_established_timeout = seconds(-3);
         c.conntrack.tcp_close_wait_timeout = seconds(-4);
         c.conntrack.udp_timeout = seconds(-5);
         c.conntrack.udp_stream_timeout = seconds(-6);
       },
       {ct + ".MaxPerCore: Invalid value: -1: must be greater than or equal to 0",
        ct + ".Min: Invalid value: -2: must be greater than or equal to 0",
        ct + ".TCPEstablishedTimeout: Invalid value: -3s: must be greater than or equal to 0",
        ct + ".TCPCloseWaitTimeout: Invalid value: -4s: must be greater than or equal to 0",
        ct + ".UDPTimeout: Invalid value: -5s: must be greater than or equal to 0",
        ct + ".UDPStreamTimeout: Invalid value: -6s: must be greater than or equal to 0"}},
  });
}

TEST(ValidateConfigurationTest, OOMScoreAdj) {
  const std::string path = kRoot + ".KubeProxyLinuxConfiguration.OOMScoreAdj";
  runCases({
      {"-1000", [](auto& c) { c.oom_score_adj = -1000; }, {}},
      {"1000", [](auto& c) { c.oom_score_adj = 1000; }, {}},
      {"-1001",
       [](auto& c) { c.oom_score_adj = -1001; },
       {path + ": Invalid value: -1001: must be within the range [-1000, 1000]"}},
      {"1001",
       [](auto& c) { c.oom_score_adj = 1001; },
       {path + ": Invalid value: 1001: must be within the range [-1000, 1000]"}},
  });
}

TEST(ValidateConfigurationTest, Mode) {
  runCases({
      {"blank", [](auto& c) { c.mode = ""; }, {}},
      {"iptables", [](auto& c) { c.mode = "iptables"; }, {}},
      {"ipvs", [](auto& c) { c.mode = "ipvs"; }, {}},
      {"nftables", [](auto& c) { c.mode = "nftables"; }, {}},
      {"userspace",
       [](auto& c) { c.mode = "userspace"; },
       {kRoot + R"(.Mode.ProxyMode: Invalid value: "userspace": must be iptables, ipvs, nftables or blank )"
                "(blank means the best-available proxy [currently iptables])"}},
      {"kernelspace is Windows only",
       [](auto& c) { c.mode = "kernelspace"; },
       {kRoot + R"(.Mode.ProxyMode: Invalid value: "kernelspace": must be iptables, ipvs, nftables or blank )"
                "(blank means the best-available proxy [currently iptables])"}},
  });
}

TEST(ValidateConfigurationTest, ClientConnectionBurst) {
  runCases({
      {"0", [](auto& c) { c.client_connection.burst = 0; }, {}},
      {"-1",
       [](auto& c) { c.client_connection.burst = -1; },
       {kRoot + ".ClientConnection.Burst: Invalid value: -1: must be greater than or equal to 0"}},
  });
}

TEST(ValidateConfigurationTest, SyncPeriodsOfTheModeInUse) {
  runCases({
      {"iptables min equal to sync", [](auto& c) { c.iptables.min_sync_period = c.iptables.sync_period; }, {}},
      {"iptables min above sync",
       [](auto& c) {
         c.iptables.sync_period = seconds(10);
         c.iptables.min_sync_period = std::chrono::minutes(1);
       },
       {kRoot +
        ".SyncPeriod: Invalid value: 1m0s: must be greater than or equal to KubeProxyConfiguration.MinSyncPeriod"}},
      {"ipvs periods are ignored in iptables mode", [](auto& c) { c.ipvs.sync_period = seconds(-1); }, {}},
      {"ipvs mode uses the ipvs periods",
       [](auto& c) {
         c.mode = "ipvs";
         c.iptables.sync_period = seconds(-1);
         c.ipvs.sync_period = seconds(0);
         c.ipvs.min_sync_period = seconds(-2);
       },
       {kRoot + ".SyncPeriod: Invalid value: 0s: must be greater than 0",
        kRoot + ".MinSyncPeriod: Invalid value: -2s: must be greater than or equal to 0"}},
      {"nftables mode uses the nftables periods",
       [](auto& c) {
         c.mode = "nftables";
         c.nftables.sync_period = seconds(5);
         c.nftables.min_sync_period = seconds(6);
       },
       {kRoot +
        ".SyncPeriod: Invalid value: 6s: must be greater than or equal to KubeProxyConfiguration.MinSyncPeriod"}},
      {"configSyncPeriod",
       [](auto& c) { c.config_sync_period = seconds(0); },
       {kRoot + ".ConfigSyncPeriod: Invalid value: 0s: must be greater than 0"}},
  });
}

TEST(ValidateConfigurationTest, Addresses) {
  runCases({
      {"ipv6 everywhere",
       [](auto& c) {
         c.bind_address = "fd00::1";
         c.healthz_bind_address = "[::]:10256";
         c.metrics_bind_address = "[::1]:10249";
       },
       {}},
      {"sloppy IPv4 with leading zeros", [](auto& c) { c.bind_address = "010.000.0.1"; }, {}},
      {"healthz may be empty", [](auto& c) { c.healthz_bind_address = ""; }, {}},
      {"bad bindAddress",
       [](auto& c) { c.bind_address = "node-1"; },
       {kRoot + R"(.BindAddress: Invalid value: "node-1": not a valid textual representation of an IP address)"}},
      {"healthz without port",
       [](auto& c) { c.healthz_bind_address = "0.0.0.0"; },
       {kRoot + R"(.HealthzBindAddress: Invalid value: "0.0.0.0": must be IP:port)"}},
      {"healthz with a bad IP and port",
       [](auto& c) { c.healthz_bind_address = "localhost:http"; },
       {kRoot + R"(.HealthzBindAddress: Invalid value: "localhost": must be a valid IP)",
        kRoot + R"(.HealthzBindAddress: Invalid value: "http": must be a valid port)"}},
      {"metrics is required",
       [](auto& c) { c.metrics_bind_address = ""; },
       {kRoot + R"(.MetricsBindAddress: Invalid value: "": must be IP:port)"}},
      {"metrics port 0 and 65536",
       [](auto& c) {
         c.metrics_bind_address = "127.0.0.1:0";
         c.healthz_bind_address = "[::]:65536";
       },
       {kRoot + R"(.HealthzBindAddress: Invalid value: "65536": must be a valid port)",
        kRoot + R"(.MetricsBindAddress: Invalid value: "0": must be a valid port)"}},
      {"unbracketed ipv6",
       [](auto& c) { c.metrics_bind_address = "::1:10249"; },
       {kRoot + R"(.MetricsBindAddress: Invalid value: "::1:10249": must be IP:port)"}},
  });
}

TEST(ValidateConfigurationTest, PortRange) {
  const std::string path = kRoot + ".PortRange";
  const std::string detail = ": must be a valid port range (e.g. 300-2000)";
  runCases({
      {"empty", [](auto& c) { c.port_range = ""; }, {}},
      {"single", [](auto& c) { c.port_range = "8080"; }, {}},
      {"hyphen", [](auto& c) { c.port_range = "300-2000"; }, {}},
      {"plus", [](auto& c) { c.port_range = "300+100"; }, {}},
      {"spaces around", [](auto& c) { c.port_range = " 300-2000 "; }, {}},
      {"both notations", [](auto& c) { c.port_range = "1-2+3"; }, {path + R"(: Invalid value: "1-2+3")" + detail}},
      {"reversed", [](auto& c) { c.port_range = "2000-300"; }, {path + R"(: Invalid value: "2000-300")" + detail}},
      {"too high", [](auto& c) { c.port_range = "65000+1000"; }, {path + R"(: Invalid value: "65000+1000")" + detail}},
      {"not a number", [](auto& c) { c.port_range = "a-b"; }, {path + R"(: Invalid value: "a-b")" + detail}},
  });
}

TEST(ValidateConfigurationTest, NodePortAddresses) {
  const std::string path = kRoot + ".NodePortAddresses";
  runCases({
      {"CIDRs",
       [](auto& c) {
         c.node_port_addresses = {"10.0.0.0/8", "fd00::/64", "127.0.0.1/32"};
       },
       {}},
      {"primary", [](auto& c) { c.node_port_addresses = {"primary"}; }, {}},
      {"bad CIDR",
       [](auto& c) {
         c.node_port_addresses = {"10.0.0.0/8", "10.0.0.1"};
       },
       {path + R"([1]: Invalid value: "10.0.0.1": must be a valid CIDR)"}},
      {"primary first, then CIDRs",
       [](auto& c) {
         c.node_port_addresses = {"primary", "127.0.0.1/32", "x"};
       },
       {path + R"([0]: Invalid value: "primary": can't use both 'primary' and CIDRs)"}},
      {"CIDRs, then primary",
       [](auto& c) {
         c.node_port_addresses = {"x", "primary", "y"};
       },
       {path + R"([0]: Invalid value: "x": must be a valid CIDR)",
        path + R"([1]: Invalid value: "primary": can't use both 'primary' and CIDRs)"}},
  });
}

TEST(ValidateConfigurationTest, ShowHiddenMetricsForVersion) {
  runCases({
      {"previous minor", [](auto& c) { c.show_hidden_metrics_for_version = "1.32"; }, {}},
      {"older",
       [](auto& c) { c.show_hidden_metrics_for_version = "1.30"; },
       {kRoot + R"(.ShowHiddenMetricsForVersion: Invalid value: "1.30": --show-hidden-metrics-for-version must be )"
                "omitted or have the value '1.32'. Only the previous minor version is allowed"}},
  });
}

TEST(ValidateConfigurationTest, DetectLocal) {
  const std::string dl = kRoot + ".DetectLocalConfiguration";
  const std::string pair_message =
      "must be a either a single CIDR or dual-stack pair of CIDRs (e.g. [10.100.0.0/16, fde4:8dba:82e1::/48]";
  runCases({
      {"NodeCIDR", [](auto& c) { c.detect_local_mode = "NodeCIDR"; }, {}},
      {"BridgeInterface with a name",
       [](auto& c) {
         c.detect_local_mode = "BridgeInterface";
         c.detect_local.bridge_interface = "cbr0";
       },
       {}},
      {"InterfaceNamePrefix with a prefix",
       [](auto& c) {
         c.detect_local_mode = "InterfaceNamePrefix";
         c.detect_local.interface_name_prefix = "veth";
       },
       {}},
      {"unsupported mode",
       [](auto& c) { c.detect_local_mode = "PodCIDR"; },
       {kRoot + R"(.DetectLocalMode: Unsupported value: "PodCIDR": supported values: "ClusterCIDR", "NodeCIDR", )"
                R"("BridgeInterface", "InterfaceNamePrefix", "")"}},
      {"BridgeInterface without a name",
       [](auto& c) { c.detect_local_mode = "BridgeInterface"; },
       {dl + R"(.InterfaceName: Invalid value: "": must not be empty)"}},
      {"InterfaceNamePrefix without a prefix",
       [](auto& c) { c.detect_local_mode = "InterfaceNamePrefix"; },
       {dl + R"(.InterfacePrefix: Invalid value: "": must not be empty)"}},
      {"one cluster CIDR", [](auto& c) { c.cluster_cidr = "10.0.0.0/8"; }, {}},
      {"dual-stack pair", [](auto& c) { c.cluster_cidr = "10.0.0.0/8,fd00::/64"; }, {}},
      {"clusterCIDR unchecked in NodeCIDR mode",
       [](auto& c) {
         c.detect_local_mode = "NodeCIDR";
         c.cluster_cidr = "x";
       },
       {}},
      {"bad cluster CIDR (blank mode means ClusterCIDR)",
       [](auto& c) { c.cluster_cidr = "10.0.0.0"; },
       {dl +
        R"(.ClusterCIDRs[0]: Invalid value: "10.0.0.0": must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48))"}},
      {"same family twice",
       [](auto& c) { c.cluster_cidr = "10.0.0.0/8,10.1.0.0/16"; },
       {dl + R"(.ClusterCIDRs: Invalid value: []string{"10.0.0.0/8", "10.1.0.0/16"}: )" + pair_message}},
      {"a space after the comma",
       [](auto& c) {
         c.detect_local_mode = "ClusterCIDR";
         c.cluster_cidr = "10.0.0.0/8, fd00::/64";
       },
       {dl +
        R"(.ClusterCIDRs[1]: Invalid value: " fd00::/64": must be a valid CIDR block (e.g. 10.100.0.0/16 or fde4:8dba:82e1::/48))"}},
      {"three CIDRs",
       [](auto& c) { c.cluster_cidr = "10.0.0.0/8,fd00::/64,x"; },
       {dl + R"(.ClusterCIDRs: Invalid value: []string{"10.0.0.0/8", "fd00::/64", "x"}: )" + pair_message}},
  });
}

TEST(ValidateConfigurationTest, Logging) {
  const std::string log = kRoot + ".logging";
  runCases({
      {"json", [](auto& c) { c.logging.format = "json"; }, {}},
      {"text with vmodule", [](auto& c) { c.logging.vmodule = "proxier=4,tracker*=2"; }, {}},
      {"unknown format",
       [](auto& c) { c.logging.format = "xml"; },
       {log + R"(.format: Invalid value: "xml": Unsupported log format)"}},
      {"json disabled by its gate",
       [](auto& c) {
         c.logging.format = "json";
         c.feature_gates = {{"LoggingBetaOptions", false}};
       },
       {log + ".format: Forbidden: Log format json is disabled, see LoggingBetaOptions feature"}},
      {"vmodule with json",
       [](auto& c) {
         c.logging.format = "json";
         c.logging.vmodule = "a=1";
       },
       {log + ".vmodule: Forbidden: Only supported for text log format"}},
      {"vmodule without a pattern",
       [](auto& c) { c.logging.vmodule = "a=1,=2"; },
       {log + ".vmodule[1]: Required value: File pattern must not be empty"}},
      {"vmodule without a level",
       [](auto& c) { c.logging.vmodule = "a"; },
       {log + R"(.vmodule: Invalid value: "a": "a" does not have the pattern=N format)"}},
  });
}

TEST(ValidateConfigurationTest, CollectsEveryError) {
  KubeProxyConfiguration c;
  c.iptables.masquerade_bit = 40;
  c.mode = "bogus";
  c.oom_score_adj = 5000;
  c.bind_address = "";
  c.detect_local_mode = "BridgeInterface";
  EXPECT_EQ(validateConfiguration(c).size(), 5u);
}

TEST(FeatureGatesTest, KnownGatesAndDefaults) {
  std::map<std::string, bool> known;
  for (const auto& g : knownFeatureGates()) known[std::string(g.name)] = g.default_value;
  EXPECT_EQ(known.at(kPreferSameTrafficDistribution), false);
  EXPECT_EQ(known.at("ServiceTrafficDistribution"), true);
  EXPECT_EQ(known.at("TopologyAwareHints"), true);
  EXPECT_EQ(known.at("NFTablesProxyMode"), true);
  EXPECT_EQ(known.size(), knownFeatureGates().size()) << "duplicate gate names";
}

TEST(FeatureGatesTest, FeatureEnabled) {
  struct GateCase {
    std::string name;
    std::map<std::string, bool> gates;
    std::string gate;
    bool expected;
  };
  const std::vector<GateCase> cases = {
      {"default off", {}, kPreferSameTrafficDistribution, false},
      {"explicitly on", {{kPreferSameTrafficDistribution, true}}, kPreferSameTrafficDistribution, true},
      {"default on", {}, "TopologyAwareHints", true},
      {"AllAlpha turns alpha gates on", {{"AllAlpha", true}}, kPreferSameTrafficDistribution, true},
      {"an explicit value beats AllAlpha",
       {{"AllAlpha", true}, {kPreferSameTrafficDistribution, false}},
       kPreferSameTrafficDistribution,
       false},
      {"AllAlpha leaves beta gates alone", {{"AllAlpha", false}}, "LoggingBetaOptions", true},
      {"AllBeta turns beta gates off", {{"AllBeta", false}}, "LoggingBetaOptions", false},
      {"AllBeta leaves GA gates alone", {{"AllBeta", false}}, "TopologyAwareHints", true},
      {"unknown gate", {}, "NoSuchGate", false},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    KubeProxyConfiguration c;
    c.feature_gates = tc.gates;
    EXPECT_EQ(featureEnabled(c, tc.gate), tc.expected);
  }
}

}  // namespace
}  // namespace kproxy::config
