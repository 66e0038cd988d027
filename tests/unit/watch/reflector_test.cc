// Reflector over FakeHttpTransport, with a real Informer<Service> as its store and a
// RecordingSink behind it: pagination, watch resumption, 410 (status and ERROR event), broken
// and stalled streams, malformed events, 401, and events split at every byte.
#include "src/watch/reflector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "src/watch/informer.h"
#include "tests/fakes/fake_http_transport.h"
#include "tests/unit/watch/recording_sink.h"

namespace kproxy::watch {
namespace {

using fakes::FakeHttpTransport;
using fakes::listBody;
using fakes::serviceJson;
using fakes::statusBody;
using fakes::watchEvent;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::RecordingSink;

std::string svc(const char* name, const char* rv, const char* ip = "10.96.0.10") {
  return serviceJson("default", name, rv, ip);
}
std::string svcList(const char* rv, const std::vector<std::string>& items, const char* cont = "") {
  return listBody("ServiceList", "v1", rv, items, cont);
}

struct Harness {
  explicit Harness(ReflectorOptions o = options()) : informer(sink, report()), reflector(fake, informer, std::move(o), report()) {}

  static ReflectorOptions options() {
    ReflectorOptions o;
    o.resource = "services";
    o.path = "/api/v1/services";
    o.label_selector = "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless";
    o.field_selector = "spec.clusterIP!=None";
    o.page_size = 2;
    o.seed = 42;
    o.backoff.initial = std::chrono::milliseconds(1);
    o.backoff.cap = std::chrono::milliseconds(5);
    return o;
  }
  Reflector::ErrorReporter report() {
    return [this](const std::string& m) {
      std::lock_guard lock(mu);
      errors.push_back(m);
    };
  }
  std::vector<std::string> takeErrors() {
    std::lock_guard lock(mu);
    return std::exchange(errors, {});
  }

