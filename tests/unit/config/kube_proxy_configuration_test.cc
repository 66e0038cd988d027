// decodeConfiguration / encodeConfiguration: defaults, every field, upstream's typing and
// defaulting quirks, the lenient fallback, hard errors, round trips, and arbitrary bytes.
#include "src/config/kube_proxy_configuration.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace kproxy::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kHeader[] = "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n";

KubeProxyConfiguration decodeOk(const std::string& yaml, std::vector<std::string>* warnings = nullptr) {
  auto decoded = decodeConfiguration(yaml, "config.yaml");
  EXPECT_TRUE(decoded.ok()) << (decoded.ok() ? "" : decoded.error().message);
  if (!decoded.ok()) return {};
  if (warnings != nullptr) {
    *warnings = decoded->warnings;
  } else {
    EXPECT_TRUE(decoded->warnings.empty()) << decoded->warnings.front();
  }
  return decoded->config;
}

// Every field of the struct, as the encoder writes it; a failed comparison shows a line diff.
void expectSameConfiguration(const KubeProxyConfiguration& actual, const KubeProxyConfiguration& expected) {
  EXPECT_EQ(encodeConfiguration(actual), encodeConfiguration(expected));
}

// The defaults, as kube-proxy --write-config-to prints them for an empty v1alpha1 file.
constexpr char kDefaultsYaml[] = R"(apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 10
  contentType: application/vnd.kubernetes.protobuf
  kubeconfig: ""
  qps: 5
clusterCIDR: ""
configSyncPeriod: 15m0s
conntrack:
  maxPerCore: 32768
  min: 131072
  tcpBeLiberal: false
  tcpCloseWaitTimeout: 1h0m0s
  tcpEstablishedTimeout: 24h0m0s
  udpStreamTimeout: 0s
  udpTimeout: 0s
detectLocal:
  bridgeInterface: ""
  interfaceNamePrefix: ""
detectLocalMode: ""
enableProfiling: false
featureGates: {}
healthzBindAddress: 0.0.0.0:10256
hostnameOverride: ""
iptables:
  localhostNodePorts: true
  masqueradeAll: false
  masqueradeBit: 14
  minSyncPeriod: 1s
  syncPeriod: 30s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 30s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
logging:
  flushFrequency: 5s
  format: text
  options:
    json:
      infoBufferSize: "0"
    text:
      infoBufferSize: "0"
  verbosity: 0
metricsBindAddress: 127.0.0.1:10249
mode: ""
nftables:
  masqueradeAll: false
  masqueradeBit: 14
  minSyncPeriod: 1s
  syncPeriod: 30s
nodePortAddresses: null
oomScoreAdj: -999
portRange: ""
showHiddenMetricsForVersion: ""
winkernel:
  enableDSR: false
  forwardHealthCheckVip: false
  networkName: ""
  rootHnsEndpointName: ""
  sourceVip: ""
windowsRunAsService: false
)";

// A file that sets every field to something other than its default.
constexpr char kEveryField[] = R"(apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
featureGates:
  PreferSameTrafficDistribution: true
  AllAlpha: false
clientConnection:
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  acceptContentTypes: application/json
  contentType: application/json
  qps: 7.5
  burst: 20
logging:
  format: json
  flushFrequency: 10s
  verbosity: 4
  vmodule:
  - filePattern: proxier*
    verbosity: 5
  - filePattern: tracker
    verbosity: 2
  options:
    text:
      splitStream: true
      infoBufferSize: 1Mi
    json:
      infoBufferSize: 0
hostnameOverride: node-1
bindAddress: 10.0.0.5
healthzBindAddress: 10.0.0.5:12345
metricsBindAddress: 0.0.0.0:9999
bindAddressHardFail: true
enableProfiling: true
showHiddenMetricsForVersion: "1.32"
mode: ipvs
iptables:
  masqueradeBit: 13
  masqueradeAll: true
  localhostNodePorts: false
  syncPeriod: 1m0s
  minSyncPeriod: 2s
