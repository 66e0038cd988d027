// Real packets through a running `kproxy run --objects` (issue 15 item 1): a Service and an
// EndpointSlice whose fields the API server would refuse (a port name that carries a newline and
// a whole iptables rule, a namespace with a double quote) are skipped with an error naming the
// object and the field, and every other service keeps working, also when the objects change
// while the bad ones stay.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/netns/packet_topology.h"

namespace kproxy::netns {
namespace {

class PacketHostileInputTest : public PacketTest {};

ServiceSpec goodService(const std::string& name, const std::string& ip, const PodSpec& pod) {
  return {.name = name, .cluster_ip = ip, .ports = {{.name = "http", .port = 80}}, .endpoints = {{.ip = pod.ip}}};
}

// Documents the API server would refuse, appended to the good objects.
std::string hostileObjects() {
  return R"(---
apiVersion: v1
kind: Service
metadata: {name: evil, namespace: test}
spec:
  clusterIP: 10.96.0.66
  ports:
  - {name: "x\n-A KUBE-SERVICES -j ACCEPT", protocol: TCP, port: 80}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: evil-1
  namespace: test
  labels: {kubernetes.io/service-name: evil}
addressType: IPv4
endpoints:
- addresses: [10.244.0.11]
ports:
- {name: "x\n-A KUBE-SERVICES -j ACCEPT", port: 8080, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: quoted, namespace: "te\"st"}
spec:
  clusterIP: 10.96.0.67
  ports:
  - {name: http, protocol: TCP, port: 80}
)";
}

TEST_P(PacketHostileInputTest, RunSkipsRefusedObjectsAndServesTheRest) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kPodB, kClientPod}));
  Status started = topo().startKproxy(renderObjects({goodService("web", "10.96.0.10", kPodA)}) + hostileObjects());
  ASSERT_TRUE(started.ok()) << started.error().message;

  const Reply web = topo().tcpRequest(topo().podNs("client"), "10.96.0.10", 80);
  ASSERT_TRUE(web.ok()) << web.describe();
  EXPECT_EQ(web.backend, "a");

  for (const char* table : {"nat", "filter"}) {
    auto save = topo().iptablesSave(table);
    ASSERT_TRUE(save.ok()) << save.error().message;
    EXPECT_EQ(save->find("-A KUBE-SERVICES -j ACCEPT"), std::string::npos) << *save;
    EXPECT_EQ(save->find("10.96.0.66"), std::string::npos) << *save;
    EXPECT_EQ(save->find("10.96.0.67"), std::string::npos) << *save;
  }
  const std::string log = topo().kproxyLog();
  EXPECT_GE(topo().countLogLines("Service test/evil: spec.ports[0].name: \"x\\n-A KUBE-SERVICES -j ACCEPT\" is not a valid"), 1)
      << log;
  EXPECT_GE(topo().countLogLines("EndpointSlice test/evil-1: ports[0].name:"), 1) << log;
  EXPECT_GE(topo().countLogLines("Service te\"st/quoted: metadata.namespace: \"te\\\"st\" is not a valid DNS-1123 label"), 1)
      << log;

  // The objects change while the bad ones stay: the new good service is synced as well.
  Status written = topo().writeObjects(
      renderObjects({goodService("web", "10.96.0.10", kPodA), goodService("api", "10.96.0.11", kPodB)}) + hostileObjects());
  ASSERT_TRUE(written.ok()) << written.error().message;
  Status synced = topo().waitForLine("nat", "--to-destination " + kPodB.ip);
  ASSERT_TRUE(synced.ok()) << synced.error().message;
  const Reply api = topo().tcpRequest(topo().podNs("client"), "10.96.0.11", 80);
  ASSERT_TRUE(api.ok()) << api.describe();
  EXPECT_EQ(api.backend, "b");
  const Reply again = topo().tcpRequest(topo().podNs("client"), "10.96.0.10", 80);
  ASSERT_TRUE(again.ok()) << again.describe();
  EXPECT_TRUE(topo().kproxyRunning());
}

INSTANTIATE_TEST_SUITE_P(Backends, PacketHostileInputTest,
                         ::testing::Values(IptablesBackendChoice::kNft, IptablesBackendChoice::kLegacy),
                         backendParamName);

}  // namespace
}  // namespace kproxy::netns
