// PacketTopology: a small cluster node built from network namespaces, for tests that send real
// packets through the rules a running `kproxy run` daemon writes (issue 4 item 6).
//
//              203.0.113.10/32 ┐                                ┌ 10.244.0.11/32  pod "a"
//              203.0.113.20/32 ┴ eth0 ── ext0 ┐              ┌ v-a ── eth0 ┘
//                  "ext" namespace     172.18.0.2/24  "node"   10.244.0.1/32 on every v-<pod>
//   (external clients; default route   (node IP; kproxy runs here, ip_forward on, default route
//    via the node, so LB IPs reach it)  out of ext0, a /32 route per pod)
//
// Every namespace is named kpkt-<pid>-<role> and is deleted by the destructor (and by the next
// run, when a crashed run left it behind). Nothing runs in, or is routed to, the host's network.
// Pods have one /32 address and a default route via 10.244.0.1 on their veth, so all pod traffic
// (also pod to pod) is routed by the node, as with a routed (ptp) CNI plugin; no bridge, so no
// br_netfilter is needed. Masqueraded traffic to a pod leaves the node with source 10.244.0.1
// (the address of the pod's veth on the node side).
//
// Servers are threads of the test process whose sockets were created inside a pod's namespace (a
// socket stays in the namespace it was created in); each answers every TCP connection and every
// UDP datagram with "<pod name> <source IP it saw> <payload>". Clients are made the same way,
// from any namespace, so a test learns which backend answered and which source IP it saw.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "src/util/result.h"
#include "src/util/unique_handle.h"

namespace kproxy::netns {

enum class IptablesBackendChoice { kNft, kLegacy };
const char* backendName(IptablesBackendChoice backend);
inline void PrintTo(IptablesBackendChoice backend, std::ostream* os) { *os << backendName(backend); }

// Fixed addressing of the topology.
inline constexpr char kNodeName[] = "node-1";
inline constexpr char kNodeIp[] = "172.18.0.2";         // the Node's InternalIP, on ext0
inline constexpr char kNodePodGateway[] = "10.244.0.1";  // the node's address towards pods (masquerade source)
inline constexpr char kClusterCidr[] = "10.244.0.0/16";
inline constexpr char kExternalClientA[] = "203.0.113.10";
inline constexpr char kExternalClientB[] = "203.0.113.20";
inline constexpr uint16_t kBackendPort = 8080;  // every pod's server listens here (TCP and UDP)

// What a client got back. `error` is 0 on success, else an errno: ECONNREFUSED (rejected),
// ETIMEDOUT (no answer within the timeout: dropped or black-holed), or what connect/send said.
struct Reply {
  int error = 0;
  std::string backend;  // the pod whose server answered
  std::string source;   // the source IP that server saw
  std::chrono::milliseconds elapsed{0};

  bool ok() const { return error == 0; }
  std::string describe() const;
};

struct RequestOptions {
  std::string source_ip;  // bind to this address first ("" = the kernel chooses)
  std::chrono::milliseconds timeout{2000};
};

// A UDP socket bound once, so that every exchange is the same 5-tuple (one conntrack flow).
class UdpFlow {
 public:
  UdpFlow() = default;
  explicit UdpFlow(UniqueFd fd) : fd_(std::move(fd)) {}
  // Sends one datagram to ip:port and waits for its answer (older answers are skipped).
  Reply exchange(const std::string& ip, uint16_t port, std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));
  uint16_t localPort() const;

 private:
  UniqueFd fd_;
  int sequence_ = 0;
};

// ----- Objects: Services and their EndpointSlices, written as ordinary manifests. -----

struct PortSpec {
  std::string name = "p";
  std::string protocol = "TCP";
  uint16_t port = 80;
  uint16_t target_port = kBackendPort;
  uint16_t node_port = 0;
};

struct EndpointRef {
  std::string ip;
  std::string node = kNodeName;
};

struct ServiceSpec {
  std::string name;
  std::string type = "ClusterIP";  // ClusterIP, NodePort or LoadBalancer
  std::string cluster_ip;
  std::vector<PortSpec> ports;
  std::string external_traffic_policy;  // "" = Cluster
  bool client_ip_affinity = false;
  uint16_t health_check_node_port = 0;
  std::vector<std::string> load_balancer_ips;  // status.loadBalancer.ingress
  std::vector<std::string> source_ranges;      // spec.loadBalancerSourceRanges
  std::vector<EndpointRef> endpoints;          // one EndpointSlice (written even when empty)
  bool has_slice = true;
  std::string internal_traffic_policy;  // "" = Cluster
};

// The Node (node-1, InternalIP kNodeIp) and every service with its slice, as YAML documents.
std::string renderObjects(const std::vector<ServiceSpec>& services);

struct KproxyConfigOptions {
  std::string sync_period = "2s";
  std::string min_sync_period = "100ms";
};
std::string renderConfig(const KproxyConfigOptions& options = {});

// ----- The topology -----

class PacketTopology {
 public:
  struct Options {
    IptablesBackendChoice backend = IptablesBackendChoice::kNft;
  };
  // Builds the node and ext namespaces and their link. The caller's process should already be in
  // a private network namespace (KPROXY_ENTER_FRESH_NETNS), so a stray command cannot reach the host.
  static Result<std::unique_ptr<PacketTopology>> create(const Options& options);
  ~PacketTopology();
  PacketTopology(const PacketTopology&) = delete;
  PacketTopology& operator=(const PacketTopology&) = delete;

