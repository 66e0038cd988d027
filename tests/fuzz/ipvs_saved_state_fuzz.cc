// IPVS mode's live state as its tools print it (`kproxy trace --rules --ipsets/--ipvs`,
// modes/ipvs/saved_state.cc): `ipset save` and `ipvsadm -S -n` text. The first byte picks the
// reader (even: ipset save, odd: ipvsadm -S -n), the rest is the text. What a reader accepts,
// printed back in the tool's form (state.h), reads back to the same value.
#include <string>

#include "modes/ipvs/saved_state.h"
#include "tests/fuzz/fuzz_common.h"

KPROXY_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kproxy::ipvs;
  if (size == 0) return 0;
  const std::string_view text = kproxy::fuzz::text(data + 1, size - 1);
  IpvsState state;
  if (data[0] % 2 == 0) {
    auto sets = parseIpsetSave(text);
    if (!sets.ok()) return 0;
    state.ipsets = std::move(*sets);
    state.normalize();
    auto again = parseIpsetSave(formatIpsetSave(state));
    if (!again.ok()) kproxy::fuzz::broken("formatIpsetSave's output does not read back");
  } else {
    auto servers = parseIpvsadmSave(text);
    if (!servers.ok()) return 0;
    state.virtual_servers = std::move(*servers);
    state.normalize();
    auto again = parseIpvsadmSave(formatIpvsadmSave(state));
    if (!again.ok()) kproxy::fuzz::broken("formatIpvsadmSave's output does not read back");
  }
  return 0;
}
