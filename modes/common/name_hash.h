// The hash both modes put into their per-service chain names: SHA-256 of the name's parts, RFC
// 4648 base32, the first N characters (upstream: iptables' KUBE-SVC-<16>, nftables'
// "<8>-namespace/name/protocol/port").
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kproxy::names {

// The first `length` (at most 16) base32 characters of sha256(a + b + c), appended to `out`.
void appendHashPrefix(std::string& out, size_t length, std::string_view a, std::string_view b = {},
                      std::string_view c = {});

}  // namespace kproxy::names
