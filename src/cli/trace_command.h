// `kproxy trace`: which chains, endpoints and verdict the first packet of a new connection
// reaches, and whether it is masqueraded, with the semantics of upstream's test tracer (spec
// iptables-mode.md §10.3; modes/iptables/packet_tracer.h). Two sources of rules:
//  * -f FILE... [--from FILE]... [--config] [--hostname-override] [--ip-family]: the rules kproxy
//    would program for that state, planned exactly as `kproxy render` plans it (every --from
//    state synced in order, then -f), each sync restored with --noflush on top of the previous;
//  * --rules FILE ("-" for stdin): an iptables-save dump or iptables-restore input taken as the
//    whole kernel state (its nat and filter tables). When nat PREROUTING has no jump to
//    KUBE-SERVICES (a payload, or a dump of only the KUBE chains), kube-proxy's jump is implied,
//    so nat KUBE-SERVICES is traced as upstream's tracer traces it.
// In IPVS mode (`mode: ipvs` / --proxy-mode ipvs) the rules, ip sets and virtual servers render
// prints are traced with modes/ipvs/tracer.h. In nftables mode (`mode: nftables` in --config, or
// --proxy-mode nftables) the table that render
// prints is traced with nftables semantics (modes/nftables/tracer.h); --rules takes iptables
// text only.
// Local addresses (--src-type / --dst-type LOCAL, fib ... type local): the node facts' localAddresses
// (--node-facts, or render's defaults with -f); with --rules and no facts file, this machine's
// own interface addresses.
#pragma once

#include <string>
#include <vector>

namespace kproxy::cli {

struct TraceOptions {
  std::vector<std::string> files;  // -f
  std::string config_path;         // --config
  std::string node_facts_path;     // --node-facts
  std::string hostname_override;   // --hostname-override
  std::string proxy_mode;          // --proxy-mode (overrides the config file; with -f)
  std::string ip_family;           // --ip-family ipv4|ipv6; "" = the family of --dst
  std::vector<std::string> from;   // --from
  std::string rules_path;          // --rules ("-" = stdin)
  // With --rules, IPVS mode's live state: `ipset save` and `ipvsadm -S -n` text. Either one makes
  // the trace an IPVS one (modes/ipvs/tracer.h); the kube-ipvs0 addresses are then among the local
  // addresses (this machine's, or --node-facts').
  std::string ipsets_path;         // --ipsets
  std::string ipvs_path;           // --ipvs
  std::string src;                 // --src
  std::string dst;                 // --dst
  std::string dport;               // --dport (1-65535)
  std::string protocol = "tcp";    // --protocol tcp|udp|sctp
  std::string in_interface;        // --in-interface (optional): the interface the packet came in on
  std::string output = "text";     // -o text|json
};

// Writes the trace to `out` and problems to `err` ("error: ..." / "warning: ..." lines).
// Returns the exit code: 0 success, 2 bad input (then nothing was written to `out`).
int runTrace(const TraceOptions& options, std::string& out, std::string& err);

}  // namespace kproxy::cli
