// A line-based unified diff for test failure messages (design.md convention 11).
#pragma once

#include <string>
#include <string_view>

namespace kproxy {

// "" when equal; otherwise a unified diff (3 lines of context) from `expected` to `actual`.
std::string unifiedDiff(std::string_view expected, std::string_view actual, std::string_view expected_name = "expected",
                        std::string_view actual_name = "actual");

}  // namespace kproxy
