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

// upstream EnsureSysctl: reads, and writes only when the value differs.
Status ensureSysctl(Sysctl& sysctl, std::string_view name, long value);

}  // namespace kproxy::netlink
