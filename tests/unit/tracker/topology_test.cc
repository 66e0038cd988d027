#include "src/tracker/topology.h"

#include <gtest/gtest.h>

namespace kproxy::tracker {
namespace {

struct Ep {
  std::string ip;
  bool ready = true;
  bool serving = true;
  bool terminating = false;
  bool local = false;
  std::vector<std::string> zones;
  std::vector<std::string> nodes;
};

EndpointList makeList(const std::vector<Ep>& eps) {
  EndpointList list;
  for (const auto& e : eps) {
    auto info = std::make_shared<EndpointInfo>();
    info->ip = *IpAddress::parse(e.ip);
    info->port = 80;
    info->endpoint = e.ip + ":80";
    info->ready = e.ready;
    info->serving = e.serving;
    info->terminating = e.terminating;
    info->is_local = e.local;
    info->zone_hints = e.zones;
    info->node_hints = e.nodes;
    list.push_back(info);
  }
  return list;
}

std::string join(const EndpointRefs& list) {
  std::string out;
  for (const auto& ep : list) out += (out.empty() ? "" : ",") + std::string(ep->ipText());
  return out;
}

struct Case {
  std::string name;
  bool internal_local = false;
  bool external_local = false;
  int node_port = 0;
  std::string zone;
  bool prefer_same_node = false;
  std::vector<Ep> endpoints;
  std::string cluster, local, reachable;
  bool has_any = true;
};

TEST(CategorizeEndpoints, Table) {
  const std::vector<Case> cases = {
      {.name = "no hints: all ready endpoints",
       .endpoints = {{.ip = "10.0.0.1"}, {.ip = "10.0.0.2", .ready = false, .serving = false}},
       .cluster = "10.0.0.1", .local = "", .reachable = "10.0.0.1"},
      {.name = "zone hints for this zone filter",
       .zone = "zone-a",
       .endpoints = {{.ip = "10.0.0.1", .zones = {"zone-a"}}, {.ip = "10.0.0.2", .zones = {"zone-b"}}},
       .cluster = "10.0.0.1", .reachable = "10.0.0.1"},
      {.name = "one endpoint without hints disables topology",
       .zone = "zone-a",
       .endpoints = {{.ip = "10.0.0.1", .zones = {"zone-a"}}, {.ip = "10.0.0.2"}},
       .cluster = "10.0.0.1,10.0.0.2", .reachable = "10.0.0.1,10.0.0.2"},
      {.name = "node hints ignored with the gate off",
       .zone = "zone-a",
       .endpoints = {{.ip = "10.0.0.1", .zones = {"zone-a"}, .nodes = {"other"}},
                     {.ip = "10.0.0.2", .zones = {"zone-a"}, .nodes = {"test-node"}}},
       .cluster = "10.0.0.1,10.0.0.2", .reachable = "10.0.0.1,10.0.0.2"},
      {.name = "node hints with the gate on",
       .zone = "zone-a", .prefer_same_node = true,
       .endpoints = {{.ip = "10.0.0.1", .zones = {"zone-a"}, .nodes = {"other"}},
                     {.ip = "10.0.0.2", .zones = {"zone-a"}, .nodes = {"test-node"}}},
       .cluster = "10.0.0.2", .reachable = "10.0.0.2"},
      {.name = "terminating fallback is cluster-wide",
       .endpoints = {{.ip = "10.0.0.1", .ready = false, .serving = true, .terminating = true},
                     {.ip = "10.0.0.2", .ready = false, .serving = false, .terminating = true}},
       .cluster = "10.0.0.1", .reachable = "10.0.0.1"},
      {.name = "iTP Local without local endpoints",
       .internal_local = true,
       .endpoints = {{.ip = "10.0.0.1"}},
       .cluster = "", .local = "", .reachable = "", .has_any = true},
      {.name = "iTP Local picks local ready",
       .internal_local = true,
       .endpoints = {{.ip = "10.0.0.1", .local = true}, {.ip = "10.0.0.2"}},
       .cluster = "", .local = "10.0.0.1", .reachable = "10.0.0.1"},
      {.name = "eTP Local with node port: both lists, reachable is the cluster superset",
       .external_local = true, .node_port = 30080,
       .endpoints = {{.ip = "10.0.0.1", .local = true}, {.ip = "10.0.0.2"}},
       .cluster = "10.0.0.1,10.0.0.2", .local = "10.0.0.1", .reachable = "10.0.0.1,10.0.0.2"},
      {.name = "eTP Local: local terminating fallback is merged into reachable",
       .external_local = true, .node_port = 30080,
       .endpoints = {{.ip = "10.0.0.1", .ready = false, .serving = true, .terminating = true, .local = true},
                     {.ip = "10.0.0.2"}},
       .cluster = "10.0.0.2", .local = "10.0.0.1", .reachable = "10.0.0.1,10.0.0.2"},
      {.name = "nothing usable anywhere",
       .endpoints = {{.ip = "10.0.0.1", .ready = false, .serving = false}},
       .cluster = "", .reachable = "", .has_any = false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ServicePortInfo port;
    port.internal_policy_local = c.internal_local;
    port.external_policy_local = c.external_local;
    port.node_port = c.node_port;
    std::map<std::string, std::string> labels;
    if (!c.zone.empty()) labels["topology.kubernetes.io/zone"] = c.zone;
    const EndpointList list = makeList(c.endpoints);
    auto result = categorizeEndpoints(list, port, "test-node", labels, c.prefer_same_node);
    EXPECT_EQ(join(result.cluster), c.cluster);
    EXPECT_EQ(join(result.local), c.local);
    EXPECT_EQ(join(result.reachable), c.reachable);
    EXPECT_EQ(result.has_any_endpoints, c.has_any);
  }
}

TEST(EndpointInfoTest, IpTextIsTheAddressPartOfTheEndpoint) {
  EndpointInfo v4;
  v4.endpoint = "10.0.0.1:8080";
  EXPECT_EQ(v4.ipText(), "10.0.0.1");
  EndpointInfo v6;
  v6.endpoint = "[fd00::1:2]:53";
  EXPECT_EQ(v6.ipText(), "fd00::1:2");
}

}  // namespace
}  // namespace kproxy::tracker
