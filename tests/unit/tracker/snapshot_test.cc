#include "src/tracker/snapshot.h"

#include <gtest/gtest.h>

#include "tests/unit/tracker/builders.h"

namespace kproxy::tracker {
namespace {

TEST(ProxyStateTracker, CheckoutReportsChangesAndSnapshotsAreImmutable) {
  ProxyStateTracker tracker({.family = IpFamily::kIPv4, .node_name = "node-a"});
  auto svc = testing::makeService("ns1", "svc1", "172.30.0.41");
  EXPECT_TRUE(tracker.onServiceAdd(svc));
  EXPECT_TRUE(tracker.onEndpointSliceAdd(testing::makeSlice("ns1", "svc1", "s1", {{.ip = "10.0.0.1"}})));
  auto [first, changes] = tracker.checkout();
  EXPECT_TRUE(changes.serviceUpdated({"ns1", "svc1"}));
  ASSERT_EQ(first->services.size(), 1u);
  ASSERT_EQ(first->endpoints.size(), 1u);

  EXPECT_TRUE(tracker.onServiceDelete(svc));
  auto [second, changes2] = tracker.checkout();
  EXPECT_TRUE(second->services.empty());
  EXPECT_EQ(first->services.size(), 1u);  // the earlier snapshot is unchanged
  EXPECT_TRUE(changes2.serviceUpdated({"ns1", "svc1"}));
  EXPECT_FALSE(changes2.serviceUpdated({"ns1", "other"}));
}

TEST(ProxyStateTracker, NodeLabelChangesAreReportedOnce) {
  ProxyStateTracker tracker({.family = IpFamily::kIPv4, .node_name = "node-a"});
  api::Node node;
  node.meta.name = "node-a";
  node.meta.labels["topology.kubernetes.io/zone"] = "zone-a";
  EXPECT_TRUE(tracker.onNodeUpdate(&node));
  auto [s1, c1] = tracker.checkout();
  EXPECT_TRUE(c1.node_labels_changed);
  EXPECT_EQ(s1->node_labels.at("topology.kubernetes.io/zone"), "zone-a");

  EXPECT_FALSE(tracker.onNodeUpdate(&node));  // same labels
  api::Node other = node;
  other.meta.name = "node-b";
  other.meta.labels["x"] = "y";
  EXPECT_FALSE(tracker.onNodeUpdate(&other));  // another node
  auto [s2, c2] = tracker.checkout();
  EXPECT_FALSE(c2.node_labels_changed);

  EXPECT_TRUE(tracker.onNodeUpdate(nullptr));  // deleted
  auto [s3, c3] = tracker.checkout();
  EXPECT_TRUE(c3.node_labels_changed);
  EXPECT_TRUE(s3->node_labels.empty());
}

}  // namespace
}  // namespace kproxy::tracker
