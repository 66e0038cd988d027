#include "src/tracker/endpoints_change_tracker.h"

#include <gtest/gtest.h>

#include "tests/unit/tracker/builders.h"

namespace kproxy::tracker {
namespace {

using testing::EndpointSpec;
using testing::makeSlice;
using testing::PortSpec;

ServicePortName spn(std::string port = "p80", api::Protocol p = api::Protocol::kTCP) {
  return {{"ns1", "svc1"}, std::move(port), p};
}

std::vector<std::string> endpointStrings(const EndpointsMap& map, const ServicePortName& name) {
  std::vector<std::string> out;
  auto it = map.find(name);
  if (it == map.end()) return out;
  for (const auto& ep : *it->second) out.push_back(ep->endpoint);
  return out;
}

class EndpointsChangeTrackerTest : public ::testing::Test {
 protected:
  EndpointsChangeTracker tracker_{IpFamily::kIPv4, "node-a", /*node_hints_enabled=*/false};
  EndpointsMap map_;
};

TEST_F(EndpointsChangeTrackerTest, AddUpdateDeleteEventByEvent) {
  auto v1 = makeSlice("ns1", "svc1", "svc1-abc", {{.ip = "10.0.1.1"}});
  EXPECT_TRUE(tracker_.endpointSliceUpdate(v1, false));
  auto r = tracker_.applyTo(map_);
  EXPECT_EQ(r.updated_services.size(), 1u);
  EXPECT_EQ(endpointStrings(map_, spn()), (std::vector<std::string>{"10.0.1.1:80"}));

  // Same content again: nothing to do.
  EXPECT_FALSE(tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "svc1-abc", {{.ip = "10.0.1.1"}}), false));
  EXPECT_TRUE(tracker_.applyTo(map_).updated_services.empty());

  auto v2 = makeSlice("ns1", "svc1", "svc1-abc", {{.ip = "10.0.1.2"}, {.ip = "10.0.1.1"}});
  EXPECT_TRUE(tracker_.endpointSliceUpdate(v2, false));
  tracker_.applyTo(map_);
  EXPECT_EQ(endpointStrings(map_, spn()), (std::vector<std::string>{"10.0.1.1:80", "10.0.1.2:80"}));

  EXPECT_TRUE(tracker_.endpointSliceUpdate(v2, true));
  r = tracker_.applyTo(map_);
  EXPECT_EQ(r.updated_services.size(), 1u);
  EXPECT_TRUE(map_.empty());

  // Deleting a slice never seen changes nothing.
  EXPECT_FALSE(tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "svc1-zzz", {{.ip = "10.0.9.9"}}), true));
}

TEST_F(EndpointsChangeTrackerTest, MergesSlicesAndSortsByEndpointString) {
  tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "a", {{.ip = "10.1.1.1"}}, {{.name = "p80", .port = 11}}), false);
  tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "b", {{.ip = "10.1.1.11"}, {.ip = "10.1.1.2"}},
                                         {{.name = "p80", .port = 11}}),
                               false);
  tracker_.applyTo(map_);
  // Sorted by string, not by address: "10.1.1.11:11" < "10.1.1.1:11".
  EXPECT_EQ(endpointStrings(map_, spn()), (std::vector<std::string>{"10.1.1.11:11", "10.1.1.1:11", "10.1.1.2:11"}));
}

TEST_F(EndpointsChangeTrackerTest, EndpointMovingBetweenSlicesInOneWindowIsNoNetChange) {
  tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "a", {{.ip = "10.0.0.1"}}), false);
  tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "b", {{.ip = "10.0.0.2"}}), false);
  tracker_.applyTo(map_);
  // 10.0.0.1 moves from a to b.
  tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "a", {}), false);
  tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "b", {{.ip = "10.0.0.2"}, {.ip = "10.0.0.1"}}), false);
  auto r = tracker_.applyTo(map_);
  EXPECT_EQ(r.updated_services.size(), 1u);  // the service is still reported as updated
  EXPECT_EQ(endpointStrings(map_, spn()), (std::vector<std::string>{"10.0.0.1:80", "10.0.0.2:80"}));
}

TEST_F(EndpointsChangeTrackerTest, ConditionsAndLocality) {
  tracker_.endpointSliceUpdate(
      makeSlice("ns1", "svc1", "a",
                {{.ip = "10.0.0.1", .node = "node-a"},
                 {.ip = "10.0.0.2", .ready = false, .serving = true, .terminating = true, .node = "node-b"},
                 {.ip = "10.0.0.3", .ready = false, .serving = false}}),
      false);
  tracker_.applyTo(map_);
  const auto& list = *map_.at(spn());
  ASSERT_EQ(list.size(), 3u);
  EXPECT_TRUE(list[0]->ready && list[0]->serving && !list[0]->terminating && list[0]->is_local);
  EXPECT_TRUE(!list[1]->ready && list[1]->serving && list[1]->terminating && !list[1]->is_local);
  EXPECT_TRUE(!list[2]->ready && !list[2]->serving && !list[2]->terminating);
}

