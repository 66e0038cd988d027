// NfctConntrackClient: ConntrackClient over libnetfilter_conntrack. One nfct handle (one
// NETLINK_NETFILTER socket, bound in the network namespace current at open()) serves every dump
// (NFCT_Q_DUMP, family filtered by the kernel) and every delete. Deletes go in batches: many
// IPCTNL_MSG_CT_DELETE messages, built by nfct_nlmsg_build and carrying the dumped entry's
// CTA_ID, per sendto() on the handle's socket, one answer each. Never runs the `conntrack` binary.
#pragma once

#include <libnetfilter_conntrack/libnetfilter_conntrack.h>

#include <memory>

#include "netlink/conntrack.h"
#include "src/util/unique_handle.h"

namespace kproxy::netlink {

// Owner types of the library's handles (design.md convention 4).
using NfctHandle = UniqueHandle<nfct_handle, nfct_close>;
using NfConntrack = UniqueHandle<nf_conntrack, nfct_destroy>;

// The flow as an nf_conntrack object: both tuples, the zone when not 0, the id when not 0 (which
// libnetfilter_conntrack 1.0.9 never puts in a message; remove() adds CTA_ID itself). NFCT_Q_CREATE
// needs a timeout (and a TCP state for TCP) set on top.
NfConntrack toNfConntrack(const ConntrackFlow& flow);
// The flow an nf_conntrack object describes (what a dump callback receives).
ConntrackFlow fromNfConntrack(const nf_conntrack& ct);

class NfctConntrackClient final : public ConntrackClient {
 public:
  // Opens the handle in the current network namespace.
  static Result<std::unique_ptr<NfctConntrackClient>> open();

  // netlink::ConntrackClient
  Result<std::vector<ConntrackFlow>> dumpUdp(IpFamily family) override;
  Result<size_t> remove(const std::vector<ConntrackFlow>& flows) override;

 private:
  explicit NfctConntrackClient(NfctHandle handle) : handle_(std::move(handle)) {}

  // One sendto() of `count` deletes; the answer per flow: 0 or an errno. An Error when the batch
  // could not be sent or its answers not read.
  Result<std::vector<int>> deleteBatch(const ConntrackFlow* flows, size_t count);
  // Replaces the socket after a request failed half-way.
  void resetSocket();

  NfctHandle handle_;
  uint32_t next_seq_ = 1;
};

}  // namespace kproxy::netlink
