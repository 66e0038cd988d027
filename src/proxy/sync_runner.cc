#include "src/proxy/sync_runner.h"

#include <algorithm>

namespace kproxy::proxy {

SyncRunner::SyncRunner(Options options, const Clock& clock, std::function<void()> fn)
    : options_(options), clock_(clock), fn_(std::move(fn)), tokens_(options.burst) {
  const SteadyTime now = clock_.now();
  timer_ = now + options_.max_interval;
  last_refill_ = now;
}

bool SyncRunner::tryAcceptLocked(SteadyTime now) {
  // upstream: no limiter at all when minInterval is 0.
  if (options_.min_interval.count() <= 0) return true;
  const double per_token = std::chrono::duration<double>(options_.min_interval).count();
  const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
  tokens_ = std::min<double>(options_.burst, tokens_ + elapsed / per_token);
  last_refill_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return true;
  }
  return false;
}

SteadyTime SyncRunner::nextPossibleLocked(SteadyTime now) const {
  if (options_.min_interval.count() <= 0 || tokens_ >= 1.0) return now;
  const double missing = 1.0 - tokens_;
  return now + std::chrono::duration_cast<SteadyTime::duration>(options_.min_interval * missing);
}

void SyncRunner::run() {
  {
    std::lock_guard lock(mu_);
    requested_ = true;
  }
  cv_.notify_all();
}

void SyncRunner::retryAfter(Duration after) {
  {
    std::lock_guard lock(mu_);
    const SteadyTime now = clock_.now();
    const SteadyTime at = std::max(now + after, nextPossibleLocked(now));
    if (at < timer_) timer_ = at;
  }
  cv_.notify_all();
}

bool SyncRunner::step(SteadyTime now) {
  {
    std::lock_guard lock(mu_);
    const bool due = requested_ || now >= timer_;
    limited_ = false;
    if (!due) return false;
    if (!tryAcceptLocked(now)) {
      limited_ = true;
      // Not allowed yet: wake up as soon as it is (upstream moves the timer earlier only).
      timer_ = std::min(timer_, nextPossibleLocked(now));
      return false;
    }
    requested_ = false;
    last_run_ = now;
    timer_ = now + options_.max_interval;
    ++runs_;
  }
  fn_();  // outside the lock: fn may call run() or retryAfter()
  return true;
}

SteadyTime SyncRunner::nextDue() const {
  std::lock_guard lock(mu_);
  return timer_;
}

void SyncRunner::loop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    step(clock_.now());
    std::unique_lock lock(mu_);
    // When the rate limit said "not yet" it moved the timer to the earliest allowed time: wait for
    // that, not for new requests (they change nothing). A request made while fn ran is not
    // limited and must end the wait at once.
    const bool limited = limited_;
    const SteadyTime deadline = timer_;
    const auto wait = std::max(deadline - clock_.now(), SteadyTime::duration(0));
    // A retryAfter() that moves the timer earlier ends the wait too.
    cv_.wait_for(lock, stop, wait,
                 [&] { return clock_.now() >= timer_ || timer_ != deadline || (!limited && requested_); });
  }
}

}  // namespace kproxy::proxy
