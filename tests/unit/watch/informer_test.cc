// Informer<T> as a ListWatchStore, driven directly: what it emits for lists, relists and
// watch events, and how it treats objects that fail to decode or validate.
#include "src/watch/informer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/api/decode.h"
#include "tests/fakes/fake_http_transport.h"
#include "tests/unit/watch/recording_sink.h"

namespace kproxy::watch {
namespace {

using fakes::listBody;
using fakes::serviceJson;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::RecordingSink;

std::string padded(std::string s) {
  s.reserve(s.size() + api::kManifestPadding);
  return s;
}

// A Service whose first port is the string "eighty": decodes with an error naming it.
std::string badService(const char* name, const char* rv) {
  return R"({"metadata":{"name":")" + std::string(name) + R"(","namespace":"default","resourceVersion":")" + rv +
         R"("},"spec":{"type":"ClusterIP","clusterIP":"10.96.0.50","ports":[{"port":"eighty","protocol":"TCP"}]}})";
}

std::string slice(const char* name, const char* rv, const char* ip) {
  return R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":")" + std::string(name) +
         R"(","namespace":"default","resourceVersion":")" + rv +
         R"(","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4","endpoints":[{"addresses":[")" + ip +
         R"("],"conditions":{"ready":true}}],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]})";
}

struct Harness {
  RecordingSink sink;
  std::vector<std::string> errors;
  Informer<api::Service> services{sink, [this](const std::string& m) { errors.push_back(m); }};

  void list(const std::vector<std::string>& items) {
    services.beginList();
    ASSERT_TRUE(services.addListPage(padded(listBody("ServiceList", "v1", "1", items))).ok());
    services.endList();
  }
};

TEST(InformerTest, FirstListAddsEverythingThenSyncs) {
  Harness h;
  EXPECT_FALSE(h.services.synced());
  h.list({serviceJson("default", "b", "2", "10.96.0.2"), serviceJson("default", "a", "1", "10.96.0.1")});
  EXPECT_TRUE(h.services.synced());
  EXPECT_THAT(h.sink.take(), ElementsAre("add Service default/a rv=1", "add Service default/b rv=2", "synced Service"));
  // An empty relist deletes both; synced is reported once.
  h.list({});
  EXPECT_THAT(h.sink.take(), ElementsAre("delete Service default/a rv=1", "delete Service default/b rv=2"));
  EXPECT_THAT(h.services.list(), IsEmpty());
}

TEST(InformerTest, RelistReportsOnlyRealChanges) {
  Harness h;
  h.list({serviceJson("default", "a", "1", "10.96.0.1"), serviceJson("default", "b", "2", "10.96.0.2")});
  h.sink.take();
  // a: new resourceVersion, same content -> nothing; b: new port -> update; c: new.
  h.list({serviceJson("default", "a", "5", "10.96.0.1"), serviceJson("default", "b", "6", "10.96.0.2", 81),
          serviceJson("default", "c", "7", "10.96.0.3")});
  EXPECT_THAT(h.sink.take(), ElementsAre("update Service default/b rv=6", "add Service default/c rv=7"));
  EXPECT_EQ(h.services.list().front()->meta.resource_version, "5");  // the store still moved on
}

TEST(InformerTest, AbortedListChangesNothing) {
  Harness h;
  h.list({serviceJson("default", "a", "1", "10.96.0.1")});
  h.sink.take();
  h.services.beginList();
  ASSERT_TRUE(h.services.addListPage(padded(listBody("ServiceList", "v1", "3", {}))).ok());
  h.services.abortList();
  EXPECT_THAT(h.sink.take(), IsEmpty());
  EXPECT_EQ(h.services.list().size(), 1u);
}

