// FakeClock: time that moves only when a test says so.
#pragma once

#include "src/util/clock.h"

namespace kproxy::testing {

class FakeClock final : public Clock {
 public:
  SteadyTime now() const override { return steady_; }
  WallTime wallNow() const override { return wall_; }
  void advance(std::chrono::nanoseconds d) {
    steady_ += std::chrono::duration_cast<SteadyTime::duration>(d);
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
  }

 private:
  SteadyTime steady_ = SteadyTime() + std::chrono::hours(1000);
  WallTime wall_ = WallTime() + std::chrono::hours(24 * 365 * 50);
};

}  // namespace kproxy::testing
