// The tracer agrees with the kernel (issue 7 item 3): for each flow, `kproxy trace` predicts where
// the first packet of a new connection goes, and real connections through the rules a running
// `kproxy run` wrote must bear it out.
//
// Each flow is traced twice, with the built binary:
//   * planned: `kproxy trace -o json -f objects.yaml --config config.yaml --hostname-override node-1
//     --node-facts facts.yaml`, the same inputs the live daemon reads (the facts are what
//     `kproxy facts` probes in the node namespace, i.e. what the daemon itself probed);
//   * live: `<iptables-save of the back end> | kproxy trace --rules - -o json`, run inside the node
//     namespace, so the machine's own addresses are the local ones.
// Both predictions must be the same, and for each of them:
//   * endpoints predicted: every connection is answered, by a backend among the predicted ones, and
//     over the flow's connections (200 where several endpoints are predicted) every predicted
//     backend answers at least once (sessionAffinity ClientIP: exactly one answers);
//   * masquerade: the source the backend sees is the node's address towards pods (10.244.0.1)
//     when trace says masquerade, the client's own address when it says no;
//   * REJECT: every connection is refused at once (ECONNREFUSED); DROP: it times out.
// The topology is described in packet_topology.h. Note that upstream's tracer, which kproxy's
// follows, reports one masquerade answer for all endpoints together, so the hairpin flow (a pod to
// its own service) uses a service whose only endpoint is that pod.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "src/util/subprocess.h"
#include "tests/netns/packet_topology.h"

namespace kproxy::netns {
namespace {

using std::chrono::milliseconds;

// What one `kproxy trace -o json` said.
struct Prediction {
  std::vector<std::string> outputs;  // endpoints "ip:port" and/or ACCEPT / REJECT / DROP, in order
  bool masquerade = false;
  std::string json;  // the whole answer, for failure messages

  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& o : outputs) {
      if (o != "ACCEPT" && o != "REJECT" && o != "DROP") out.push_back(o);
    }
    return out;
  }
  // REJECT or DROP when a filter rule refuses the packet, else "".
  std::string refusal() const {
    for (const auto& o : outputs) {
      if (o == "REJECT" || o == "DROP") return o;
    }
    return "";
  }
};

Result<Prediction> parsePrediction(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json).get(doc) != simdjson::SUCCESS) return Error("trace output is not JSON: " + json);
  Prediction p;
  p.json = json;
  simdjson::dom::array outputs;
  if (doc["outputs"].get_array().get(outputs) != simdjson::SUCCESS) return Error("no \"outputs\" array in " + json);
  for (auto o : outputs) {
    std::string_view s;
    if (o.get_string().get(s) != simdjson::SUCCESS) return Error("an output is not a string in " + json);
    p.outputs.emplace_back(s);
  }
  if (doc["masquerade"].get_bool().get(p.masquerade) != simdjson::SUCCESS) return Error("no \"masquerade\" in " + json);
  return p;
}

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

// One kind of connection: from a namespace and source address to a destination.
struct Flow {
  std::string name;
  std::string from;    // namespace of the client
  std::string source;  // the address the client binds (and trace's --src)
  std::string dst;
  uint16_t port = 0;
  std::string protocol = "tcp";
  int connections = 200;
  bool affinity = false;  // sessionAffinity ClientIP: one client is served by one backend
  // What the scenario is about, as upstream's rules decide it: checked against the prediction,
  // so that each flow really exercises what its name says.
  std::set<std::string> expect_backends;  // pods; empty when a verdict refuses the packet
  bool expect_masquerade = false;
  std::string expect_refusal;  // REJECT, DROP or ""
};

const std::vector<PodSpec> kBackendPods = {kPodA, kPodB, kPodC};

std::string podOfEndpoint(const std::string& endpoint) {
  for (const auto& pod : kBackendPods) {
    if (endpoint == pod.ip + ":" + std::to_string(kBackendPort)) return pod.name;
  }
  return "";
}

