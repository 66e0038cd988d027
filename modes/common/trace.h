// What `kproxy trace` asks of a mode: where the first packet of a new connection goes. Every
// mode's tracer answers with the same result (chains visited, rules matched, outputs with their
// probabilities, masquerade), so the verb prints every mode the same way, as text or JSON.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::tracing {

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
  // Whether the packet is masqueraded on its way to this output, when that differs between the
  // outputs (IPVS mode's hairpin rule masquerades only a pod reaching itself); else nullopt and
  // TraceResult::masquerade says it for all.
  std::optional<bool> masquerade;
};

// A trace enters at most kMaxChainEntries chains and examines at most kMaxRulesExamined rules:
// a hand-made state whose rules jump to the same chains over and over (the number of paths
// doubles with each level) would otherwise keep it busy for ever. Kubernetes states stay far
// below both (a packet enters a handful of chains; the longest chains have a few rules per
// service).
inline constexpr size_t kMaxChainEntries = 50'000;
inline constexpr size_t kMaxRulesExamined = 2'000'000;

struct TraceResult {
  // The trace stopped at kMaxChainEntries or kMaxRulesExamined: what it found is incomplete,
  // and the caller reports an error instead.
  bool limit_reached = false;
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

class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual TraceResult trace(const TracePacket& packet) const = 0;
};

// "10.0.0.1:80" -> 10.0.0.1, "[fd00::1]:80" -> fd00::1, "10.0.0.1" -> 10.0.0.1.
Result<IpAddress> hostOfEndpoint(std::string_view endpoint);

}  // namespace kproxy::tracing