TEST(InformerTest, WatchEvents) {
  struct Step {
    WatchEventType type;
    std::string name;
    std::string object;
    std::vector<std::string> expected;
    std::vector<std::string> errors;
  };
  const std::vector<Step> steps = {
      {WatchEventType::kAdded, "a", serviceJson("default", "a", "2", "10.96.0.1"), {"add Service default/a rv=2"}, {}},
      {WatchEventType::kModified, "a", serviceJson("default", "a", "3", "10.96.0.1", 81),
       {"update Service default/a rv=3"}, {}},
      // ADDED for something the store has (a resent event): an update, not a second add.
      {WatchEventType::kAdded, "a", serviceJson("default", "a", "4", "10.96.0.1", 82),
       {"update Service default/a rv=4"}, {}},
      // Becomes invalid: reported, and deleted from the sink's view.
      {WatchEventType::kModified, "a", badService("a", "5"),
       {"delete Service default/a rv=4"},
       {"Service default/a: spec.ports[0].port: expected an integer, got \"eighty\""}},
      // Still invalid: reported again, nothing to delete.
      {WatchEventType::kModified, "a", badService("a", "6"), {},
       {"Service default/a: spec.ports[0].port: expected an integer, got \"eighty\""}},
      // Valid again: added.
      {WatchEventType::kModified, "a", serviceJson("default", "a", "7", "10.96.0.1"), {"add Service default/a rv=7"}, {}},
      // Gains the headless label (the server would send DELETED; a MODIFIED is handled too).
      {WatchEventType::kModified, "a",
       R"({"metadata":{"name":"a","namespace":"default","resourceVersion":"8","labels":{"service.kubernetes.io/headless":""}},"spec":{"clusterIP":"10.96.0.1","ports":[{"port":80}]}})",
       {"delete Service default/a rv=7"}, {}},
      {WatchEventType::kDeleted, "a", serviceJson("default", "a", "9", "10.96.0.1"), {}, {}},
      // An object without kind/apiVersion (as list items are) decodes too.
      {WatchEventType::kAdded, "b",
       R"({"metadata":{"name":"b","namespace":"default","resourceVersion":"10"},"spec":{"clusterIP":"10.96.0.2","ports":[{"port":80}]}})",
       {"add Service default/b rv=10"}, {}},
      {WatchEventType::kDeleted, "b", "{}", {"delete Service default/b rv=10"}, {}},
  };
  Harness h;
  h.list({});
  h.sink.take();
  for (const auto& step : steps) {
    SCOPED_TRACE(std::string(watchEventTypeName(step.type)) + " " + step.object);
    ASSERT_TRUE(h.services.applyEvent(step.type, api::NamespacedName{"default", step.name}, step.object).ok());
    EXPECT_EQ(h.sink.take(), step.expected);
    EXPECT_EQ(std::exchange(h.errors, {}), step.errors);
  }
  EXPECT_TRUE(h.sink.problems().empty());
}

TEST(InformerTest, ObjectThatIsNotJsonIsRefusedAsAWhole) {
  Harness h;
  h.list({serviceJson("default", "a", "1", "10.96.0.1")});
  h.sink.take();
  // Refused, not read as "no object" (which would delete a).
  auto applied = h.services.applyEvent(WatchEventType::kModified, {"default", "a"}, R"({"metadata":{"name":"a"},"spec":{]})");
  ASSERT_FALSE(applied.ok());
  EXPECT_THAT(applied.error().message, ::testing::HasSubstr("JSON syntax error"));
  EXPECT_THAT(h.sink.take(), IsEmpty());
  h.services.beginList();
  EXPECT_FALSE(h.services.addListPage(padded(R"({"kind":"ServiceList","apiVersion":"v1","items":[{"metadata":)")).ok());
  h.services.abortList();
  EXPECT_EQ(h.services.list().size(), 1u);
}

TEST(InformerTest, BadObjectInAListIsSkippedAndTheRestArrives) {
  Harness h;
  h.list({serviceJson("default", "a", "1", "10.96.0.1"), badService("bad", "2"), serviceJson("default", "c", "3", "10.96.0.3")});
  EXPECT_THAT(h.sink.take(), ElementsAre("add Service default/a rv=1", "add Service default/c rv=3", "synced Service"));
  EXPECT_THAT(h.errors, ElementsAre("Service default/bad: spec.ports[0].port: expected an integer, got \"eighty\""));
}

