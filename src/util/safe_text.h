// The writers' second line of defence (issue 15 item 2): validation in src/api refuses objects
// whose fields could end a line, a word, a quoted string or an attribute, and every writer still
// makes sure that nothing it is handed can.
//   * Text formats read word by word, line by line (iptables-restore, ipvsadm -R, ipset restore):
//     safeWord() keeps [A-Za-z0-9] and "-._/:,[]" and writes every other byte as %XX ("%" itself
//     as %25), so the result is one word that is also safe inside double quotes; it is cut to a
//     byte limit without splitting an escape.
//   * Netlink string attributes end at the first NUL and have a kernel size limit:
//     checkAttributeText() refuses such a value instead of letting the kernel read another.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "src/util/result.h"

namespace kproxy {

// True when safeWord(text, max_bytes) would return `text` unchanged.
bool isSafeWord(std::string_view text, size_t max_bytes);
// `text` as one safe word (see above), at most `max_bytes` long.
std::string safeWord(std::string_view text, size_t max_bytes);
// `text` itself when it is safe already (no copy: the common case), else `scratch` filled with
// safeWord(text, max_bytes).
const std::string& safeWord(const std::string& text, std::string& scratch, size_t max_bytes);

// A NUL-terminated netlink string attribute (`what` names it in the error): refused when it holds
// a NUL or another control character, or when it does not fit `max_bytes` including its NUL.
Status checkAttributeText(std::string_view what, std::string_view value, size_t max_bytes);

}  // namespace kproxy
