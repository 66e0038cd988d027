#include "src/tracker/service_change_tracker.h"

#include <gtest/gtest.h>

#include "tests/unit/tracker/builders.h"

namespace kproxy::tracker {
namespace {

using testing::makeService;
using testing::PortSpec;

ServicePortName spn(std::string ns, std::string name, std::string port, api::Protocol p = api::Protocol::kTCP) {
  return {{std::move(ns), std::move(name)}, std::move(port), p};
}

TEST(ServiceChangeTracker, AddThenApply) {
  ServiceChangeTracker tracker(IpFamily::kIPv4);
  ServicePortMap map;
  auto svc = makeService("ns1", "svc1", "172.30.0.41", {{.name = "p80"}, {.name = "p443", .port = 443}});
  EXPECT_TRUE(tracker.update(nullptr, &svc));
  auto result = tracker.applyTo(map);
  EXPECT_EQ(result.updated_services, (std::set<api::NamespacedName>{{"ns1", "svc1"}}));
  ASSERT_EQ(map.size(), 2u);
  const auto& info = *map.at(spn("ns1", "svc1", "p443"));
  EXPECT_EQ(info.port, 443);
  EXPECT_EQ(info.cluster_ip.toString(), "172.30.0.41");
  EXPECT_EQ(info.name_string, "ns1/svc1:p443");
  EXPECT_FALSE(tracker.hasPending());
}

TEST(ServiceChangeTracker, IgnoredChangeLeavesNothingPending) {
  ServiceChangeTracker tracker(IpFamily::kIPv4);
  ServicePortMap map;
  auto svc = makeService("ns1", "svc1", "172.30.0.41");
  ASSERT_TRUE(tracker.update(nullptr, &svc));
  tracker.applyTo(map);
  // A label change does not change what kube-proxy derives.
  auto relabelled = svc;
  relabelled.meta.labels["app"] = "web";
  EXPECT_FALSE(tracker.update(&svc, &relabelled));
  EXPECT_FALSE(tracker.hasPending());
  EXPECT_TRUE(tracker.applyTo(map).updated_services.empty());
}

TEST(ServiceChangeTracker, AddThenDeleteBeforeSyncIsNoChange) {
  ServiceChangeTracker tracker(IpFamily::kIPv4);
  auto svc = makeService("ns1", "svc1", "172.30.0.41");
  EXPECT_TRUE(tracker.update(nullptr, &svc));
  EXPECT_FALSE(tracker.update(&svc, nullptr));
  ServicePortMap map;
  EXPECT_TRUE(tracker.applyTo(map).updated_services.empty());
  EXPECT_TRUE(map.empty());
}

TEST(ServiceChangeTracker, PortRemovalRecordsDeletedUdpClusterIp) {
  ServiceChangeTracker tracker(IpFamily::kIPv4);
  ServicePortMap map;
  auto svc = makeService("kube-system", "dns", "10.96.0.10",
                         {{.name = "dns", .protocol = api::Protocol::kUDP, .port = 53},
                          {.name = "dns-tcp", .protocol = api::Protocol::kTCP, .port = 53}});
  tracker.update(nullptr, &svc);
  tracker.applyTo(map);
  ASSERT_EQ(map.size(), 2u);

  auto tcp_only = svc;
  tcp_only.ports.erase(tcp_only.ports.begin());
  EXPECT_TRUE(tracker.update(&svc, &tcp_only));
  auto result = tracker.applyTo(map);
  EXPECT_EQ(map.size(), 1u);
  EXPECT_EQ(map.count(spn("kube-system", "dns", "dns-tcp")), 1u);
  ASSERT_EQ(result.deleted_udp_cluster_ips.size(), 1u);
  EXPECT_EQ(result.deleted_udp_cluster_ips.begin()->toString(), "10.96.0.10");

  // Deleting a TCP-only service reports no UDP cluster IP.
  EXPECT_TRUE(tracker.update(&tcp_only, nullptr));
  result = tracker.applyTo(map);
  EXPECT_TRUE(map.empty());
  EXPECT_TRUE(result.deleted_udp_cluster_ips.empty());
}

TEST(ServiceChangeTracker, SkipsServicesUpstreamNeverProxies) {
  struct Case {
    std::string name;
    api::Service svc;
  };
  auto external_name = makeService("ns", "ext", "172.30.0.1");
  external_name.type = "ExternalName";
  auto headless = makeService("ns", "headless", "None");
  auto no_ip = makeService("ns", "noip", "");
  auto v6_only = makeService("ns", "v6", "fd00::1");
  for (auto& c : std::vector<Case>{{"ExternalName", external_name}, {"headless", headless}, {"no cluster IP", no_ip},
                                   {"other family", v6_only}}) {
    SCOPED_TRACE(c.name);
    ServiceChangeTracker tracker(IpFamily::kIPv4);
    EXPECT_FALSE(tracker.update(nullptr, &c.svc));
  }
}

TEST(ServiceChangeTracker, DualStackServiceYieldsPortsPerFamily) {
  auto svc = makeService("ns", "ds", "172.30.0.5");
  svc.cluster_ips = {"172.30.0.5", "fd00:30::5"};
  svc.ip_families = {"IPv4", "IPv6"};
  svc.external_ips = {"192.168.99.1", "2001:db8::99"};
  for (auto family : {IpFamily::kIPv4, IpFamily::kIPv6}) {
    ServiceChangeTracker tracker(family);
    ServicePortMap map;
    ASSERT_TRUE(tracker.update(nullptr, &svc));
    tracker.applyTo(map);
    ASSERT_EQ(map.size(), 1u);
    const auto& info = *map.begin()->second;
    EXPECT_EQ(info.cluster_ip.family(), family);
    ASSERT_EQ(info.external_ips.size(), 1u);
    EXPECT_EQ(info.external_ips[0].family(), family);
  }
}

TEST(ServiceChangeTracker, DerivedFieldsFollowUpstream) {
  auto svc = makeService("ns", "lb", "172.30.0.9", {{.name = "p80", .port = 80, .node_port = 30080}});
  svc.type = "LoadBalancer";
  svc.external_traffic_policy = "Local";
  svc.health_check_node_port = 32000;
  svc.load_balancer_source_ranges = {" 203.0.113.000/025 ", "2001:db8::/64"};
  svc.load_balancer_ingress = {{.ip = "1.2.3.4"}, {.hostname = "lb.example.com"}, {.ip = "5.6.7.8", .ip_mode = "Proxy"}};
  svc.session_affinity = "ClientIP";
  svc.session_affinity_timeout = 300;
  ServiceChangeTracker tracker(IpFamily::kIPv4);
  ServicePortMap map;
  tracker.update(nullptr, &svc);
  tracker.applyTo(map);
  const auto& info = *map.begin()->second;
  EXPECT_TRUE(info.external_policy_local);
  EXPECT_EQ(info.health_check_node_port, 32000);
  ASSERT_EQ(info.load_balancer_source_ranges.size(), 1u);
  EXPECT_EQ(info.load_balancer_source_ranges[0].toString(), "203.0.113.0/25");
  ASSERT_EQ(info.load_balancer_vips.size(), 1u);  // hostname-only and ipMode Proxy are not VIPs
  EXPECT_EQ(info.load_balancer_vips[0].toString(), "1.2.3.4");
  EXPECT_TRUE(info.session_affinity_client_ip);
  EXPECT_EQ(info.sticky_max_age_seconds, 300);

  // A /0 source range means no firewall at all.
  auto open = svc;
  open.load_balancer_source_ranges = {"10.0.0.0/8", "0.0.0.0/0"};
  EXPECT_TRUE(tracker.update(&svc, &open));
  tracker.applyTo(map);
  EXPECT_TRUE(map.begin()->second->load_balancer_source_ranges.empty());

  // externalTrafficPolicy Local is ignored on a ClusterIP service without external IPs.
  auto cluster_ip = makeService("ns", "cip", "172.30.0.10");
  cluster_ip.external_traffic_policy = "Local";
  EXPECT_TRUE(tracker.update(nullptr, &cluster_ip));
  tracker.applyTo(map);
  EXPECT_FALSE(map.at(spn("ns", "cip", "p80"))->external_policy_local);
}

}  // namespace
}  // namespace kproxy::tracker
