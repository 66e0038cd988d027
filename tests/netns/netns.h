// Helpers for tests against the real kernel in a private network namespace (design.md
// convention 15): the test process moves itself into a fresh namespace, so nothing touches the
// host's rules. Without CAP_NET_ADMIN the test says SKIPPED loudly; with CI=true a skip fails.
#pragma once

#include <gtest/gtest.h>
#include <sched.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace kproxy::netns {

inline bool ciMode() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// Moves the calling process into a new, empty network namespace; returns why it could not.
inline std::string tryEnterFreshNetns() {
  if (unshare(CLONE_NEWNET) == 0) return "";
  return std::string("SKIPPED: no CAP_NET_ADMIN (unshare(CLONE_NEWNET): ") + std::strerror(errno) + ")";
}

}  // namespace kproxy::netns

// Enters a fresh network namespace or ends the test: skipped loudly, or failed under CI=true.
#define KPROXY_ENTER_FRESH_NETNS()                                                          \
  do {                                                                                      \
    std::string kproxy_netns_why = ::kproxy::netns::tryEnterFreshNetns();                   \
    if (!kproxy_netns_why.empty()) {                                                        \
      std::fprintf(stderr, "%s\n", kproxy_netns_why.c_str());                               \
      if (::kproxy::netns::ciMode()) FAIL() << kproxy_netns_why << " (a skip fails under CI=true)"; \
      GTEST_SKIP() << kproxy_netns_why;                                                     \
    }                                                                                       \
  } while (0)
