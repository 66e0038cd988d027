// Compare mode `checks` of the golden tests (testdata/golden/README.md): an expectation file with
// one assertion per line, for upstream tests that look for lines or count them rather than
// compare a whole dump.
#pragma once

#include <string>
#include <vector>

namespace kproxy::golden {

// One message per failed assertion ("" lines and "#" lines of `expectations` are skipped).
std::vector<std::string> runChecks(const std::string& expectations, const std::string& output);

}  // namespace kproxy::golden