  // Adds a pod namespace with address `ip` (in 10.244.0.0/24), joined to the node by a veth.
  Status addPod(const std::string& name, const std::string& ip);
  // Starts the pod's answering server on kBackendPort, TCP and UDP.
  Status startServer(const std::string& pod);

  // The namespace names to run clients in.
  std::string nodeNs() const { return ns("node"); }
  std::string externalNs() const { return ns("ext"); }
  std::string podNs(const std::string& pod) const { return ns("pod-" + pod); }

  // Writes the config and the objects file, then starts `kproxy run` inside the node namespace and
  // waits until its first sync wrote KUBE-SERVICES and the canary chains.
  Status startKproxy(const std::string& objects_yaml, const KproxyConfigOptions& config = {});
  // SIGTERM, then waits for the exit (SIGKILL after 5 s); returns how it ended.
  Status stopKproxy();
  bool kproxyRunning() const;
  // Replaces the objects file atomically (write a temporary file, then rename).
  Status writeObjects(const std::string& objects_yaml);

  // iptables-save of one table inside the node namespace, with the back end kproxy uses.
  Result<std::string> iptablesSave(const std::string& table) const;
  // Polls iptables-save of `table` until `done` holds; fails after `timeout` with the last dump.
  Status waitForRules(const std::string& table, const std::function<bool(const std::string&)>& done,
                      const std::string& what, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  Status waitForLine(const std::string& table, const std::string& text,
                     std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  Status waitForNoLine(const std::string& table, const std::string& text,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  // Runs argv inside a namespace (`ip netns exec NS argv...`); a non-zero exit is an Error.
  Result<std::string> execIn(const std::string& ns_name, const std::vector<std::string>& argv) const;
  // The iptables binary of the chosen back end ("iptables" or "iptables-legacy").
  std::string iptablesBinary() const;

  // One TCP connection from namespace `from` to ip:port; reads the answer to EOF.
  Reply tcpRequest(const std::string& from, const std::string& ip, uint16_t port, const RequestOptions& options = {}) const;
  // One UDP datagram and its answer, from a fresh socket.
  Reply udpRequest(const std::string& from, const std::string& ip, uint16_t port, const RequestOptions& options = {}) const;
  // A bound UDP socket for repeated exchanges on one 5-tuple.
  Result<UdpFlow> udpFlow(const std::string& from, const std::string& source_ip = "") const;

  // How many lines of kproxy's log contain `text`; the whole log (for failure messages).
  int countLogLines(const std::string& text) const;
  std::string kproxyLog() const;
  // The last `lines` lines of the log, without the flag dump `run` prints at start.
  std::string kproxyLogTail(size_t lines) const;
  const std::string& workDir() const { return work_dir_; }

 private:
  struct Server;
  explicit PacketTopology(const Options& options);
  std::string ns(const std::string& role) const;
  Status createNamespace(const std::string& role);
  Status ipIn(const std::string& role, const std::vector<std::string>& args) const;

  Options options_;
  std::string prefix_;    // kpkt-<pid>
  std::string work_dir_;  // config, objects and log files
  std::vector<std::string> namespaces_;
  std::vector<std::unique_ptr<Server>> servers_;
  int kproxy_pid_ = -1;
};

// The standard pods of the packet tests.
struct PodSpec {
  std::string name;
  std::string ip;
  bool server = true;  // runs the answering server (a backend); false for pure clients
};
inline const PodSpec kPodA{.name = "a", .ip = "10.244.0.11"};
inline const PodSpec kPodB{.name = "b", .ip = "10.244.0.12"};
inline const PodSpec kPodC{.name = "c", .ip = "10.244.0.13"};
inline const PodSpec kClientPod{.name = "client", .ip = "10.244.0.50", .server = false};

// Fixture: a fresh private namespace for the test process, then a topology on the back end of the
// parameter. On failure TearDown prints the tail of kproxy's log.
class PacketTest : public ::testing::TestWithParam<IptablesBackendChoice> {
 protected:
  void SetUp() override;
  void TearDown() override;

  PacketTopology& topo() { return *topology_; }
  // Adds the pods (and starts their servers); fatal on failure (use ASSERT_NO_FATAL_FAILURE).
  void addBackends(const std::vector<PodSpec>& pods);
  void startKproxy(const std::vector<ServiceSpec>& services, const KproxyConfigOptions& config = {});
  void updateObjects(const std::vector<ServiceSpec>& services);

  std::unique_ptr<PacketTopology> topology_;
};

// "nft" / "legacy", for INSTANTIATE_TEST_SUITE_P.
std::string backendParamName(const ::testing::TestParamInfo<IptablesBackendChoice>& info);

// Socket of `domain`/`type` created inside the named network namespace (by a short-lived thread
// that enters it); the socket keeps working from any thread.
Result<UniqueFd> socketIn(const std::string& ns_name, int domain, int type);

// The kproxy binary: $KPROXY_BINARY, else `kproxy` in the build tree of this test executable.
Result<std::string> kproxyBinary();

}  // namespace kproxy::netns
