// PacketTracer: where the first packet of a new connection goes through iptables rules, with the
// semantics of upstream kube-proxy's test tracer (spec iptables-mode.md §10.3), so that `kproxy
// trace` reproduces every packet-flow expectation of upstream's proxier_test.go. PURE: it reads a
// parsed restore/save text and never the kernel.
//
// The state traced is the nat and filter tables of `state` (a restore payload, or an
// iptables-save dump of a whole node). As in upstream's test state, nat PREROUTING holds
// kube-proxy's jump `-A PREROUTING -m comment --comment "kubernetes service portals" -j
// KUBE-SERVICES`; when the text has no PREROUTING rule jumping to KUBE-SERVICES, that rule is
// implied, in front of whatever PREROUTING holds (kube-proxy inserts it first). The trace then:
//
//  1. runs nat PREROUTING, following jumps depth first;
//  2. if any output was produced, rewrites the destination to the address of the first output;
//  3. runs filter KUBE-SERVICES, KUBE-EXTERNAL-SERVICES, KUBE-NODEPORTS, KUBE-PROXY-FIREWALL
//     directly, in that order (those that exist).
//
// A rule counts only if it has a target (-j, or -g); it matches when every condition it has
// holds:
//  * -s / -d: an address or CIDR (or a comma-separated list of them), "!" negates;
//  * -m addrtype --src-type / --dst-type: only LOCAL is evaluated (the address is one of the
//    local addresses); "!" negates; any other address type never matches;
//  * -p: tcp, udp, sctp (or their numbers), "all"; --dport (a port or "a:b" range), --dports
//    (multiport list); "!" negates;
//  * -i / -o: never match unless the packet carries an input interface (`in_interface`); then
//    `-i NAME` matches that name and `-i PREFIX+` any name starting with PREFIX; "!" negates.
//    -o never matches (the output interface is not known before routing). Upstream's flows never
//    need either;
//  * rules with --rcheck / --update (recent), --mark, --ctstate / --state never match (the
//    packet is the first of a new connection with no history);
//  * everything else (comments, --probability, nfacct, --sport, unknown matches) is ignored.
//
// Targets: KUBE-MARK-MASQ sets the masquerade flag and continues; ACCEPT, REJECT and DROP add
// that word to the outputs and end the chain; DNAT adds its --to-destination and ends the
// chain; RETURN ends the chain without a verdict (upstream's tracer has no RETURN; real iptables
// does, and kube-proxy's traced chains never use it); any other target that names a chain of
// the same table is run as a sub-chain: when it ended the packet and the jumping rule was not
// probabilistic (--probability, or statistic --every), the current chain ends too, otherwise the
// next rule is tried (this is how every endpoint behind the statistic rules is collected);
// targets that name no chain (MARK, MASQUERADE, LOG, ...) do nothing.
//
// Probabilities: each output is reached with the probability of the path to it: a rule with
// --probability X passes X of what reaches it to its sub-chain and, when that sub-chain ends the
// packet, 1-X to the next rule.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "modes/common/restore_text.h"
#include "modes/common/trace_result.h"
#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::iptables {

// The packet and the result are shared with nftables mode's tracer (modes/common/trace_result.h).
using trace::TraceMatch;
using trace::TraceOutput;
using trace::TracePacket;
using trace::TraceResult;
using trace::TraceVisit;

class PacketTracer {
 public:
  // Compiles the nat and filter rules of `state` (other tables are ignored). `local_addresses`
  // are the addresses for which --src-type / --dst-type LOCAL matches (as upstream's tracer,
  // 127.0.0.1 and ::1 are always local). Fails on a rule whose address, port or probability
  // cannot be parsed, naming the table, chain and rule.
  static Result<PacketTracer> create(const restore::RestoreText& state, const std::vector<IpAddress>& local_addresses);

  TraceResult trace(const TracePacket& packet) const;

  PacketTracer();
  ~PacketTracer();
  PacketTracer(PacketTracer&&) noexcept;
  PacketTracer& operator=(PacketTracer&&) noexcept;

  struct Impl;  // the compiled rules (packet_tracer.cc)

 private:
  std::unique_ptr<Impl> impl_;
};

// The state of the tables after `payload` was restored with --noflush on top of `kernel`:
// chains the payload declares are created or flushed and refilled, chains it deletes ("-X")
// disappear, all other chains are left as they were.
void restoreNoFlush(restore::RestoreText& kernel, const restore::RestoreText& payload);

// "10.0.0.1:80" -> 10.0.0.1, "[fd00::1]:80" -> fd00::1, "10.0.0.1" -> 10.0.0.1.
Result<IpAddress> hostOfEndpoint(std::string_view endpoint);

}  // namespace kproxy::iptables
