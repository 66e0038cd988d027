// Logging through spdlog with kube-proxy's verbosity levels (-v): level 0 is always printed,
// higher levels only when --v is at least that high. Nothing is logged per rule.
#pragma once

#include <spdlog/spdlog.h>

namespace kproxy::log {

void setVerbosity(int v);
int verbosity();

template <typename... Args>
void info(int level, spdlog::format_string_t<Args...> fmt, Args&&... args) {
  if (level <= verbosity()) spdlog::info(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::warn(fmt, std::forward<Args>(args)...);
}
template <typename... Args>
void error(spdlog::format_string_t<Args...> fmt, Args&&... args) {
  spdlog::error(fmt, std::forward<Args>(args)...);
}

}  // namespace kproxy::log
