#pragma once

namespace kproxy::cli {

inline constexpr const char* kVersionString = "kproxy 0.1.0 (kube-proxy v1.33 compatible)";

}  // namespace kproxy::cli
