// One iptables rule reduced to what the kernel holds, whichever tool printed it: the
// iptables-restore input kproxy writes, or what iptables-save lists back on either back end. The
// two differ in form only: save puts -s/-d/-i/-o/-p first and prints addresses with their prefix
// length, nf_tables may list matches in another order, comments come back quoted, marks lose
// their leading zeros (0x00004000 -> 0x4000), MARK's --or-mark/--xor-mark come back as
// --set-xmark, probabilities as the kernel's fixed-point value, and REJECT and recent gain the
// options they defaulted. `kproxy diff` compares plan and node through this, in process, with no
// scratch network namespace (which would need CAP_SYS_ADMIN).
#pragma once

#include <string>
#include <string_view>

#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::restore {

struct SavedRule {
  std::string chain;
  // Equal for two rules exactly when they are the same rule to the kernel: header fields in a
  // fixed order, each match's options sorted, the matches sorted, then the target.
  std::string key;
  // The rule laid out as iptables-save prints it ("-A CHAIN -s .. -d .. -p .. -m .. -j .."), values
  // normalised as in `key`, matches in the order written.
  std::string display;
};

// Parses one "-A CHAIN ..." line of `family`'s rules. An error names what could not be read (an
// option outside any match, an address that does not parse, ...).
Result<SavedRule> canonicalRule(std::string_view line, IpFamily family);

}  // namespace kproxy::restore
