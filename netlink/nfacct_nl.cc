#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_acct.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include <cerrno>
#include <cstring>

#include "netlink/handles.h"
#include "netlink/nfacct.h"
#include "src/util/safe_text.h"

namespace kproxy::netlink {
namespace {

// nfnetlink messages carry a struct nfgenmsg after the netlink header.
NlMsg newRequest(uint8_t type, int flags) {
  NlMsg msg(nlmsg_alloc_simple((NFNL_SUBSYS_ACCT << 8) | type, NLM_F_REQUEST | flags));
  if (!msg) return msg;
  nfgenmsg header{};
  header.nfgen_family = AF_UNSPEC;
  header.version = NFNETLINK_V0;
  header.res_id = 0;
  if (nlmsg_append(msg.get(), &header, sizeof(header), NLMSG_ALIGNTO) < 0) return NlMsg();
  return msg;
}

struct DumpState {
  std::vector<std::string> names;
  std::vector<uint64_t> packets;
};

int collectCounter(nl_msg* msg, void* arg) {
  auto* state = static_cast<DumpState*>(arg);
  nlmsghdr* hdr = nlmsg_hdr(msg);
  nlattr* attrs[NFACCT_MAX + 1] = {};
  if (nlmsg_parse(hdr, sizeof(nfgenmsg), attrs, NFACCT_MAX, nullptr) < 0) return NL_SKIP;
  if (attrs[NFACCT_NAME] == nullptr) return NL_SKIP;
  state->names.emplace_back(nla_get_string(attrs[NFACCT_NAME]));
  state->packets.push_back(attrs[NFACCT_PKTS] != nullptr ? be64toh(nla_get_u64(attrs[NFACCT_PKTS])) : 0);
  return NL_OK;
}

class NetlinkNfacct final : public NfacctClient {
 public:
  Status ensure(std::string_view name) override {
    if (Status ok = checkAttributeText("nfacct: name", name, NFACCT_NAME_MAX); !ok.ok()) return ok;
    auto sock = connect();
    if (!sock.ok()) return sock.error();
    NlMsg msg = newRequest(NFNL_MSG_ACCT_NEW, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
    std::string n(name);
    if (!msg || nla_put_string(msg.get(), NFACCT_NAME, n.c_str()) < 0) return Error("nfacct: cannot build request");
    int err = nl_send_auto(sock->get(), msg.get());
    if (err >= 0) err = nl_wait_for_ack(sock->get());
    // kernel: an existing counter answers EBUSY/EEXIST; either means it is there.
    if (err < 0 && err != -NLE_EXIST && err != -NLE_BUSY) {
      return Error("nfacct: create counter " + n + ": " + nl_geterror(err), -err);
    }
    return okStatus();
  }

  Result<std::vector<std::string>> list() override {
    auto state = dump();
    if (!state.ok()) return state.error();
    return std::move(state->names);
  }

  Result<uint64_t> packets(std::string_view name) override {
    auto state = dump();
    if (!state.ok()) return state.error();
    for (size_t i = 0; i < state->names.size(); ++i) {
      if (state->names[i] == name) return state->packets[i];
    }
    return Error("nfacct: no counter " + std::string(name), ENOENT);
  }

 private:
  static Result<NlSocket> connect() {
    NlSocket sock(nl_socket_alloc());
    if (!sock) return Error("nfacct: cannot allocate a netlink socket");
    if (int err = nl_connect(sock.get(), NETLINK_NETFILTER); err < 0) {
      return Error(std::string("nfacct: connect NETLINK_NETFILTER: ") + nl_geterror(err), -err);
    }
    return sock;
  }

  Result<DumpState> dump() {
    auto sock = connect();
    if (!sock.ok()) return sock.error();
    DumpState state;
    nl_socket_modify_cb(sock->get(), NL_CB_VALID, NL_CB_CUSTOM, collectCounter, &state);
    NlMsg msg = newRequest(NFNL_MSG_ACCT_GET, NLM_F_DUMP);
    if (!msg) return Error("nfacct: cannot build request");
    int err = nl_send_auto(sock->get(), msg.get());
    if (err >= 0) err = nl_recvmsgs_default(sock->get());
    if (err < 0) return Error(std::string("nfacct: list counters: ") + nl_geterror(err), -err);
    return state;
  }
};

}  // namespace

std::unique_ptr<NfacctClient> newNetlinkNfacct() { return std::make_unique<NetlinkNfacct>(); }

}  // namespace kproxy::netlink