TEST_F(EndpointsChangeTrackerTest, DuplicateIpPrefersNonTerminatingCopy) {
  // A pod IP reused while the old pod terminates appears in two slices.
  tracker_.endpointSliceUpdate(
      makeSlice("ns1", "svc1", "a", {{.ip = "10.0.0.1", .ready = false, .serving = true, .terminating = true}}), false);
  tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "b", {{.ip = "10.0.0.1"}}), false);
  tracker_.applyTo(map_);
  ASSERT_EQ(map_.at(spn())->size(), 1u);
  EXPECT_TRUE(map_.at(spn())->front()->ready);
  EXPECT_FALSE(map_.at(spn())->front()->terminating);
}

TEST_F(EndpointsChangeTrackerTest, IgnoresOtherFamilyUnlabelledAndInvalidPorts) {
  EXPECT_FALSE(tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "v6", {{.ip = "fd00::1"}}, {PortSpec{}}, "IPv6"), false));
  EXPECT_FALSE(tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "fqdn", {{.ip = "example.com"}}, {PortSpec{}}, "FQDN"), false));
  auto unlabelled = std::make_shared<api::EndpointSlice>(*makeSlice("ns1", "svc1", "x", {{.ip = "10.0.0.1"}}));
  unlabelled->meta.labels.clear();
  EXPECT_FALSE(tracker_.endpointSliceUpdate(unlabelled, false));

  auto slice = std::make_shared<api::EndpointSlice>(*makeSlice("ns1", "svc1", "ports", {{.ip = "10.0.0.1"}}));
  slice->ports = {{std::nullopt, 80, api::Protocol::kTCP}, {"zero", 0, api::Protocol::kTCP}, {"ok", 8080, api::Protocol::kTCP}};
  EXPECT_TRUE(tracker_.endpointSliceUpdate(slice, false));
  tracker_.applyTo(map_);
  ASSERT_EQ(map_.size(), 1u);
  EXPECT_EQ(map_.begin()->first.port, "ok");
}

TEST_F(EndpointsChangeTrackerTest, ConntrackCleanupRequiredOnlyForUdp) {
  tracker_.endpointSliceUpdate(makeSlice("ns1", "svc1", "a", {{.ip = "10.0.0.1"}}), false);
  EXPECT_FALSE(tracker_.applyTo(map_).conntrack_cleanup_required);
  auto udp = makeSlice("ns1", "dns", "dns-a", {{.ip = "10.0.0.53"}}, {{.name = "dns", .protocol = api::Protocol::kUDP, .port = 53}});
  tracker_.endpointSliceUpdate(udp, false);
  EXPECT_TRUE(tracker_.applyTo(map_).conntrack_cleanup_required);
  // Removing the last UDP endpoint also requires it (the port was UDP before).
  tracker_.endpointSliceUpdate(udp, true);
  EXPECT_TRUE(tracker_.applyTo(map_).conntrack_cleanup_required);
}

TEST_F(EndpointsChangeTrackerTest, TriggerTimesCollectedAfterStartAndDroppedOnDelete) {
  EndpointsChangeTracker tracker(IpFamily::kIPv4, "node-a", false, WallTime(std::chrono::seconds(1700000000)));
  auto slice = std::make_shared<api::EndpointSlice>(*makeSlice("ns1", "svc1", "a", {{.ip = "10.0.0.1"}}));
  slice->meta.annotations[api::kAnnotationLastChangeTriggerTime] = "2024-01-01T00:00:00Z";  // after start
  auto old_slice = std::make_shared<api::EndpointSlice>(*makeSlice("ns1", "svc2", "b", {{.ip = "10.0.0.2"}}));
  old_slice->meta.annotations[api::kAnnotationLastChangeTriggerTime] = "2020-01-01T00:00:00Z";  // before start
  tracker.endpointSliceUpdate(slice, false);
  tracker.endpointSliceUpdate(old_slice, false);
  EndpointsMap map;
  auto r = tracker.applyTo(map);
  ASSERT_EQ(r.last_change_trigger_times.size(), 1u);
  EXPECT_EQ(r.last_change_trigger_times.begin()->first.name, "svc1");

  auto changed = std::make_shared<api::EndpointSlice>(*slice);
  changed->endpoints.push_back(changed->endpoints[0]);
  changed->endpoints.back().addresses = {"10.0.0.9"};
  tracker.endpointSliceUpdate(changed, false);
  tracker.endpointSliceUpdate(changed, true);
  EXPECT_TRUE(tracker.applyTo(map).last_change_trigger_times.empty());
}

TEST(ParseRfc3339, Forms) {
  WallTime t;
  ASSERT_TRUE(parseRfc3339("1970-01-01T00:00:10Z", &t));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count(), 10);
  ASSERT_TRUE(parseRfc3339("1970-01-01T01:00:10+01:00", &t));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count(), 10);
  ASSERT_TRUE(parseRfc3339("1970-01-01T00:00:10.5Z", &t));
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count(), 10500);
  EXPECT_FALSE(parseRfc3339("yesterday", &t));
  EXPECT_FALSE(parseRfc3339("1970-01-01T00:00:10", &t));
}

}  // namespace
}  // namespace kproxy::tracker