// Every service of the flows below, in one cluster state. Endpoints on "node-2" are pods of this
// topology that the slice places on another node: reachable, so only the rules decide.
std::vector<ServiceSpec> clusterServices() {
  const std::vector<EndpointRef> all_local = {{.ip = kPodA.ip}, {.ip = kPodB.ip}, {.ip = kPodC.ip}};
  const std::vector<EndpointRef> one_local = {
      {.ip = kPodA.ip}, {.ip = kPodB.ip, .node = "node-2"}, {.ip = kPodC.ip, .node = "node-2"}};
  ServiceSpec web{.name = "web",
                  .type = "NodePort",
                  .cluster_ip = "10.96.0.10",
                  .ports = {{.name = "http", .protocol = "TCP", .port = 80, .node_port = 30080},
                            {.name = "dns", .protocol = "UDP", .port = 53, .node_port = 30053}},
                  .endpoints = all_local};
  ServiceSpec etp_cluster{.name = "etp-cluster",
                          .type = "NodePort",
                          .cluster_ip = "10.96.0.20",
                          .ports = {{.name = "http", .port = 80, .node_port = 30081}},
                          .external_traffic_policy = "Cluster",
                          .endpoints = one_local};
  ServiceSpec etp_local = etp_cluster;
  etp_local.name = "etp-local";
  etp_local.cluster_ip = "10.96.0.21";
  etp_local.ports = {{.name = "http", .port = 80, .node_port = 30082}};
  etp_local.external_traffic_policy = "Local";
  ServiceSpec itp_local{.name = "itp-local",
                        .cluster_ip = "10.96.0.30",
                        .ports = {{.name = "http", .port = 80}},
                        .endpoints = one_local};
  itp_local.internal_traffic_policy = "Local";
  ServiceSpec sticky{.name = "sticky",
                     .cluster_ip = "10.96.0.40",
                     .ports = {{.name = "http", .port = 80}},
                     .client_ip_affinity = true,
                     .endpoints = all_local};
  ServiceSpec empty{.name = "empty",
                    .type = "NodePort",
                    .cluster_ip = "10.96.0.50",
                    .ports = {{.name = "http", .port = 80, .node_port = 30090}},
                    .endpoints = {}};
  ServiceSpec lb{.name = "lb",
                 .type = "LoadBalancer",
                 .cluster_ip = "10.96.0.60",
                 .ports = {{.name = "http", .port = 80, .node_port = 30083}},
                 .load_balancer_ips = {"198.51.100.7"},
                 .source_ranges = {std::string(kExternalClientA) + "/32"},
                 .endpoints = {{.ip = kPodA.ip}, {.ip = kPodB.ip}}};
  ServiceSpec only_a{.name = "only-a",
                     .cluster_ip = "10.96.0.70",
                     .ports = {{.name = "http", .port = 80}},
                     .endpoints = {{.ip = kPodA.ip}}};
  return {web, etp_cluster, etp_local, itp_local, sticky, empty, lb, only_a};
}

class TraceAgreementTest : public PacketTest {
 protected:
  // Pods, kproxy with every service, and the node facts file for the planned trace.
  void startCluster() {
    std::vector<PodSpec> pods = kBackendPods;
    pods.push_back(kClientPod);
    ASSERT_NO_FATAL_FAILURE(addBackends(pods));
    ASSERT_NO_FATAL_FAILURE(startKproxy(clusterServices()));
    auto binary = kproxyBinary();
    ASSERT_TRUE(binary.ok()) << binary.error().message;
    binary_ = *binary;
    auto facts = topo().execIn(topo().nodeNs(), {binary_, "facts"});
    ASSERT_TRUE(facts.ok()) << facts.error().message;
    facts_path_ = topo().workDir() + "/node-facts.yaml";
    std::ofstream out(facts_path_);
    out << *facts;
    out.flush();
    ASSERT_TRUE(out.good()) << "cannot write " << facts_path_;
  }

  std::vector<std::string> packetArgs(const Flow& f) const {
    return {"--src", f.source, "--dst", f.dst, "--dport", std::to_string(f.port), "--protocol", f.protocol, "-o", "json"};
  }

