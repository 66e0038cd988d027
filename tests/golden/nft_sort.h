// upstream's order for comparing nftables dumps (helpers_test.go sortNFTablesTransaction; the
// same as tests/tools/nft_sort_dump.py): blank and "#" lines dropped, lines ordered by object
// type (table, chain, rule, set, map, element), then by object name, rules keeping their order
// within a chain, other lines of one object sorted as text. Ends with a newline.
#pragma once

#include <string>

namespace kproxy::golden {

std::string sortNftablesDump(const std::string& dump);

}  // namespace kproxy::golden
