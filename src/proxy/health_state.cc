#include "src/proxy/health_state.h"

#include <ctime>

namespace kproxy::proxy {
namespace {

size_t indexOf(IpFamily family) { return family == IpFamily::kIPv4 ? 0 : 1; }

}  // namespace

std::string formatGoTime(WallTime t, std::optional<std::chrono::nanoseconds> monotonic) {
  using namespace std::chrono;
  const auto since_epoch = duration_cast<nanoseconds>(t.time_since_epoch());
  auto secs = duration_cast<seconds>(since_epoch);
  auto nanos = (since_epoch - secs).count();
  if (nanos < 0) {
    nanos += 1'000'000'000;
    secs -= seconds(1);
  }
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = buf;
  if (nanos != 0) {
    // Go's ".999999999": trailing zeros dropped.
    char frac[16];
    std::snprintf(frac, sizeof(frac), ".%09lld", static_cast<long long>(nanos));
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += " +0000 UTC";
  if (monotonic) {
    const long long m = monotonic->count();
    const long long abs = m < 0 ? -m : m;
    std::snprintf(buf, sizeof(buf), " m=%c%lld.%09lld", m < 0 ? '-' : '+', abs / 1'000'000'000,
                  abs % 1'000'000'000);
    out += buf;
  }
  return out;
}

ProxyHealthState::ProxyHealthState(const Clock& clock, std::chrono::nanoseconds health_timeout)
    : clock_(clock), health_timeout_(health_timeout), monotonic_origin_(clock.now()) {}

void ProxyHealthState::updated(IpFamily family) {
  Stamp now{clock_.now(), clock_.wallNow()};
  std::lock_guard lock(mu_);
  Family& f = families_[indexOf(family)];
  f.oldest_pending_queued.reset();
  f.last_updated = now;
}

void ProxyHealthState::queuedUpdate(IpFamily family) {
  const SteadyTime now = clock_.now();
  std::lock_guard lock(mu_);
  Family& f = families_[indexOf(family)];
  if (!f.oldest_pending_queued) f.oldest_pending_queued = now;
}

void ProxyHealthState::syncNode(bool eligible) {
  std::lock_guard lock(mu_);
  node_eligible_ = eligible;
}

bool nodeEligibleForTraffic(const api::Node& node) {
  if (!node.meta.deletion_timestamp.empty()) return false;
  for (const auto& taint : node.taints) {
    if (taint.key == kToBeDeletedTaint) return false;
  }
  return true;
}

bool ProxyHealthState::nodeEligible() const {
  std::lock_guard lock(mu_);
  return node_eligible_;
}

std::pair<bool, std::optional<ProxyHealthState::Stamp>> ProxyHealthState::healthLocked(SteadyTime now) const {
  std::optional<Stamp> latest;
  // upstream iterates over the families that have updated at least once; a family that only
  // queued changes (its loop never started) does not count.
  for (const Family& f : families_) {
    if (!f.last_updated) continue;
    if (!latest || f.last_updated->steady > latest->steady) latest = f.last_updated;
    if (!f.oldest_pending_queued) continue;                     // fully synced, or starting up
    if (now - *f.oldest_pending_queued < health_timeout_) continue;  // queued, not late yet
    return {false, f.last_updated};
  }
  return {true, latest};
}

bool ProxyHealthState::isHealthy() const {
  const SteadyTime now = clock_.now();
  std::lock_guard lock(mu_);
  return healthLocked(now).first;
}

std::string ProxyHealthState::format(const Stamp& s) const {
  return formatGoTime(s.wall, s.steady - monotonic_origin_);
}

ProxyHealthState::Check ProxyHealthState::check() const {
  const Stamp now{clock_.now(), clock_.wallNow()};
  std::lock_guard lock(mu_);
  auto [healthy, last] = healthLocked(now.steady);
  Check c;
  c.healthy = healthy;
  c.node_eligible = node_eligible_;
  c.current_time = format(now);
  // Go's zero time.Time when no family has updated yet.
  c.last_updated = last ? format(*last) : std::string("0001-01-01 00:00:00 +0000 UTC");
  return c;
}

}  // namespace kproxy::proxy