ipvs:
  syncPeriod: 45s
  minSyncPeriod: 5s
  scheduler: wrr
  excludeCIDRs:
  - 10.1.0.0/16
  - fd00:1::/64
  strictARP: true
  tcpTimeout: 15m
  tcpFinTimeout: 30s
  udpTimeout: 300ms
nftables:
  masqueradeBit: 12
  masqueradeAll: true
  syncPeriod: 40s
  minSyncPeriod: 3s
conntrack:
  maxPerCore: 0
  min: 65536
  tcpEstablishedTimeout: 12h
  tcpCloseWaitTimeout: 30m
  tcpBeLiberal: true
  udpTimeout: 45s
  udpStreamTimeout: 2m
winkernel:
  networkName: vxlan0
  sourceVip: 10.0.0.1
  enableDSR: true
  rootHnsEndpointName: cbr0
  forwardHealthCheckVip: true
detectLocalMode: InterfaceNamePrefix
detectLocal:
  bridgeInterface: cbr0
  interfaceNamePrefix: veth
clusterCIDR: 10.244.0.0/16,fd00:10::/64
nodePortAddresses:
- 192.168.0.0/24
- fd00::/64
oomScoreAdj: -500
configSyncPeriod: 5m
portRange: 30000-32767
windowsRunAsService: true
)";

TEST(DecodeConfigurationTest, EmptyConfigurationHasUpstreamDefaults) {
  KubeProxyConfiguration c = decodeOk(kHeader);
  EXPECT_EQ(encodeConfiguration(c), kDefaultsYaml);
  expectSameConfiguration(c, KubeProxyConfiguration{});
  EXPECT_EQ(c.healthz_bind_address, "0.0.0.0:10256");
  EXPECT_EQ(c.metrics_bind_address, "127.0.0.1:10249");
  EXPECT_EQ(c.effectiveMode(), "iptables");
  EXPECT_EQ(c.effectiveDetectLocalMode(), "ClusterCIDR");
}

TEST(DecodeConfigurationTest, DecodesEveryField) {
  KubeProxyConfiguration c = decodeOk(kEveryField);
  EXPECT_EQ(c.feature_gates,
            (std::map<std::string, bool>{{"AllAlpha", false}, {"PreferSameTrafficDistribution", true}}));
  EXPECT_EQ(c.client_connection.kubeconfig, "/var/lib/kube-proxy/kubeconfig.conf");
  EXPECT_EQ(c.client_connection.accept_content_types, "application/json");
  EXPECT_EQ(c.client_connection.content_type, "application/json");
  EXPECT_FLOAT_EQ(c.client_connection.qps, 7.5f);
  EXPECT_EQ(c.client_connection.burst, 20);
  EXPECT_EQ(c.logging.format, "json");
  EXPECT_EQ(c.logging.flush_frequency, seconds(10));
  EXPECT_EQ(c.logging.verbosity, 4);
  EXPECT_EQ(c.logging.vmodule, "proxier*=5,tracker=2");
  EXPECT_EQ(c.hostname_override, "node-1");
  EXPECT_EQ(c.bind_address, "10.0.0.5");
  EXPECT_EQ(c.healthz_bind_address, "10.0.0.5:12345");
  EXPECT_EQ(c.metrics_bind_address, "0.0.0.0:9999");
  EXPECT_TRUE(c.bind_address_hard_fail);
  EXPECT_TRUE(c.enable_profiling);
  EXPECT_EQ(c.show_hidden_metrics_for_version, "1.32");
  EXPECT_EQ(c.mode, "ipvs");
  EXPECT_EQ(c.iptables.masquerade_bit, 13);
  EXPECT_TRUE(c.iptables.masquerade_all);
  EXPECT_FALSE(c.iptables.localhost_node_ports);
  EXPECT_EQ(c.iptables.sync_period, minutes(1));
  EXPECT_EQ(c.iptables.min_sync_period, seconds(2));
  EXPECT_EQ(c.ipvs.sync_period, seconds(45));
  EXPECT_EQ(c.ipvs.min_sync_period, seconds(5));
  EXPECT_EQ(c.ipvs.scheduler, "wrr");
  EXPECT_EQ(c.ipvs.exclude_cidrs, (std::vector<std::string>{"10.1.0.0/16", "fd00:1::/64"}));
  EXPECT_TRUE(c.ipvs.strict_arp);
  EXPECT_EQ(c.ipvs.tcp_timeout, minutes(15));
  EXPECT_EQ(c.ipvs.tcp_fin_timeout, seconds(30));
  EXPECT_EQ(c.ipvs.udp_timeout, milliseconds(300));
  EXPECT_EQ(c.nftables.masquerade_bit, 12);
  EXPECT_TRUE(c.nftables.masquerade_all);
  EXPECT_EQ(c.nftables.sync_period, seconds(40));
  EXPECT_EQ(c.nftables.min_sync_period, seconds(3));
  EXPECT_EQ(c.conntrack.max_per_core, 0);
  EXPECT_EQ(c.conntrack.min, 65536);
  EXPECT_EQ(c.conntrack.tcp_established_timeout, hours(12));
  EXPECT_EQ(c.conntrack.tcp_close_wait_timeout, minutes(30));
  EXPECT_TRUE(c.conntrack.tcp_be_liberal);
  EXPECT_EQ(c.conntrack.udp_timeout, seconds(45));
  EXPECT_EQ(c.conntrack.udp_stream_timeout, minutes(2));
  EXPECT_EQ(c.detect_local_mode, "InterfaceNamePrefix");
  EXPECT_EQ(c.detect_local.bridge_interface, "cbr0");
  EXPECT_EQ(c.detect_local.interface_name_prefix, "veth");
  EXPECT_EQ(c.cluster_cidr, "10.244.0.0/16,fd00:10::/64");
  EXPECT_EQ(c.node_port_addresses, (std::vector<std::string>{"192.168.0.0/24", "fd00::/64"}));
  EXPECT_EQ(c.oom_score_adj, -500);
  EXPECT_EQ(c.config_sync_period, minutes(5));
  EXPECT_EQ(c.port_range, "30000-32767");
  // Every value is valid on its own; upstream only objects to vmodule with the json format.
  auto errors = validateConfiguration(c);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "KubeProxyConfiguration.logging.vmodule: Forbidden: Only supported for text log format");
}