  // kproxy trace -f ... on the inputs of the running daemon.
  Result<Prediction> tracePlanned(const Flow& f) const {
    std::vector<std::string> argv = {binary_,
                                     "trace",
                                     "-f",
                                     workFile("objects.yaml"),
                                     "--config",
                                     workFile("config.yaml"),
                                     "--hostname-override",
                                     kNodeName,
                                     "--node-facts",
                                     facts_path_};
    for (const auto& a : packetArgs(f)) argv.push_back(a);
    auto r = runProcess(argv, {}, {.timeout = milliseconds(20000)});
    if (!r.ok()) return r.error();
    if (!r->succeeded()) return Error(commandLine(argv) + ": exit " + std::to_string(r->exit_code) + ": " + r->err);
    return parsePrediction(r->out);
  }

  // iptables-save | kproxy trace --rules - ... inside the node namespace.
  Result<Prediction> traceLive(const Flow& f) const {
    const std::string save = GetParam() == IptablesBackendChoice::kNft ? "iptables-nft-save" : "iptables-legacy-save";
    std::string pipeline = "set -o pipefail; " + save + " | " + shellQuote(binary_) + " trace --rules -";
    for (const auto& a : packetArgs(f)) pipeline += " " + shellQuote(a);
    auto out = topologyRef().execIn(topologyRef().nodeNs(), {"bash", "-c", pipeline});
    if (!out.ok()) return out.error();
    return parsePrediction(*out);
  }

  Reply connect(const Flow& f, milliseconds timeout) const {
    const RequestOptions options{.source_ip = f.source, .timeout = timeout};
    return f.protocol == "udp" ? topologyRef().udpRequest(f.from, f.dst, f.port, options)
                               : topologyRef().tcpRequest(f.from, f.dst, f.port, options);
  }

  // Real connections against one prediction (see the header comment).
  void checkConnections(const Flow& f, const Prediction& p, const std::string& which) {
    SCOPED_TRACE(which + " trace said " + p.json);
    const std::string refusal = p.refusal();
    if (!refusal.empty()) {
      const int expected = refusal == "REJECT" ? ECONNREFUSED : ETIMEDOUT;
      // A few show it: a drop costs the whole timeout per connection, and the kernel rate-limits
      // the ICMP errors REJECT sends (icmp_ratelimit), so after the first a refusal can take until
      // the SYN is retransmitted, about a second.
      const int n = refusal == "REJECT" ? 5 : 3;
      milliseconds slowest{0};
      for (int i = 0; i < n; ++i) {
        const Reply reply = connect(f, milliseconds(refusal == "REJECT" ? 5000 : 1000));
        slowest = std::max(slowest, reply.elapsed);
        ASSERT_EQ(reply.error, expected) << "connection " << i << ": " << reply.describe();
      }
      std::printf("[trace-agreement] %s / %s (%s): %s; %d connections all %s; slowest %lld ms\n", backendName(GetParam()),
                  f.name.c_str(), which.c_str(), refusal.c_str(), n, refusal == "REJECT" ? "refused" : "timed out",
                  static_cast<long long>(slowest.count()));
      return;
    }
    const auto endpoints = p.endpoints();
    ASSERT_FALSE(endpoints.empty()) << "the flows of this test all have endpoints or a verdict";
    std::set<std::string> predicted;
    for (const auto& e : endpoints) {
      const std::string pod = podOfEndpoint(e);
      ASSERT_FALSE(pod.empty()) << "trace predicted " << e << ", which is no backend pod of this topology";
      predicted.insert(pod);
    }
    const std::string expected_source = p.masquerade ? kNodePodGateway : f.source;
    std::map<std::string, int> hits;
    milliseconds slowest{0};
    for (int i = 0; i < f.connections; ++i) {
      const Reply reply = connect(f, milliseconds(2000));
      slowest = std::max(slowest, reply.elapsed);
      ASSERT_TRUE(reply.ok()) << "connection " << i << ": " << reply.describe();
      ASSERT_EQ(predicted.count(reply.backend), 1u)
          << "connection " << i << " reached a backend trace did not predict: " << reply.describe();
      ASSERT_EQ(reply.source, expected_source)
          << "connection " << i << ": trace said masquerade " << (p.masquerade ? "yes" : "no") << ", but "
          << reply.describe();
      ++hits[reply.backend];
    }
    std::string summary;
    for (const auto& [backend, n] : hits) summary += backend + "=" + std::to_string(n) + " ";
    if (f.affinity) {
      EXPECT_EQ(hits.size(), 1u) << "sessionAffinity ClientIP, yet one client was served by " << summary;
    } else {
      // With k equally likely endpoints, one of them missing from 200 connections has probability
      // below k * (1 - 1/k)^200 (< 1e-30 for k = 3).
      for (const auto& pod : predicted) {
        EXPECT_GT(hits[pod], 0) << "predicted backend " << pod << " never answered in " << f.connections
                                << " connections: " << summary;
      }
    }
    std::printf("[trace-agreement] %s / %s (%s): predicted %s masquerade %s; %d connections: %ssource seen %s; slowest %lld ms\n",
                backendName(GetParam()), f.name.c_str(), which.c_str(), ::testing::PrintToString(predicted).c_str(),
                p.masquerade ? "yes" : "no", f.connections, summary.c_str(), expected_source.c_str(),
                static_cast<long long>(slowest.count()));
  }

