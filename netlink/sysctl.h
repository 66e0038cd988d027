// Sysctl: reading and writing /proc/sys (a kernel side effect, so it lives here). Names use
// upstream's slash form ("net/ipv4/conf/all/route_localnet").
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "src/util/result.h"

namespace kproxy::netlink {

class Sysctl {
 public:
  virtual ~Sysctl() = default;
  virtual Result<long> get(std::string_view name) = 0;
  virtual Status set(std::string_view name, long value) = 0;
};

std::unique_ptr<Sysctl> newProcSysctl(std::string root = "/proc/sys");

// upstream EnsureSysctl: reads, and writes only when the value differs. (Inline: it works on the
// interface, so code that may only use the interfaces can call it.)
inline Status ensureSysctl(Sysctl& sysctl, std::string_view name, long value) {
  auto current = sysctl.get(name);
  if (current.ok() && *current == value) return okStatus();
  auto set = sysctl.set(name, value);
  if (!set.ok()) {
    return Error("can't set sysctl " + std::string(name) + " to " + std::to_string(value) + ": " + set.error().message,
                 set.error().code);
  }
  return okStatus();
}

}  // namespace kproxy::netlink