TEST(DecodeConfigurationTest, DecodesJson) {
  const std::string json = R"({
	"apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
	"kind": "KubeProxyConfiguration",
	"mode": "nftables",
	"featureGates": {"PreferSameTrafficDistribution": true},
	"clientConnection": {"qps": 50, "burst": 100},
	"iptables": {"masqueradeBit": 0, "syncPeriod": "10s", "localhostNodePorts": false},
	"nodePortAddresses": ["primary"],
	"logging": {"flushFrequency": 2000000000, "vmodule": [{"filePattern": "a", "verbosity": 3}]},
	"oomScoreAdj": null
})";
  KubeProxyConfiguration c = decodeOk(json);
  EXPECT_EQ(c.mode, "nftables");
  EXPECT_TRUE(featureEnabled(c, kPreferSameTrafficDistribution));
  EXPECT_FLOAT_EQ(c.client_connection.qps, 50);
  EXPECT_EQ(c.client_connection.burst, 100);
  EXPECT_EQ(c.iptables.masquerade_bit, 0);
  EXPECT_EQ(c.iptables.sync_period, seconds(10));
  EXPECT_FALSE(c.iptables.localhost_node_ports);
  EXPECT_EQ(c.node_port_addresses, std::vector<std::string>{"primary"});
  EXPECT_EQ(c.logging.flush_frequency, seconds(2));  // TimeOrMetaDuration: integer nanoseconds
  EXPECT_EQ(c.logging.vmodule, "a=3");
  EXPECT_EQ(c.oom_score_adj, -999);  // null is as good as absent
}