  void checkFlow(const Flow& f) {
    SCOPED_TRACE("flow \"" + f.name + "\": " + f.protocol + " " + f.source + " -> " + f.dst + ":" + std::to_string(f.port));
    auto planned = tracePlanned(f);
    ASSERT_TRUE(planned.ok()) << planned.error().message;
    auto live = traceLive(f);
    ASSERT_TRUE(live.ok()) << live.error().message;
    EXPECT_EQ(planned->outputs, live->outputs) << "planned: " << planned->json << "live: " << live->json;
    EXPECT_EQ(planned->masquerade, live->masquerade) << "planned: " << planned->json << "live: " << live->json;
    std::set<std::string> predicted_pods;
    for (const auto& e : planned->endpoints()) predicted_pods.insert(podOfEndpoint(e));
    EXPECT_EQ(planned->refusal(), f.expect_refusal) << planned->json;
    if (f.expect_refusal.empty()) {
      EXPECT_EQ(predicted_pods, f.expect_backends) << planned->json;
      EXPECT_EQ(planned->masquerade, f.expect_masquerade) << planned->json;
    }
    if (planned->outputs == live->outputs && planned->masquerade == live->masquerade) {
      ASSERT_NO_FATAL_FAILURE(checkConnections(f, *planned, "planned = live"));
    } else {
      // Already a failure; still show which of the two the kernel bears out.
      ASSERT_NO_FATAL_FAILURE(checkConnections(f, *planned, "planned"));
      ASSERT_NO_FATAL_FAILURE(checkConnections(f, *live, "live"));
    }
  }

  const PacketTopology& topologyRef() const { return *topology_; }
  std::string workFile(const std::string& file) const { return topology_->workDir() + "/" + file; }

  std::string binary_;
  std::string facts_path_;
};

TEST_P(TraceAgreementTest, ClusterIpFromPodAndFromNode) {
  ASSERT_NO_FATAL_FAILURE(startCluster());
  const std::string client = topo().podNs("client");
  const std::vector<Flow> flows = {
      // detectLocalMode ClusterCIDR, the pod's address is in it: not masqueraded.
      {.name = "client pod to ClusterIP, TCP", .from = client, .source = kClientPod.ip, .dst = "10.96.0.10",
       .port = 80, .expect_backends = {"a", "b", "c"}, .expect_masquerade = false},
      {.name = "client pod to ClusterIP, UDP", .from = client, .source = kClientPod.ip, .dst = "10.96.0.10",
       .port = 53, .protocol = "udp", .expect_backends = {"a", "b", "c"}, .expect_masquerade = false},
      // The node's own address is outside the cluster CIDR: masqueraded.
      {.name = "node to ClusterIP, TCP", .from = topo().nodeNs(), .source = kNodeIp, .dst = "10.96.0.10", .port = 80,
       .expect_backends = {"a", "b", "c"}, .expect_masquerade = true},
      // Hairpin: a pod reaching itself through its service is masqueraded.
      {.name = "pod a to its own service (hairpin)", .from = topo().podNs("a"), .source = kPodA.ip,
       .dst = "10.96.0.70", .port = 80, .connections = 20, .expect_backends = {"a"}, .expect_masquerade = true},
  };
  for (const auto& f : flows) ASSERT_NO_FATAL_FAILURE(checkFlow(f));
}

