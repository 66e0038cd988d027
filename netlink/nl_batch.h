// Request plumbing shared by the libnl clients of this folder (ipvs_genl, link_route): requests
// that each ask for an acknowledgement (NLM_F_ACK), sent many per sendmsg() and answered one
// errno each, and dumps read to their NLMSG_DONE. Internal to kproxy_netlink.
//
// Why not nl_send_auto() + nl_wait_for_ack() per request (what libnl's rtnl_addr_add and libipvs
// do): one round trip per request, and libnl turns the kernel's errno into an NLE_* code that
// cannot tell ESRCH from ENOENT. The kernel handles every message of one sendmsg() in order and
// answers each one (netlink_rcv_skb), so a window of requests costs one send and a few
// recvmmsg() calls, and the answer of each request is found by its sequence number.
#pragma once

#include <linux/netlink.h>
#include <netlink/msg.h>
#include <netlink/socket.h>

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "src/util/result.h"

namespace kproxy::netlink {

// Prepares a connected libnl socket for this plumbing: a larger receive buffer (the answers of a
// window queue up in it), NETLINK_CAP_ACK (error answers do not echo the request), no libnl
// sequence checks (this file matches answers itself), and receive timeout `timeout_seconds`.
void prepareBatchSocket(nl_sock* sock, int timeout_seconds);

class AckedBatch {
 public:
  // Requests per sendmsg(): their answers (~800 bytes of receive buffer each) must fit the
  // socket's receive buffer, or the kernel drops them.
  static constexpr size_t kWindow = 128;
  static constexpr size_t kWindowBytes = 64 * 1024;

  // Appends a built request (its bytes are copied; NLM_F_REQUEST | NLM_F_ACK are added and the
  // sequence number set when it is sent).
  void append(nl_msg* msg);
  size_t size() const { return offsets_.size(); }
  bool empty() const { return offsets_.empty(); }
  void clear();

  // Sends every request in order; per request 0 or the positive errno the kernel answered. When
  // the socket itself fails, the requests without an answer get that errno (they may or may not
  // have been applied; later windows are not sent) and `socket_error` (if given) says what
  // failed. `seq` is the socket's sequence counter.
  std::vector<int> send(nl_sock* sock, uint32_t& seq, Error* socket_error = nullptr);

 private:
  std::vector<uint8_t> bytes_;
  std::vector<size_t> offsets_;
};

// Sends `request` (NLM_F_REQUEST | NLM_F_DUMP added) and calls `on_message` for every answer that
// is not NLMSG_DONE / NLMSG_ERROR; a non-zero return of `on_message` ends the dump with that
// errno. The kernel's error answer becomes an Error with its errno. A dump the kernel marks
// inconsistent (NLM_F_DUMP_INTR: the table changed under it) is run again, up to 5 times, after
// `on_restart` (which drops what the callback collected).
Status runDump(nl_sock* sock, uint32_t& seq, nl_msg* request, std::string_view what,
               const std::function<int(const nlmsghdr*)>& on_message, const std::function<void()>& on_restart);

// Sends `request` (NLM_F_REQUEST | NLM_F_ACK added; no dump) and calls `on_message` for each
// answer before the acknowledgement; the kernel's error answer becomes an Error with its errno.
Status runGet(nl_sock* sock, uint32_t& seq, nl_msg* request, std::string_view what,
              const std::function<int(const nlmsghdr*)>& on_message);

}  // namespace kproxy::netlink
