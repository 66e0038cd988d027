// Where the first packet of a new connection goes through nftables mode's table, with the
// semantics of upstream kube-proxy's nftables test tracer (pkg/proxy/nftables/helpers_test.go
// nftablesTracer), so that `kproxy trace` reproduces every packet-flow expectation of
// upstream's nftables proxier_test.go. PURE: it walks a planned Ruleset, never the kernel.
//
// Base chains run in hook order. A packet whose source is a local address was sent by the node
// itself: filter-output-pre-dnat, nat-output, filter-output; any other arrives from outside:
// filter-prerouting-pre-dnat, nat-prerouting, then filter-input when the (DNATed) destination is
// a local address, else filter-forward. When the packet was not dropped or rejected,
// nat-postrouting runs last; it decides masquerading. The chains after the DNAT see the first
// endpoint as the destination (as upstream's tracer does); postrouting is run for every endpoint,
// and the packet counts as masqueraded when it is for any of them (a hairpin to one of several
// endpoints).
//
// Statements: `ct state new` holds (a new connection); `ct status dnat` holds after a DNAT;
// address, prefix and set matches compare the packet's fields (`@set` lookups build the key from
// the concatenated fields; the dynamic affinity sets are empty for a first packet, so affinity
// rules never match); `fib saddr|daddr type local` holds for the local addresses; `iifname`
// never matches unless the packet carries an input interface; `mark and M != 0` tests the mark
// the packet got so far, `mark set mark or/xor M` changes it (setting the masquerade bit is what
// "marked for masquerading" means); `update @set` does nothing. Verdicts: `jump` runs the chain
// and goes on unless it ended the packet; `goto` runs the chain and then ends the current one;
// `return` ends the current chain; `drop`/`reject` end the packet (the output is DROP/REJECT);
// a `vmap` whose key is missing does not match; `dnat` ends the hook with the endpoint as output;
// `numgen ... map` / `numgen ... vmap` lead to every endpoint in map order, each with probability
// 1/N of what reached the rule; `masquerade` ends postrouting, masquerading the packet.
#pragma once

#include <vector>

#include "modes/common/trace.h"
#include "modes/nftables/plan.h"
#include "src/util/ip.h"

namespace kproxy::nftables {

// `local_addresses`: the node's addresses (the node facts' localAddresses), for `fib ... type
// local` and for telling node-sent packets from arriving ones.
tracing::TraceResult tracePacket(const Ruleset& ruleset, const std::vector<IpAddress>& local_addresses,
                               const tracing::TracePacket& packet);

}  // namespace kproxy::nftables