// What an API endpoint (or anything posing as one) may send that the API server itself would
// refuse (issue 15): the object is skipped with an error naming it and the field, with the
// newline escaped, and the others arrive.
TEST(InformerTest, ObjectBreakingTheApiServersNameRulesIsSkipped) {
  Harness h;
  const std::string evil =
      R"({"metadata":{"name":"evil","namespace":"default","resourceVersion":"2"},"spec":{"type":"ClusterIP",)"
      R"("clusterIP":"10.96.0.66","ports":[{"name":"x\n-A KUBE-SERVICES -j ACCEPT","port":80,"protocol":"TCP"}]}})";
  const std::string quoted_ns =
      R"({"metadata":{"name":"q","namespace":"de\"fault","resourceVersion":"3"},"spec":{"clusterIP":"10.96.0.67"}})";
  h.list({serviceJson("default", "a", "1", "10.96.0.1"), evil, quoted_ns});
  EXPECT_THAT(h.sink.take(), ElementsAre("add Service default/a rv=1", "synced Service"));
  ASSERT_EQ(h.errors.size(), 2u);
  EXPECT_EQ(h.errors[0].rfind("Service default/evil: spec.ports[0].name: \"x\\n-A KUBE-SERVICES -j ACCEPT\" is not a valid "
                              "DNS-1123 label",
                              0),
            0u)
      << h.errors[0];
  EXPECT_EQ(h.errors[1].rfind("Service de\"fault/q: metadata.namespace: \"de\\\"fault\" is not a valid DNS-1123 label", 0), 0u)
      << h.errors[1];
  for (const auto& e : h.errors) EXPECT_EQ(e.find('\n'), std::string::npos) << e;
}

TEST(InformerTest, EndpointSlicesAndNodes) {
  RecordingSink sink;
  std::vector<std::string> errors;
  auto report = [&](const std::string& m) { errors.push_back(m); };
  Informer<api::EndpointSlice> slices(sink, report);
  slices.beginList();
  ASSERT_TRUE(slices.addListPage(padded(listBody("EndpointSliceList", "discovery.k8s.io/v1", "5",
                                                 {slice("web-1", "4", "10.244.0.5")})))
                  .ok());
  slices.endList();
  (void)slices.applyEvent(WatchEventType::kModified, {"default", "web-1"}, slice("web-1", "6", "10.244.0.6"));
  EXPECT_THAT(sink.take(), ElementsAre("add EndpointSlice default/web-1 rv=4", "synced EndpointSlice",
                                       "update EndpointSlice default/web-1 rv=6"));
  ASSERT_EQ(slices.list().size(), 1u);
  EXPECT_EQ(slices.list()[0]->endpoints[0].addresses[0], "10.244.0.6");

  Informer<api::Node> nodes(sink, report);
  const std::string node = R"({"kind":"Node","apiVersion":"v1","metadata":{"name":"node-1","resourceVersion":"3","labels":{"topology.kubernetes.io/zone":"z1"}},"spec":{"podCIDRs":["10.244.0.0/24"]},"status":{"addresses":[{"type":"InternalIP","address":"172.18.0.2"}]}})";
  nodes.beginList();
  ASSERT_TRUE(nodes.addListPage(padded(listBody("NodeList", "v1", "3", {node}))).ok());
  nodes.endList();
  // Cluster-scoped: whatever namespace the event carries, the store's key has none.
  (void)nodes.applyEvent(WatchEventType::kDeleted, {"", "node-1"}, "{}");
  EXPECT_THAT(sink.take(), ElementsAre("add Node node-1 rv=3", "synced Node", "delete Node node-1 rv=3"));
  EXPECT_THAT(errors, IsEmpty());
}

}  // namespace
}  // namespace kproxy::watch
