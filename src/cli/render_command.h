// `kproxy render`: what the proxier would program, from manifests, to stdout. Links no applier.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace kproxy::cli {

struct RenderOptions {
  std::vector<std::string> files;      // -f (required; "-" is stdin)
  std::string config_path;             // --config
  std::string node_facts_path;         // --node-facts
  std::string hostname_override;       // --hostname-override
  std::string proxy_mode;              // --proxy-mode (overrides the config file)
  std::string ip_family = "ipv4";      // --ip-family ipv4|ipv6
  std::vector<std::string> from;       // --from (earlier states, in order)
  bool full_sync = false;              // --full-sync
  bool transaction = false;            // --transaction (nftables): what the last sync sends, not the table
  bool timings = false;                // --timings: time of each stage on stderr
  // --output-dir: write the output into files there instead of `out` (created if missing).
  // ipvs mode: ipvsadm.txt, ipset.txt, kube-ipvs0.txt, iptables.txt; iptables mode: iptables.txt;
  // nftables mode: nftables.txt (or transaction.txt with --transaction).
  std::string output_dir;
};

// Receives the output in pieces (a large payload is never copied into one string).
using OutputSink = std::function<void(std::string_view)>;

// Writes the payload to `out` and problems to `err` ("error: ..." / "warning: ..." lines).
// iptables mode (the default) writes the iptables-restore input. ipvs mode (`mode: ipvs` in the
// configuration, or --proxy-mode ipvs, which wins) writes four sections, each introduced by one
// "#" line: the virtual servers as `ipvsadm -S -n` saves them, the IP sets as `ipset save` prints
// them, the kube-ipvs0 commands, and the iptables-restore input of IPVS mode. nftables mode
// (`mode: nftables`, or --proxy-mode nftables) writes the table `kube-proxy` as the last sync
// leaves it, one `add ...` command per line in the form of knftables' fake dumps (`nft -f`
// input); with --transaction, what the last sync sends instead: a "# ..." line, then the
// transaction deleting stale chains when there is one, another, then the sync's transaction.
// Returns the exit code: 0 success, 2 bad input (then nothing was written to `out`), 1 when
// --output-dir could not be written.
int runRender(const RenderOptions& options, const OutputSink& out, std::string& err);

// The same, collecting the output in a string.
inline int runRender(const RenderOptions& options, std::string& out, std::string& err) {
  out.clear();
  return runRender(options, [&out](std::string_view piece) { out.append(piece); }, err);
}

}  // namespace kproxy::cli
