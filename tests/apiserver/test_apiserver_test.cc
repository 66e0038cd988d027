// CurlHttpTransport against the test API server in this process (plain HTTP on loopback): how
// streams end (normally, cancelled, idle, cut), non-2xx answers, timeouts and token rotation.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "src/watch/http_transport.h"
#include "tests/apiserver/test_apiserver.h"

namespace kproxy::watch {
namespace {

using apiserver::Resource;
using apiserver::TestApiServer;
using ::testing::HasSubstr;

class CurlTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<TestApiServer>(apiserver::ServerOptions{.bookmark_interval = std::chrono::milliseconds(200)});
    auto port = server_->start();
    ASSERT_TRUE(port.ok()) << port.error().message;
    config_.server = "http://127.0.0.1:" + std::to_string(*port);
    ASSERT_TRUE(server_->apply(R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"a","namespace":"default"},"spec":{"clusterIP":"10.96.0.1"}})").ok());
  }

  // Streams a watch of services from the current version; returns the result and the body.
  std::pair<Result<StreamResult>, std::string> watch(CurlHttpTransport& t, std::chrono::milliseconds idle,
                                                     std::stop_token stop = {}, const std::string& query = "") {
    std::string body;
    auto r = t.stream({.path = "/api/v1/services?watch=true&allowWatchBookmarks=true&resourceVersion=" +
                               std::to_string(server_->resourceVersion()) + query},
                      idle, [&](std::string_view chunk) {
                        body.append(chunk);
                        return true;
                      },
                      stop);
    return {std::move(r), body};
  }

  std::unique_ptr<TestApiServer> server_;
  ApiClientConfig config_;
};

TEST_F(CurlTransportTest, ServerTimeoutCompletesTheStream) {
  CurlHttpTransport t(config_);
  auto [r, body] = watch(t, std::chrono::seconds(5), {}, "&timeoutSeconds=1");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->end, StreamEnd::kCompleted);
  EXPECT_THAT(body, HasSubstr("\"type\":\"BOOKMARK\""));
}

TEST_F(CurlTransportTest, StopCancelsAtOnce) {
  CurlHttpTransport t(config_);
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop.request_stop();
  });
  auto started = std::chrono::steady_clock::now();
  auto [r, body] = watch(t, std::chrono::seconds(0), stop.get_token());
  stopper.join();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->end, StreamEnd::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(900));
}

TEST_F(CurlTransportTest, StalledStreamHitsTheIdleTimeout) {
  CurlHttpTransport t(config_);
  ASSERT_TRUE(server_->injectFault({.name = "stall", .resource = Resource::kServices, .duration = std::chrono::seconds(3)}).ok());
  auto started = std::chrono::steady_clock::now();
  auto [r, body] = watch(t, std::chrono::milliseconds(700));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->end, StreamEnd::kIdleTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
}

TEST_F(CurlTransportTest, CutStreamIsBroken) {
  CurlHttpTransport t(config_);
  ASSERT_TRUE(server_->injectFault({.name = "cut", .resource = Resource::kServices}).ok());
  std::thread change([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    (void)server_->apply(R"({"kind":"Service","apiVersion":"v1","metadata":{"name":"b","namespace":"default"},"spec":{"clusterIP":"10.96.0.2"}})");
  });
  auto [r, body] = watch(t, std::chrono::seconds(5));
  change.join();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->end, StreamEnd::kBroken);
  EXPECT_FALSE(r->detail.empty());
  EXPECT_EQ(body.back() == '\n' ? std::string("complete") : std::string("cut"), "cut");
}

TEST_F(CurlTransportTest, ErrorAnswersAndTokens) {
  server_->setToken("t1");
  const auto dir = std::filesystem::temp_directory_path() / ("kproxy-curl-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "token") << "wrong\n";
  config_.bearer_token_file = (dir / "token").string();
  CurlHttpTransport t(config_);
  auto [r, body] = watch(t, std::chrono::seconds(5));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 401);
  EXPECT_THAT(r->body, HasSubstr("\"code\":401"));
  EXPECT_EQ(body, "");  // the handler sees only 2xx bodies
  // The file changes: the next request sends the new token.
  std::ofstream(dir / "token.new") << "t1\n";
  std::filesystem::rename(dir / "token.new", dir / "token");
  auto listed = t.request({.path = "/api/v1/services"}, {});
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->status, 200);
  EXPECT_THAT(listed->body, HasSubstr("\"kind\":\"ServiceList\""));
  std::filesystem::remove_all(dir);
}

TEST_F(CurlTransportTest, RequestTimeoutAndRefusedConnection) {
  ASSERT_TRUE(server_->injectFault({.name = "slow-list", .duration = std::chrono::milliseconds(1500)}).ok());
  CurlHttpTransport t(config_);
  auto slow = t.request({.path = "/api/v1/services", .timeout = std::chrono::milliseconds(300)}, {});
  ASSERT_FALSE(slow.ok());
  EXPECT_THAT(slow.error().message, HasSubstr("GET /api/v1/services: "));
  server_->clearFaults();
  config_.server = "http://127.0.0.1:1";
  CurlHttpTransport refused(config_);
  auto r = refused.request({.path = "/api/v1/services"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("GET /api/v1/services: "));
}

}  // namespace
}  // namespace kproxy::watch
