// Shared by the libFuzzer targets of tests/fuzz: quiet logging, and the bytes as text.
#pragma once

#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kproxy::fuzz {

// Logging off: the code under test warns about bad input, which is what the fuzzer feeds it.
inline void quietLogs() { spdlog::set_level(spdlog::level::off); }

inline std::string_view text(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

// A property the target checks broke: abort, so that libFuzzer saves the input as a crash.
[[noreturn]] inline void broken(const char* what) {
  fprintf(stderr, "fuzz property broken: %s\n", what);
  __builtin_trap();
}

}  // namespace kproxy::fuzz

#define KPROXY_FUZZ_INIT                                       \
  extern "C" int LLVMFuzzerInitialize(int*, char***) {         \
    kproxy::fuzz::quietLogs();                                 \
    return 0;                                                  \
  }