TEST_P(TraceAgreementTest, NodePortFromExternalClientWithEachTrafficPolicy) {
  ASSERT_NO_FATAL_FAILURE(startCluster());
  const std::string ext = topo().externalNs();
  const std::vector<Flow> flows = {
      // externalTrafficPolicy Cluster: every endpoint (also those of node-2), source masqueraded.
      {.name = "external to NodePort, eTP Cluster", .from = ext, .source = kExternalClientA, .dst = kNodeIp,
       .port = 30081, .expect_backends = {"a", "b", "c"}, .expect_masquerade = true},
      {.name = "external to NodePort, eTP Cluster, UDP", .from = ext, .source = kExternalClientA, .dst = kNodeIp,
       .port = 30053, .protocol = "udp", .expect_backends = {"a", "b", "c"}, .expect_masquerade = true},
      // externalTrafficPolicy Local: only this node's endpoint, client address kept.
      {.name = "external to NodePort, eTP Local", .from = ext, .source = kExternalClientA, .dst = kNodeIp,
       .port = 30082, .connections = 50, .expect_backends = {"a"}, .expect_masquerade = false},
  };
  for (const auto& f : flows) ASSERT_NO_FATAL_FAILURE(checkFlow(f));
}

TEST_P(TraceAgreementTest, InternalTrafficPolicyLocal) {
  ASSERT_NO_FATAL_FAILURE(startCluster());
  const std::vector<Flow> flows = {
      {.name = "client pod to ClusterIP, iTP Local", .from = topo().podNs("client"), .source = kClientPod.ip,
       .dst = "10.96.0.30", .port = 80, .connections = 50, .expect_backends = {"a"}, .expect_masquerade = false},
      {.name = "node to ClusterIP, iTP Local", .from = topo().nodeNs(), .source = kNodeIp, .dst = "10.96.0.30",
       .port = 80, .connections = 50, .expect_backends = {"a"}, .expect_masquerade = true},
  };
  for (const auto& f : flows) ASSERT_NO_FATAL_FAILURE(checkFlow(f));
}

TEST_P(TraceAgreementTest, SessionAffinityRejectAndSourceRanges) {
  ASSERT_NO_FATAL_FAILURE(startCluster());
  const std::string client = topo().podNs("client");
  const std::string ext = topo().externalNs();
  const std::vector<Flow> flows = {
      // Trace cannot know the affinity history (its recent rules never match a first packet), so
      // it predicts every endpoint; the kernel pins the client to one of them.
      {.name = "client pod to ClusterIP, sessionAffinity ClientIP", .from = client, .source = kClientPod.ip,
       .dst = "10.96.0.40", .port = 80, .connections = 40, .affinity = true, .expect_backends = {"a", "b", "c"},
       .expect_masquerade = false},
      {.name = "client pod to a service without endpoints", .from = client, .source = kClientPod.ip,
       .dst = "10.96.0.50", .port = 80, .expect_refusal = "REJECT"},
      {.name = "external to the NodePort of a service without endpoints", .from = ext, .source = kExternalClientA,
       .dst = kNodeIp, .port = 30090, .expect_refusal = "REJECT"},
      {.name = "external client in loadBalancerSourceRanges to the LB IP", .from = ext, .source = kExternalClientA,
       .dst = "198.51.100.7", .port = 80, .expect_backends = {"a", "b"}, .expect_masquerade = true},
      {.name = "external client outside loadBalancerSourceRanges to the LB IP", .from = ext,
       .source = kExternalClientB, .dst = "198.51.100.7", .port = 80, .expect_refusal = "DROP"},
      // upstream: node ports ignore loadBalancerSourceRanges.
      {.name = "external client outside loadBalancerSourceRanges to the LB's NodePort", .from = ext,
       .source = kExternalClientB, .dst = kNodeIp, .port = 30083, .expect_backends = {"a", "b"},
       .expect_masquerade = true},
  };
  for (const auto& f : flows) ASSERT_NO_FATAL_FAILURE(checkFlow(f));
}

INSTANTIATE_TEST_SUITE_P(Backends, TraceAgreementTest,
                         ::testing::Values(IptablesBackendChoice::kNft, IptablesBackendChoice::kLegacy), backendParamName);

}  // namespace
}  // namespace kproxy::netns
