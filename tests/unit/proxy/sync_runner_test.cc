#include "src/proxy/sync_runner.h"

#include <gtest/gtest.h>

#include <thread>

#include "tests/fakes/fake_clock.h"

namespace kproxy::proxy {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class SyncRunnerTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  int calls_ = 0;
};

TEST_F(SyncRunnerTest, BurstThenRateLimited) {
  SyncRunner runner({.min_interval = seconds(1), .max_interval = std::chrono::hours(1), .burst = 2}, clock_,
                    [&] { ++calls_; });
  // Nothing requested, timer far away: no run.
  EXPECT_FALSE(runner.step(clock_.now()));
  // Two requests pass at once (burst 2), the third waits for a token.
  runner.run();
  EXPECT_TRUE(runner.step(clock_.now()));
  runner.run();
  EXPECT_TRUE(runner.step(clock_.now()));
  runner.run();
  EXPECT_FALSE(runner.step(clock_.now()));
  EXPECT_EQ(runner.nextDue(), clock_.now() + seconds(1));
  clock_.advance(milliseconds(500));
  EXPECT_FALSE(runner.step(clock_.now()));
  clock_.advance(milliseconds(500));
  EXPECT_TRUE(runner.step(clock_.now()));
  EXPECT_EQ(calls_, 3);
}

TEST_F(SyncRunnerTest, RequestsCoalesce) {
  SyncRunner runner({.min_interval = seconds(1), .burst = 1}, clock_, [&] { ++calls_; });
  for (int i = 0; i < 10; ++i) runner.run();
  EXPECT_TRUE(runner.step(clock_.now()));
  EXPECT_FALSE(runner.step(clock_.now()));  // all ten were one request
  EXPECT_EQ(calls_, 1);
}

TEST_F(SyncRunnerTest, RunsAtLeastEveryMaxInterval) {
  SyncRunner runner({.min_interval = seconds(1), .max_interval = seconds(30), .burst = 2}, clock_, [&] { ++calls_; });
  clock_.advance(seconds(29));
  EXPECT_FALSE(runner.step(clock_.now()));
  clock_.advance(seconds(1));
  EXPECT_TRUE(runner.step(clock_.now()));
  EXPECT_EQ(runner.nextDue(), clock_.now() + seconds(30));
}

TEST_F(SyncRunnerTest, RetryAfterFailure) {
  SyncRunner* self = nullptr;
  bool fail = true;
  SyncRunner runner({.min_interval = seconds(1), .max_interval = std::chrono::hours(1), .burst = 2}, clock_, [&] {
    ++calls_;
    if (fail) self->retryAfter(seconds(30));
  });
  self = &runner;
  runner.run();
  EXPECT_TRUE(runner.step(clock_.now()));
  EXPECT_EQ(runner.nextDue(), clock_.now() + seconds(30));
  clock_.advance(seconds(29));
  EXPECT_FALSE(runner.step(clock_.now()));
  fail = false;
  clock_.advance(seconds(1));
  EXPECT_TRUE(runner.step(clock_.now()));
  EXPECT_EQ(calls_, 2);
}

TEST_F(SyncRunnerTest, ZeroMinIntervalNeverLimits) {
  SyncRunner runner({.min_interval = seconds(0), .burst = 1}, clock_, [&] { ++calls_; });
  for (int i = 0; i < 5; ++i) {
    runner.run();
    EXPECT_TRUE(runner.step(clock_.now()));
  }
  EXPECT_EQ(calls_, 5);
}

TEST(SyncRunnerLoop, RunsRequestsOnItsThread) {
  RealClock clock;
  std::atomic<int> calls{0};
  SyncRunner runner({.min_interval = milliseconds(10), .max_interval = std::chrono::hours(1), .burst = 1}, clock,
                    [&] { ++calls; });
  std::jthread thread([&](std::stop_token stop) { runner.loop(stop); });
  runner.run();
  for (int i = 0; i < 200 && calls.load() < 1; ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(calls.load(), 1);
  runner.run();  // rate-limited: runs ~10 ms after the first
  for (int i = 0; i < 200 && calls.load() < 2; ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(calls.load(), 2);
  thread.request_stop();
}

// Regression: a request that arrives while a sync runs (events landing mid-sync) used to be
// mistaken for a rate-limited one, and the loop then slept until max_interval.
TEST(SyncRunnerLoop, RequestDuringRunIsNotLost) {
  RealClock clock;
  std::atomic<int> calls{0};
  SyncRunner* self = nullptr;
  SyncRunner runner({.min_interval = milliseconds(0), .max_interval = std::chrono::hours(1), .burst = 1}, clock,
                    [&] {
                      if (++calls == 1) self->run();  // a new event during the first sync
                    });
  self = &runner;
  std::jthread thread([&](std::stop_token stop) { runner.loop(stop); });
  runner.run();
  for (int i = 0; i < 400 && calls.load() < 2; ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(calls.load(), 2);
  thread.request_stop();
}

}  // namespace
}  // namespace kproxy::proxy