  FakeHttpTransport fake;
  RecordingSink sink;
  std::mutex mu;
  std::vector<std::string> errors;
  Informer<api::Service> informer;
  Reflector reflector;
};

TEST(ReflectorTest, ListPaths) {
  Harness h;
  EXPECT_EQ(h.reflector.listPath(""),
            "/api/v1/services?fieldSelector=spec.clusterIP%21%3DNone&labelSelector=%21service.kubernetes.io%2Fservice-"
            "proxy-name%2C%21service.kubernetes.io%2Fheadless&limit=2");
  EXPECT_EQ(h.reflector.watchPath("123", 300),
            "/api/v1/services?allowWatchBookmarks=true&fieldSelector=spec.clusterIP%21%3DNone&labelSelector=%"
            "21service.kubernetes.io%2Fservice-proxy-name%2C%21service.kubernetes.io%2Fheadless&resourceVersion=123&"
            "timeoutSeconds=300&watch=true");
}

TEST(ReflectorTest, PagedListThenWatchFromTheListsVersion) {
  Harness h;
  h.fake.queueAnswer({.path_contains = "limit=2", .body = svcList("7", {svc("a", "3"), svc("b", "4")}, "tok1")});
  h.fake.queueAnswer({.path_contains = "continue=tok1", .body = svcList("7", {svc("c", "5")})});
  h.fake.queueStream({.path_contains = "watch=true",
                      .chunks = {watchEvent("MODIFIED", svc("a", "8", "10.96.0.11")) + watchEvent("DELETED", svc("b", "9"))},
                      .end = StreamEnd::kBroken,
                      .detail = "connection reset"});
  EXPECT_EQ(h.reflector.listAndWatch({}), RoundEnd::kBroken);
  EXPECT_THAT(h.sink.take(), ElementsAre("add Service default/a rv=3", "add Service default/b rv=4",
                                         "add Service default/c rv=5", "synced Service",
                                         "update Service default/a rv=8", "delete Service default/b rv=4"));
  auto requests = h.fake.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_THAT(requests[0], HasSubstr("limit=2"));
  EXPECT_THAT(requests[1], HasSubstr("continue=tok1"));
  EXPECT_THAT(requests[2], HasSubstr("resourceVersion=7&"));
  EXPECT_THAT(requests[2], HasSubstr("allowWatchBookmarks=true"));
  // timeoutSeconds in [300, 600)
  auto at = requests[2].find("timeoutSeconds=");
  int timeout = std::stoi(requests[2].substr(at + 15));
  EXPECT_GE(timeout, 300);
  EXPECT_LT(timeout, 600);
  EXPECT_TRUE(h.takeErrors().empty());
}

TEST(ReflectorTest, RelistAfterABrokenStreamEmitsOnlyTheDifference) {
  Harness h;
  h.fake.queueAnswer({.body = svcList("7", {svc("a", "3"), svc("b", "4")})});
  h.fake.queueStream({.chunks = {}, .end = StreamEnd::kBroken});
  EXPECT_EQ(h.reflector.listAndWatch({}), RoundEnd::kBroken);
  h.sink.take();
  // While the watch was down: a changed, b deleted, c added, d unchanged... (d is new: added)
  h.fake.queueAnswer({.body = svcList("12", {svc("a", "10", "10.96.0.99"), svc("c", "11")})});
  h.fake.queueStream({.end = StreamEnd::kBroken});
  EXPECT_EQ(h.reflector.listAndWatch({}), RoundEnd::kBroken);
  EXPECT_THAT(h.sink.take(), ElementsAre("update Service default/a rv=10", "add Service default/c rv=11",
                                         "delete Service default/b rv=4"));
  EXPECT_TRUE(h.sink.problems().empty());
}

TEST(ReflectorTest, ResumesFromTheLastBookmarkWhenTheServerEndsTheWatch) {
  Harness h;
  h.fake.queueAnswer({.body = svcList("7", {})});
  h.fake.queueStream({.path_contains = "resourceVersion=7&",
                      .chunks = {watchEvent("ADDED", svc("a", "8")) +
                                 watchEvent("BOOKMARK", fakes::bookmarkObject("Service", "v1", "20"))}});
  h.fake.queueStream({.path_contains = "resourceVersion=20&", .end = StreamEnd::kIdleTimeout});
  EXPECT_EQ(h.reflector.listAndWatch({}), RoundEnd::kStalled);
  EXPECT_EQ(h.fake.unusedScripts(), 0u);
  EXPECT_THAT(h.sink.take(), ElementsAre("synced Service", "add Service default/a rv=8"));
}

TEST(ReflectorTest, RoundEnds) {
  struct Case {
    std::string name;
    FakeHttpTransport::Stream watch;
    RoundEnd expected;
    std::string error;  // a substring of the one error reported; "" for none
  };
  const std::vector<Case> cases = {
      {"410 status", {.status = 410, .body = statusBody(410, "Expired", "too old resource version: 7 (9)")},
       RoundEnd::kGone, ""},
      {"410 ERROR event",
       {.chunks = {watchEvent("ERROR", statusBody(410, "Expired", "too old resource version: 7 (9)"))}},
       RoundEnd::kGone, ""},
      {"other ERROR event",
       {.chunks = {watchEvent("ERROR", statusBody(500, "InternalError", "etcd is sad"))}},
       RoundEnd::kWatchFailed, "ERROR event: code 500 InternalError: etcd is sad"},
      {"401 on the watch", {.status = 401, .body = statusBody(401, "Unauthorized", "Unauthorized")},
       RoundEnd::kWatchFailed, "services: watch: HTTP 401: Unauthorized (check the token"},
      {"broken", {.end = StreamEnd::kBroken, .detail = "transfer closed"}, RoundEnd::kBroken, ""},
      {"stalled", {.end = StreamEnd::kIdleTimeout}, RoundEnd::kStalled, ""},
      {"not JSON", {.chunks = {"this is not json\n"}}, RoundEnd::kMalformed, "malformed event"},
      {"truncated object", {.chunks = {"{\"type\":\"ADDED\",\"object\":{\"kind\":\n"}}, RoundEnd::kMalformed,
       "malformed event"},
      {"no type", {.chunks = {"{\"object\":{}}\n"}}, RoundEnd::kMalformed, "malformed event (no type)"},
      {"unknown type", {.chunks = {watchEvent("EXPLODED", svc("a", "8"))}}, RoundEnd::kMalformed,
       "unknown event type"},
      {"ends inside an event", {.chunks = {"{\"type\":\"ADDED\",\"obj"}}, RoundEnd::kMalformed,
       "the stream ended inside an event"},
      {"very short watch", {.chunks = {}}, RoundEnd::kWatchFailed, ""},
      {"no answer", {.error = Error("connection refused")}, RoundEnd::kWatchFailed, "services: watch: connection refused"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    Harness h;
    h.fake.queueAnswer({.body = svcList("7", {svc("a", "3")})});
    h.fake.queueStream(tc.watch);
    EXPECT_EQ(h.reflector.listAndWatch({}), tc.expected);
    auto errors = h.takeErrors();
    if (tc.error.empty()) {
      EXPECT_TRUE(errors.empty()) << errors.front();
    } else {
      ASSERT_EQ(errors.size(), 1u);
      EXPECT_THAT(errors[0], HasSubstr(tc.error));
    }
  }
}

TEST(ReflectorTest, ListFailures) {
  struct Case {
    std::string name;
    std::vector<FakeHttpTransport::Answer> answers;
    RoundEnd expected;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"401", {{.status = 401, .body = statusBody(401, "Unauthorized", "Unauthorized")}}, RoundEnd::kListFailed,
       "services: list: HTTP 401: Unauthorized (check the token or client certificate; retrying with backoff)"},
      {"403",
       {{.status = 403, .body = statusBody(403, "Forbidden", "services is forbidden")}},
       RoundEnd::kListFailed, "services: list: HTTP 403: services is forbidden (check the RBAC rules"},
      {"not a list", {{.body = "[]"}}, RoundEnd::kListFailed, "the answer is not a list"},
      {"no resourceVersion", {{.body = "{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":{},\"items\":[]}"}},
       RoundEnd::kListFailed, "no metadata.resourceVersion"},
      {"syntax error in a page", {{.body = "{\"kind\":\"ServiceList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{]}"}},
       RoundEnd::kListFailed, "services: list:"},
      // Broken JSON inside metadata (found by tests/fuzz/watch_stream): the first field lookup
      // fails, and a second lookup on the same document used to follow a null parser.
      {"broken metadata",
       {{.body = R"({"kind":"ServiceList","metadata":{"kind": "N": "x""resourceVersion": "6", "continue": "c"}, "items":[]})"}},
       RoundEnd::kListFailed, "services: list: "},
      {"no answer", {{.error = Error("GET /api/v1/services: Connection refused")}}, RoundEnd::kListFailed,
       "services: list: GET /api/v1/services: Connection refused"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    Harness h;
    for (const auto& a : tc.answers) h.fake.queueAnswer(a);
    h.fake.queueStream({.end = StreamEnd::kBroken});  // reached only if the list wrongly succeeds
    EXPECT_EQ(h.reflector.listAndWatch({}), tc.expected);
    auto errors = h.takeErrors();
    ASSERT_FALSE(errors.empty());
    EXPECT_THAT(errors.back(), HasSubstr(tc.error));
    EXPECT_THAT(h.sink.lines(), ::testing::IsEmpty());  // nothing half-listed reaches the sink
  }
}

TEST(ReflectorTest, ExpiredContinueTokenRestartsTheList) {
  Harness h;
  h.fake.queueAnswer({.path_contains = "limit=2", .body = svcList("7", {svc("a", "3"), svc("b", "4")}, "tok1")});
  h.fake.queueAnswer({.path_contains = "continue=tok1", .status = 410,
                      .body = statusBody(410, "Expired", "The provided continue parameter is too old")});
  h.fake.queueAnswer({.path_contains = "limit=2", .body = svcList("9", {svc("a", "3")})});
  h.fake.queueStream({.end = StreamEnd::kBroken});
  EXPECT_EQ(h.reflector.listAndWatch({}), RoundEnd::kBroken);
  EXPECT_THAT(h.sink.take(), ElementsAre("add Service default/a rv=3", "synced Service"));
  EXPECT_THAT(h.fake.requests().back(), HasSubstr("resourceVersion=9&"));
}

// The same event stream cut into two pieces at every byte, and into single bytes: the store
// sees the same events every time.
TEST(ReflectorTest, EventsSplitAtAnyByte) {
  const std::string stream = watchEvent("ADDED", svc("a", "8")) + "\r\n" +
                             watchEvent("MODIFIED", svc("a", "9", "10.96.0.12")) +
                             watchEvent("BOOKMARK", fakes::bookmarkObject("Service", "v1", "15")) +
                             watchEvent("DELETED", svc("a", "16", "10.96.0.12"));
  const std::vector<std::string> expected = {"update Service default/a rv=8", "update Service default/a rv=9",
                                             "delete Service default/a rv=9"};
  auto run = [&](const std::vector<std::string>& chunks) {
    Harness h;
    h.fake.queueAnswer({.body = svcList("7", {svc("a", "3")})});
    h.fake.queueStream({.chunks = chunks, .end = StreamEnd::kBroken});
    EXPECT_EQ(h.reflector.listAndWatch({}), RoundEnd::kBroken);
    auto lines = h.sink.take();
    lines.erase(lines.begin(), lines.begin() + 2);  // the list
    EXPECT_EQ(lines, expected);
    EXPECT_TRUE(h.takeErrors().empty());
  };
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    run({stream.substr(0, cut), stream.substr(cut)});
  }
  std::vector<std::string> bytes;
  for (char c : stream) bytes.emplace_back(1, c);
  run(bytes);
}

TEST(ReflectorTest, RunRelistsAfterEachFailureAndStops) {
  Harness h;
  h.fake.queueAnswer({.status = 401, .body = statusBody(401, "Unauthorized", "Unauthorized")});
  h.fake.queueAnswer({.body = svcList("7", {svc("a", "3")})});
  h.fake.queueStream({.chunks = {watchEvent("ERROR", statusBody(410, "Expired", "too old"))}});
  h.fake.queueAnswer({.body = svcList("9", {svc("b", "8")})});
  std::stop_source stop;
  std::thread t([&] { h.reflector.run(stop.get_token()); });
  ASSERT_TRUE(h.fake.waitForHeldStreams(1, std::chrono::seconds(10)));
  stop.request_stop();
  t.join();
  EXPECT_EQ(h.fake.unusedScripts(), 0u);
  EXPECT_THAT(h.sink.view("Service"), ElementsAre("default/b 8"));
  EXPECT_TRUE(h.sink.problems().empty());
  auto stats = h.reflector.stats();
  EXPECT_EQ(stats.lists, 2);
  EXPECT_EQ(stats.rounds, 2);  // the 401, the 410
  auto errors = h.takeErrors();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], HasSubstr("401"));
}

