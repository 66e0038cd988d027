// SyncRunner: upstream's BoundedFrequencyRunner. Requests (run()) are coalesced; the function runs
// at most `burst` times in quick succession and then no more often than once per min_interval
// (token bucket), at least once per max_interval, and after retryAfter(d) again no later than d.
// The loop thread calls the function; run() and retryAfter() may be called from anywhere,
// including from inside the function.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>

#include "src/util/clock.h"

namespace kproxy::proxy {

class SyncRunner {
 public:
  using Duration = std::chrono::nanoseconds;
  struct Options {
    Duration min_interval{std::chrono::seconds(1)};
    Duration max_interval{std::chrono::hours(1)};
    int burst = 2;
  };

  SyncRunner(Options options, const Clock& clock, std::function<void()> fn);

  // Asks for a run as soon as the rate limit allows.
  void run();
  // Schedules a run no later than `after` from now (and not before the rate limit allows).
  void retryAfter(Duration after);

  // Runs until `stop` is requested. Uses the clock's time and waits on a condition variable.
  void loop(std::stop_token stop);

  // One step of the loop at time `now`, for tests with a fake clock: runs the function if it is
  // due and allowed. Returns whether it ran.
  bool step(SteadyTime now);
  // When the next step is due (the timer), given nothing new is requested.
  SteadyTime nextDue() const;
  int runs() const { return runs_; }

 private:
  bool tryAcceptLocked(SteadyTime now);
  SteadyTime nextPossibleLocked(SteadyTime now) const;

  Options options_;
  const Clock& clock_;
  std::function<void()> fn_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool requested_ = false;
  // The last step() found a request but the rate limit refused it (the timer then points at the
  // earliest allowed time). A request that arrives while fn runs is not "limited".
  bool limited_ = false;
  SteadyTime timer_;                      // when a run is scheduled next
  std::optional<SteadyTime> last_run_;
  double tokens_;
  SteadyTime last_refill_;
  int runs_ = 0;
};

}  // namespace kproxy::proxy
