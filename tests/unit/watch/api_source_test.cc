// ApiObjectSource over FakeHttpTransport: the three informers, their paths and selectors, the
// synced signal, and a bad Service that is skipped while everything else arrives.
#include "src/watch/api_source.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "tests/fakes/fake_http_transport.h"
#include "tests/unit/watch/recording_sink.h"

namespace kproxy::watch {
namespace {

using fakes::FakeHttpTransport;
using fakes::listBody;
using fakes::serviceJson;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using testing::RecordingSink;

TEST(ApiObjectSourceTest, ThreeInformersSyncAndABadServiceIsSkipped) {
  auto fake = std::make_shared<FakeHttpTransport>();
  const std::string bad =
      R"({"metadata":{"name":"bad","namespace":"default","resourceVersion":"4"},"spec":{"clusterIP":"10.96.0.9","ports":[{"port":"eighty"}]}})";
  fake->queueAnswer({.path_contains = "/api/v1/services?",
                     .body = listBody("ServiceList", "v1", "10",
                                      {serviceJson("default", "a", "2", "10.96.0.1"), bad,
                                       serviceJson("kube-system", "dns", "3", "10.96.0.10", 53)})});
  fake->queueAnswer({.path_contains = "/apis/discovery.k8s.io/v1/endpointslices?",
                     .body = listBody("EndpointSliceList", "discovery.k8s.io/v1", "10", {})});
  fake->queueAnswer({.path_contains = "/api/v1/nodes?",
                     .body = listBody("NodeList", "v1", "10",
                                      {R"({"metadata":{"name":"node-1","resourceVersion":"1"},"status":{"addresses":[{"type":"InternalIP","address":"172.18.0.2"}]}})"})});
  RecordingSink sink;
  std::mutex mu;
  std::vector<std::string> errors;
  ApiObjectSource source(fake, "node-1", sink, [&](const std::string& m) {
    std::lock_guard lock(mu);
    errors.push_back(m);
  });
  EXPECT_FALSE(source.synced());
  std::stop_source stop;
  std::thread t([&] { source.run(stop.get_token()); });
  ASSERT_TRUE(fake->waitForHeldStreams(3, std::chrono::seconds(10)));
  EXPECT_TRUE(source.synced());
  stop.request_stop();
  t.join();

  EXPECT_THAT(sink.view("Service"), ElementsAre("default/a 2", "kube-system/dns 3"));
  EXPECT_THAT(sink.view("Node"), ElementsAre("node-1 1"));
  auto lines = sink.lines();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "synced Service"), 1);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "synced EndpointSlice"), 1);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "synced Node"), 1);
  EXPECT_THAT(errors, ElementsAre("Service default/bad: spec.ports[0].port: expected an integer, got \"eighty\""));

  std::vector<std::string> lists, watches;
  for (const auto& r : fake->requests()) (r.find("watch=true") != std::string::npos ? watches : lists).push_back(r);
  EXPECT_THAT(lists, UnorderedElementsAre(
                         "GET /api/v1/services?fieldSelector=spec.clusterIP%21%3DNone&labelSelector=%21service."
                         "kubernetes.io%2Fservice-proxy-name%2C%21service.kubernetes.io%2Fheadless&limit=500",
                         "GET /apis/discovery.k8s.io/v1/endpointslices?labelSelector=%21service.kubernetes.io%"
                         "2Fservice-proxy-name%2C%21service.kubernetes.io%2Fheadless&limit=500",
                         "GET /api/v1/nodes?fieldSelector=metadata.name%3Dnode-1&limit=500"));
  ASSERT_EQ(watches.size(), 3u);
  for (const auto& w : watches) EXPECT_THAT(w, HasSubstr("resourceVersion=10&"));
}

}  // namespace
}  // namespace kproxy::watch
