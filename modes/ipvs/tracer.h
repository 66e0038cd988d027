// IpvsTracer: where the first packet of a new connection goes in IPVS mode, for `kproxy trace`.
// PURE: it reads IPVS mode's iptables rules (a restore payload, or an iptables-save dump) and an
// IpvsState (virtual servers, ip sets, kube-ipvs0 addresses), never the kernel. The result has the
// form every mode's tracer fills (modes/common/trace.h).
//
// The walk follows the hooks a packet meets on a node in IPVS mode:
//  * a packet whose source is a local address was sent by this node: nat OUTPUT; then IPVS
//    (which handles locally sent packets at LOCAL_OUT); else nat PREROUTING, then, when the
//    destination is local (a node address or one bound on kube-ipvs0), filter INPUT, then IPVS
//    (at LOCAL_IN, after filter); a destination that is not local goes through filter FORWARD;
//  * IPVS: the virtual server of (destination, protocol, port). Its real servers are the
//    outputs, each chosen with weight / sum of weights (weight-0 real servers are never chosen;
//    for every scheduler this is the long-run share, exact for rr). The virtual server appears
//    as a visit of table "ipvs" whose match is its `ipvsadm -S -n` line (scheduler, persistence
//    -p, -b flags). A virtual server without real servers answers with ICMP port unreachable
//    (the kernel's ip_vs_leave): output REJECT;
//  * after IPVS: filter OUTPUT (with the `-m ipvs` match now true for that virtual server), then
//    nat POSTROUTING once per real server (the destination being that real server). A MASQUERADE
//    target there masquerades (KUBE-POSTROUTING's mark rule, or KUBE-LOOP-BACK's hairpin rule);
//    the visits of the first real server are shown.
// When no virtual server takes the packet and no rule dropped it, a filter ACCEPT is the output
// (e.g. a health-check node port); otherwise there is none.
//
// Jumps from built-in chains that IPVS mode inserts outside its payload (planner.h
// ipvsChainJumps) are implied when the state lacks them, in the order the applier leaves them
// (each inserted at position 1); they are marked implied.
//
// Rule semantics: as modes/iptables/packet_tracer.h for -s/-d, -p, --dport(s), addrtype LOCAL,
// -i/-o, plus: `-m set [!] --match-set NAME FLAGS` (set_match.h; an unknown set never matches),
// `-m mark [!] --mark V[/M]` against the packet mark that MARK --or-mark/--xor-mark/--set-xmark
// /--set-mark rules set (starting at 0), `-m conntrack --ctstate` (a new connection is NEW only),
// `-m ipvs` (--ipvs, --vaddr, --vproto, --vport: true only after IPVS took the packet, for that
// virtual server). Targets: ACCEPT ends the table's walk of this hook; DROP and REJECT end the
// packet; RETURN ends the chain; MASQUERADE ends the chain and masquerades; MARK changes the mark;
// a chain name is entered (-g: without coming back). Rules with --rcheck/--update never match.
#pragma once

#include <memory>
#include <vector>

#include "modes/common/restore_text.h"
#include "modes/common/trace.h"
#include "modes/ipvs/state.h"
#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::ipvs {

class IpvsTracer final : public tracing::Tracer {
 public:
  // Compiles the nat and filter tables of `rules` and the sets of `state`. `local_addresses`:
  // the node's (127.0.0.1 and ::1 always are; kube-ipvs0's addresses of `state` are added).
  // Errors name the rule or set that cannot be read.
  static Result<IpvsTracer> create(const restore::RestoreText& rules, const IpvsState& state,
                                   const std::vector<IpAddress>& local_addresses);

  tracing::TraceResult trace(const tracing::TracePacket& packet) const override;

  IpvsTracer();
  ~IpvsTracer() override;
  IpvsTracer(IpvsTracer&&) noexcept;
  IpvsTracer& operator=(IpvsTracer&&) noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kproxy::ipvs