TEST(DecodeConfigurationTest, AppliesUpstreamDefaultingQuirks) {
  struct Case {
    std::string name;
    std::string body;
    std::function<void(const KubeProxyConfiguration&)> check;
  };
  const std::vector<Case> cases = {
      {"ipv6 bindAddress moves both default server addresses to IPv6", "bindAddress: \"::\"\n",
       [](const KubeProxyConfiguration& c) {
         EXPECT_EQ(c.healthz_bind_address, "[::]:10256");
         EXPECT_EQ(c.metrics_bind_address, "[::1]:10249");
       }},
      {"an invalid bindAddress also selects the IPv6 defaults", "bindAddress: foo\n",
       [](const KubeProxyConfiguration& c) {
         EXPECT_EQ(c.bind_address, "foo");
         EXPECT_EQ(c.healthz_bind_address, "[::]:10256");
       }},
      {"empty bindAddress is 0.0.0.0", "bindAddress: \"\"\n",
       [](const KubeProxyConfiguration& c) { EXPECT_EQ(c.bind_address, "0.0.0.0"); }},
      {"bare healthz and metrics IPs get their ports",
       "healthzBindAddress: 10.0.0.1\nmetricsBindAddress: \"fd00::1\"\n",
       [](const KubeProxyConfiguration& c) {
         EXPECT_EQ(c.healthz_bind_address, "10.0.0.1:10256");
         EXPECT_EQ(c.metrics_bind_address, "[fd00::1]:10249");
       }},
      {"empty healthzBindAddress is defaulted, not disabled", "healthzBindAddress: \"\"\n",
       [](const KubeProxyConfiguration& c) { EXPECT_EQ(c.healthz_bind_address, "0.0.0.0:10256"); }},
      {"a non-IP healthz address is kept for validation to report", "healthzBindAddress: localhost\n",
       [](const KubeProxyConfiguration& c) { EXPECT_EQ(c.healthz_bind_address, "localhost"); }},
      {"zero sync periods are defaulted",
       "iptables: {syncPeriod: 0s, minSyncPeriod: 0s}\nipvs: {syncPeriod: 0s, minSyncPeriod: 0s}\n"
       "nftables: {syncPeriod: 0s, minSyncPeriod: 0s}\nconfigSyncPeriod: 0s\n",
       [](const KubeProxyConfiguration& c) {
         EXPECT_EQ(c.iptables.sync_period, seconds(30));
         EXPECT_EQ(c.iptables.min_sync_period, seconds(1));
         EXPECT_EQ(c.ipvs.sync_period, seconds(30));
         EXPECT_EQ(c.ipvs.min_sync_period, seconds(0));
         EXPECT_EQ(c.nftables.sync_period, seconds(30));
         EXPECT_EQ(c.nftables.min_sync_period, seconds(1));
         EXPECT_EQ(c.config_sync_period, minutes(15));
       }},
      {"pointer fields keep an explicit zero",
       "iptables: {masqueradeBit: 0}\nnftables: {masqueradeBit: 0}\noomScoreAdj: 0\n"
       "conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}\n",
       [](const KubeProxyConfiguration& c) {
         EXPECT_EQ(c.iptables.masquerade_bit, 0);
         EXPECT_EQ(c.nftables.masquerade_bit, 0);
         EXPECT_EQ(c.oom_score_adj, 0);
         EXPECT_EQ(c.conntrack.max_per_core, 0);
         EXPECT_EQ(c.conntrack.min, 0);
         EXPECT_EQ(c.conntrack.tcp_established_timeout, seconds(0));
         EXPECT_EQ(c.conntrack.tcp_close_wait_timeout, seconds(0));
       }},
      {"zero client connection values are defaulted",
       "clientConnection: {qps: 0, burst: 0, contentType: \"\"}\nlogging: {format: \"\", flushFrequency: 0s}\n",
       [](const KubeProxyConfiguration& c) {
         EXPECT_FLOAT_EQ(c.client_connection.qps, 5);
         EXPECT_EQ(c.client_connection.burst, 10);
         EXPECT_EQ(c.client_connection.content_type, "application/vnd.kubernetes.protobuf");
         EXPECT_EQ(c.logging.format, "text");
         EXPECT_EQ(c.logging.flush_frequency, seconds(5));
       }},
      {"YAML 1.1 booleans and integers, as go-yaml v2 reads them",
       "iptables: {localhostNodePorts: off, masqueradeAll: yes, masqueradeBit: 0x0e}\n"
       "nftables: {masqueradeBit: 010}\noomScoreAdj: -1_000\nclientConnection: {burst: 1e2}\n",
       [](const KubeProxyConfiguration& c) {
         EXPECT_FALSE(c.iptables.localhost_node_ports);
         EXPECT_TRUE(c.iptables.masquerade_all);
         EXPECT_EQ(c.iptables.masquerade_bit, 14);
         EXPECT_EQ(c.nftables.masquerade_bit, 8);  // octal
         EXPECT_EQ(c.oom_score_adj, -1000);
         EXPECT_EQ(c.client_connection.burst, 100);
       }},
      {"null lists are empty, null items are empty strings", "nodePortAddresses: ~\nipvs: {excludeCIDRs: [~, a]}\n",
       [](const KubeProxyConfiguration& c) {
         EXPECT_TRUE(c.node_port_addresses.empty());
         EXPECT_EQ(c.ipvs.exclude_cidrs, (std::vector<std::string>{"", "a"}));
       }},
      {"quoted scalars are strings",
       "mode: \"ipvs\"\nhostnameOverride: '123'\nshowHiddenMetricsForVersion: !!str 1.32\n",
       [](const KubeProxyConfiguration& c) {
         EXPECT_EQ(c.mode, "ipvs");
         EXPECT_EQ(c.hostname_override, "123");
         EXPECT_EQ(c.show_hidden_metrics_for_version, "1.32");
       }},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    tc.check(decodeOk(kHeader + tc.body));
  }
}