TEST(BackoffTest, ClientGoSequence) {
  // Without jitter: 800ms doubling up to the 30s cap; after 2 minutes without failure it starts over.
  Backoff b(BackoffPolicy{.jitter = 0}, 1);
  SteadyTime t{};
  std::vector<int64_t> delays;
  for (int i = 0; i < 8; ++i) {
    t += std::chrono::seconds(1);
    delays.push_back(b.next(t).count());
  }
  EXPECT_THAT(delays, ElementsAre(800, 1600, 3200, 6400, 12800, 25600, 30000, 30000));
  t += std::chrono::minutes(3);
  EXPECT_EQ(b.next(t).count(), 800);
}

TEST(BackoffTest, JitterStaysWithinOneTimesTheDelay) {
  Backoff b(BackoffPolicy{}, 7);
  SteadyTime t{};
  int64_t base = 800;
  for (int i = 0; i < 10; ++i) {
    t += std::chrono::seconds(1);
    int64_t d = b.next(t).count();
    EXPECT_GE(d, base);
    EXPECT_LE(d, 2 * base);
    base = std::min<int64_t>(base * 2, 30000);
  }
}

TEST(QueryEscapeTest, SelectorCharacters) {
  EXPECT_EQ(queryEscape("!a/b,c=d e"), "%21a%2Fb%2Cc%3Dd%20e");
  EXPECT_EQ(queryEscape("metadata.name=node-1"), "metadata.name%3Dnode-1");
}

}  // namespace
}  // namespace kproxy::watch
