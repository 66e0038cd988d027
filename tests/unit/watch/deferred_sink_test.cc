// DeferredSink: events held until attach() arrive in order, this node's Node once as its latest
// version, and later events pass straight through.
#include "src/watch/deferred_sink.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "tests/unit/watch/recording_sink.h"

namespace kproxy::watch {
namespace {

using ::testing::ElementsAre;

std::shared_ptr<const api::Service> service(const std::string& name, const std::string& rv) {
  auto s = std::make_shared<api::Service>();
  s->meta.name = name;
  s->meta.namespace_ = "default";
  s->meta.resource_version = rv;
  return s;
}

std::shared_ptr<const api::Node> node(const std::string& name, const std::string& rv, const std::string& ip) {
  auto n = std::make_shared<api::Node>();
  n->meta.name = name;
  n->meta.resource_version = rv;
  if (!ip.empty()) n->addresses.push_back({"InternalIP", ip});
  return n;
}

TEST(DeferredSinkTest, HoldsEventsInOrderUntilAttached) {
  DeferredSink deferred("node-1");
  auto a1 = service("a", "1");
  auto a2 = service("a", "2");
  deferred.onService({nullptr, a1});
  deferred.onService({a1, a2});
  deferred.onSynced(ObjectKind::kService);
  EXPECT_EQ(deferred.heldEvents(), 3u);

  testing::RecordingSink sink;
  deferred.attach(sink);
  EXPECT_EQ(deferred.heldEvents(), 0u);
  deferred.onService({a2, nullptr});
  EXPECT_THAT(sink.lines(), ElementsAre("add Service default/a rv=1", "update Service default/a rv=2",
                                        "synced Service", "delete Service default/a rv=2"));
  EXPECT_TRUE(sink.problems().empty());
}

TEST(DeferredSinkTest, ReplaysOnlyTheLatestVersionOfThisNode) {
  DeferredSink deferred("node-1");
  auto v1 = node("node-1", "1", "");
  auto v2 = node("node-1", "2", "10.0.0.1");
  deferred.onNode({nullptr, v1});
  deferred.onNode({v1, v2});
  deferred.onSynced(ObjectKind::kNode);
  ASSERT_EQ(deferred.node(), v2);

  testing::RecordingSink sink;
  deferred.attach(sink);
  EXPECT_THAT(sink.lines(), ElementsAre("add Node node-1 rv=2", "synced Node"));
}

TEST(DeferredSinkTest, WaitForNodeReturnsOnceReady) {
  DeferredSink deferred("node-1");
  auto ready = [](const api::Node& n) { return !n.addresses.empty(); };
  std::stop_source stop;
  EXPECT_EQ(deferred.waitForNode(ready, std::chrono::milliseconds(1), stop.get_token()), nullptr);
  deferred.onNode({nullptr, node("node-1", "1", "")});
  EXPECT_EQ(deferred.waitForNode(ready, std::chrono::milliseconds(1), stop.get_token()), nullptr);

  std::thread later([&] { deferred.onNode({deferred.node(), node("node-1", "2", "10.0.0.1")}); });
  auto n = deferred.waitForNode(ready, std::chrono::minutes(5), stop.get_token());
  later.join();
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->meta.resource_version, "2");
}

TEST(DeferredSinkTest, DeletedNodeIsNotReplayed) {
  DeferredSink deferred("node-1");
  auto v1 = node("node-1", "1", "10.0.0.1");
  deferred.onNode({nullptr, v1});
  deferred.onNode({v1, nullptr});
  EXPECT_EQ(deferred.node(), nullptr);
  testing::RecordingSink sink;
  deferred.attach(sink);
  EXPECT_TRUE(sink.lines().empty());
}

}  // namespace
}  // namespace kproxy::watch