TEST(DecodeConfigurationTest, FallsBackToLenientDecodingWithAWarning) {
  const std::string yaml = std::string(kHeader) +
                           "mode: iptables\n"           // 3
                           "udpIdleTimeout: 250ms\n"    // 4: removed from v1alpha1 long ago
                           "iptables:\n"                // 5
                           "  masqueradeBit: 10\n"      // 6
                           "  masqueradeBit: 12\n"      // 7: duplicate, the last wins
                           "  bogus: {deep: [1, 2]}\n"  // 8
                           "mode: ipvs\n";              // 9: duplicate, the last wins
  std::vector<std::string> warnings;
  KubeProxyConfiguration c = decodeOk(yaml, &warnings);
  EXPECT_EQ(c.mode, "ipvs");
  EXPECT_EQ(c.iptables.masquerade_bit, 12);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(warnings[0],
            "Using lenient decoding as strict decoding failed: strict decoding error: "
            "config.yaml:4: unknown field \"udpIdleTimeout\", "
            "config.yaml:7: duplicate field \"iptables.masqueradeBit\", "
            "config.yaml:8: unknown field \"iptables.bogus\", "
            "config.yaml:9: duplicate field \"mode\"");
}

TEST(DecodeConfigurationTest, ADuplicateKeyHidesTheBadValueItReplaces) {
  std::vector<std::string> warnings;
  KubeProxyConfiguration c = decodeOk(std::string(kHeader) + "oomScoreAdj: lots\noomScoreAdj: 5\n", &warnings);
  EXPECT_EQ(c.oom_score_adj, 5);
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(DecodeConfigurationTest, FailsOnNonStrictErrors) {
  struct Case {
    std::string name;
    std::string yaml;
    std::string expected_error;
  };
  const std::string h = kHeader;
  const std::vector<Case> cases = {
      {"yaml syntax", h + "mode: [iptables\n", "config.yaml:4: failed to decode: yaml: end of sequence flow not found"},
      {"bad indentation", h + "iptables:\n  masqueradeBit: 1\n bogus: 2\n",
       "config.yaml:5: failed to decode: yaml: end of map not found"},
      {"empty file", "", "config.yaml: failed to decode: Object 'Kind' is missing"},
      {"comment only", "# nothing\n", "config.yaml: failed to decode: Object 'Kind' is missing"},
      {"missing kind", "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nmode: ipvs\n",
       "config.yaml: failed to decode: Object 'Kind' is missing"},
      {"missing apiVersion", "kind: KubeProxyConfiguration\n",
       "config.yaml: failed to decode: Object 'apiVersion' is missing"},
      {"unknown apiVersion", "apiVersion: kubeproxy.config.k8s.io/v1beta1\nkind: KubeProxyConfiguration\n",
       "config.yaml:2: failed to decode: no kind \"KubeProxyConfiguration\" is registered for version "
       "\"kubeproxy.config.k8s.io/v1beta1\""},
      {"another kind", "apiVersion: v1\nkind: ConfigMap\ndata: {}\n",
       "config.yaml:2: got unexpected config type: v1, Kind=ConfigMap"},
      {"another kind of our group", "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeletConfiguration\n",
       "config.yaml:2: got unexpected config type: kubeproxy.config.k8s.io/v1alpha1, Kind=KubeletConfiguration"},
      {"not a mapping", "- a\n- b\n",
       "config.yaml:1: failed to decode: cannot unmarshal array into KubeProxyConfiguration"},
      {"kind is not a string", "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: 5\n",
       "config.yaml:2: kind: cannot unmarshal number 5 into string"},
      {"bool into string", h + "mode: yes\n", "config.yaml:3: mode: cannot unmarshal bool true into string"},
      {"number into string", h + "showHiddenMetricsForVersion: 1.32\n",
       "config.yaml:3: showHiddenMetricsForVersion: cannot unmarshal number 1.32 into string"},
      {"string into int32", h + "iptables:\n  masqueradeBit: \"14\"\n",
       "config.yaml:4: iptables.masqueradeBit: cannot unmarshal string \"14\" into int32"},
      {"int32 overflow", h + "conntrack:\n  min: 3000000000\n",
       "config.yaml:4: conntrack.min: cannot unmarshal number 3000000000 into int32"},
      {"fraction into int32", h + "oomScoreAdj: 1.5\n",
       "config.yaml:3: oomScoreAdj: cannot unmarshal number 1.5 into int32"},
      {"negative uint32", h + "logging:\n  verbosity: -1\n",
       "config.yaml:4: logging.verbosity: cannot unmarshal number -1 into uint32"},
      {"string into bool", h + "enableProfiling: \"true\"\n",
       "config.yaml:3: enableProfiling: cannot unmarshal string \"true\" into bool"},
      {"number into duration", h + "iptables:\n  minSyncPeriod: 0\n",
       "config.yaml:4: iptables.minSyncPeriod: cannot unmarshal number 0 into duration (a string such as \"30s\")"},
      {"bad duration", h + "ipvs:\n  syncPeriod: 30 seconds\n",
       "config.yaml:4: ipvs.syncPeriod: time: unknown unit \" seconds\" in duration \"30 seconds\""},
      {"feature gate value not a bool", h + "featureGates:\n  PreferSameTrafficDistribution: \"true\"\n",
       "config.yaml:4: featureGates.PreferSameTrafficDistribution: cannot unmarshal string \"true\" into bool"},
      {"featureGates not a map", h + "featureGates: [a]\n",
       "config.yaml:3: featureGates: cannot unmarshal array into object"},
      {"section not a map", h + "iptables: true\n", "config.yaml:3: iptables: cannot unmarshal bool true into object"},
      {"list not a list", h + "nodePortAddresses: primary\n",
       "config.yaml:3: nodePortAddresses: cannot unmarshal string \"primary\" into []string"},
      {"list item not a string", h + "nodePortAddresses:\n- 10.0.0.0/8\n- [a]\n",
       "config.yaml:5: nodePortAddresses[1]: cannot unmarshal array into string"},
      {"vmodule as text", h + "logging:\n  vmodule: a=1\n",
       "config.yaml:4: logging.vmodule: cannot unmarshal string \"a=1\" into []VModuleItem"},
      {"windows fields are still type-checked", h + "winkernel:\n  enableDSR: 1\n",
       "config.yaml:4: winkernel.enableDSR: cannot unmarshal number 1 into bool"},
      {"qps overflow", h + "clientConnection:\n  qps: 1e39\n",
       "config.yaml:4: clientConnection.qps: cannot unmarshal number 1e39 into float32"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto decoded = decodeConfiguration(tc.yaml, "config.yaml");
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().message, tc.expected_error);
  }
}

TEST(EncodeConfigurationTest, RoundTrips) {
  KubeProxyConfiguration ipv6 = decodeOk(std::string(kHeader) + "bindAddress: \"fd00::5\"\n");
  KubeProxyConfiguration odd_strings;
  odd_strings.hostname_override = "yes";
  odd_strings.cluster_cidr = "10.0.0.0/8,fd00::/64";
  odd_strings.ipvs.scheduler = "with \"quotes\", a # and: colon\n";
  odd_strings.detect_local.bridge_interface = "-br";
  odd_strings.port_range = "300+5";
  odd_strings.show_hidden_metrics_for_version = "1.32";
  odd_strings.logging.vmodule = "a=1,b*=22";
  odd_strings.feature_gates = {{"AllAlpha", true}, {"LoggingBetaOptions", false}};
  odd_strings.client_connection.qps = 0.1f;
  odd_strings.ipvs.udp_timeout = std::chrono::microseconds(1500);
  odd_strings.conntrack.udp_timeout = Duration(-1);
  struct Case {
    std::string name;
    KubeProxyConfiguration config;
  };
  const std::vector<Case> cases = {
      {"defaults", KubeProxyConfiguration{}},
      {"every field", decodeOk(kEveryField)},
      {"ipv6 defaults", ipv6},
      {"strings that need quoting", odd_strings},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    std::string encoded = encodeConfiguration(tc.config);
    KubeProxyConfiguration back = decodeOk(encoded);
    expectSameConfiguration(back, tc.config);
    EXPECT_EQ(back.hostname_override, tc.config.hostname_override);
    EXPECT_EQ(back.ipvs.scheduler, tc.config.ipvs.scheduler);
    EXPECT_EQ(back.client_connection.qps, tc.config.client_connection.qps);
    EXPECT_EQ(back.logging.vmodule, tc.config.logging.vmodule);
    EXPECT_EQ(back.feature_gates, tc.config.feature_gates);
  }
}

TEST(EncodeConfigurationTest, WritesUpstreamFieldNamesAndGoDurations) {
  KubeProxyConfiguration c = decodeOk(kEveryField);
  std::string yaml = encodeConfiguration(c);
  for (const char* expected :
       {"  tcpTimeout: 15m0s\n", "  udpTimeout: 300ms\n", "  tcpEstablishedTimeout: 12h0m0s\n",
        "configSyncPeriod: 5m0s\n", "  qps: 7.5\n", "showHiddenMetricsForVersion: \"1.32\"\n",
        "  excludeCIDRs:\n  - 10.1.0.0/16\n  - fd00:1::/64\n",
        "  vmodule:\n  - filePattern: \"proxier*\"\n    verbosity: 5\n  - filePattern: tracker\n    verbosity: 2\n",
        "featureGates:\n  AllAlpha: false\n  PreferSameTrafficDistribution: true\n"}) {
    EXPECT_NE(yaml.find(expected), std::string::npos) << expected << "\nnot in:\n" << yaml;
  }
}

// Whatever the bytes, decoding returns a value or an error and never throws or crashes.
TEST(DecodeConfigurationTest, NeverCrashesOnArbitraryBytes) {
  std::mt19937 rng(20240601);
  const std::string seeds[] = {kEveryField, kDefaultsYaml, "{\"a\": [1, {\"b\": null}]}", "a: &x [*x]\n"};
  const std::string alphabet = "{}[]:,-?!&*|>'\"#%@` \n\t\\0123456789abcxyz.~\x80\xff";
  for (int round = 0; round < 3000; ++round) {
    std::string input = seeds[round % 4];
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits && !input.empty(); ++e) {
      size_t pos = rng() % input.size();
      switch (rng() % 3) {
        case 0:
          input[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          input.erase(pos, 1 + rng() % 5);
          break;
        default:
          input.insert(pos, 1, alphabet[rng() % alphabet.size()]);
      }
    }
    auto decoded = decodeConfiguration(input, "fuzz.yaml");
    if (decoded.ok()) (void)validateConfiguration(decoded->config);
  }
  const std::string deep(5000, '[');
  EXPECT_FALSE(decodeConfiguration(deep, "deep.yaml").ok());
  EXPECT_FALSE(decodeConfiguration(std::string("\0\xff\xfe", 3), "nul.yaml").ok());
}

}  // namespace
}  // namespace kproxy::config
