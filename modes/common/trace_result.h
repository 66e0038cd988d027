// What `kproxy trace` reports, whichever mode's rules were traced: the packet, the chains it
// entered, the rules that matched, where it goes (endpoints, or a verdict) and whether it is
// masqueraded. Filled by modes/iptables/packet_tracer and modes/nftables/tracer; printed by
// src/cli/trace_command (text and -o json).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "src/util/ip.h"

namespace kproxy::trace {

struct TracePacket {
  IpAddress source;
  IpAddress destination;
  int destination_port = 0;
  std::string protocol = "tcp";  // lower case: tcp, udp or sctp
  std::string in_interface;      // "" = unknown: rules matching an input interface never match
};

// One rule that matched.
struct TraceMatch {
  std::string table;    // iptables: nat / filter; nftables: "ip kube-proxy" / "ip6 kube-proxy"
  std::string chain;
  std::string rule;     // the rule as written in the state
  std::string comment;  // its comment ("" when none)
  std::string target;   // what it did: the -j target / the nft verdict or action
  std::string dnat_to;  // DNAT: the destination(s)
  std::optional<double> probability;  // the chance that a random choice took this branch
  bool implied = false;  // iptables: the implied PREROUTING -> KUBE-SERVICES rule
};

// One entry into a chain. Visits are listed in the order they were entered; `parent` is the
// index of the visit whose rule jumped here (nullopt for the chains run directly).
struct TraceVisit {
  std::string table;
  std::string chain;
  int depth = 0;
  std::optional<size_t> parent;
  std::vector<TraceMatch> matches;  // rules that matched during this visit, in order
};

struct TraceOutput {
  std::string value;          // "ip:port" / "[ip]:port", or ACCEPT / REJECT / DROP
  bool is_endpoint = false;   // produced by DNAT
  double probability = 1.0;   // probability that the packet takes the path to this output
};

struct TraceResult {
  std::vector<TraceOutput> outputs;
  bool masquerade = false;
  std::vector<TraceMatch> masquerade_rules;  // the rules that decided on masquerading, in order
  std::vector<TraceVisit> visits;
  bool implied_prerouting_jump = false;
  // The destination the chains after DNAT saw.
  IpAddress filter_destination;
  // How this mode marks for masquerading, for "masquerade: no (...)" ("jumped to KUBE-MARK-MASQ").
  std::string masquerade_mechanism = "jumped to KUBE-MARK-MASQ";

  // Upstream's output string: the outputs joined with ", ".
  std::string outputString() const;
  // "table/chain" of every visit, in order.
  std::vector<std::string> chainNames() const;
  // ACCEPT, REJECT or DROP when a rule decided (the first such output), else "".
  std::string verdict() const;
};

}  // namespace kproxy::trace
