// Helpers the golden tests share: compare mode `checks` (testdata/golden/README.md: an
// expectation file with one assertion per line, for upstream tests that look for lines or count
// them rather than compare a whole dump) and the text fix-ups for comparing with upstream.
#pragma once

#include <string>
#include <vector>

namespace kproxy::golden {

// One message per failed assertion ("" lines and "#" lines of `expectations` are skipped).
std::vector<std::string> runChecks(const std::string& expectations, const std::string& output);

// The lines of `text`, without their newlines.
std::vector<std::string> lines(const std::string& text);

// `output` with the real masquerade mark (0x00004000) written as upstream's fake proxiers write
// it (0x4000), for comparing with upstream's expectations.
std::string withFakeMark(std::string output);

}  // namespace kproxy::golden
