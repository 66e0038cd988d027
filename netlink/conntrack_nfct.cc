#include "netlink/conntrack_nfct.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>

namespace kproxy::netlink {
namespace {

// upstream: pkg/proxy/util MaxAttemptsEINTR, the arbitrary limit on retries of a netlink call
// that keeps being interrupted; after it the last (partial) result is used.
constexpr int kMaxAttemptsEintr = 5;

// Deletes sent per sendto(). The answers to one batch (36 bytes per success, the request echoed
// back per failure) stay far below the socket's receive buffer.
constexpr size_t kDeleteBatch = 128;
// Read size for the answers to a batch: no larger than libnfnetlink's own reads (see deleteBatch).
constexpr size_t kAnswerBuffer = 4096;

std::string errnoText(int err) {
  const char* name = strerrorname_np(err);
  return std::string(name != nullptr ? name : "errno " + std::to_string(err)) + " (" + std::strerror(err) + ")";
}

uint8_t afOf(IpFamily family) { return family == IpFamily::kIPv6 ? AF_INET6 : AF_INET; }

IpAddress getAddress(const nf_conntrack& ct, IpFamily family, nf_conntrack_attr v4, nf_conntrack_attr v6) {
  if (family == IpFamily::kIPv4) {
    uint32_t be = nfct_get_attr_u32(&ct, v4);  // network byte order
    return IpAddress::fromBytes(IpFamily::kIPv4, reinterpret_cast<const uint8_t*>(&be));
  }
  const void* bytes = nfct_get_attr(&ct, v6);
  if (bytes == nullptr) return IpAddress::fromBytes(IpFamily::kIPv6, std::array<uint8_t, 16>{}.data());
  return IpAddress::fromBytes(IpFamily::kIPv6, static_cast<const uint8_t*>(bytes));
}

void setAddress(nf_conntrack* ct, const IpAddress& ip, nf_conntrack_attr v4, nf_conntrack_attr v6) {
  if (ip.isV4()) {
    uint32_t be = 0;
    std::memcpy(&be, ip.bytes(), 4);
    nfct_set_attr_u32(ct, v4, be);
  } else {
    nfct_set_attr(ct, v6, ip.bytes());
  }
}

uint16_t getPort(const nf_conntrack& ct, nf_conntrack_attr attr) {
  return nfct_attr_is_set(&ct, attr) > 0 ? ntohs(nfct_get_attr_u16(&ct, attr)) : 0;
}

Result<NfctHandle> openHandle() {
  NfctHandle handle(nfct_open(CONNTRACK, 0));
  if (!handle) {
    int err = errno;
    return Error("conntrack: nfct_open: " + errnoText(err), err);
  }
  return handle;
}

struct DumpState {
  IpFamily family;
  std::vector<ConntrackFlow>* flows;
};

int onDumpedEntry(enum nf_conntrack_msg_type /*type*/, struct nf_conntrack* ct, void* data) {
  auto* state = static_cast<DumpState*>(data);
  // The kernel filters by family (the nfgenmsg family of the dump request); the protocol is
  // filtered here: libnetfilter_conntrack 1.0.9 has no tuple filter for dumps.
  if (nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO) != kIpProtoUdp) return NFCT_CB_CONTINUE;
  if (nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) != afOf(state->family)) return NFCT_CB_CONTINUE;
  state->flows->push_back(fromNfConntrack(*ct));
  return NFCT_CB_CONTINUE;
}

}  // namespace

NfConntrack toNfConntrack(const ConntrackFlow& flow) {
  NfConntrack ct(nfct_new());
  if (!ct) return ct;
  const uint8_t af = afOf(flow.family);
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L3PROTO, af);
  nfct_set_attr_u8(ct.get(), ATTR_REPL_L3PROTO, af);
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L4PROTO, flow.protocol);
  nfct_set_attr_u8(ct.get(), ATTR_REPL_L4PROTO, flow.protocol);
  setAddress(ct.get(), flow.orig_src, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC);
  setAddress(ct.get(), flow.orig_dst, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST);
  setAddress(ct.get(), flow.reply_src, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC);
  setAddress(ct.get(), flow.reply_dst, ATTR_REPL_IPV4_DST, ATTR_REPL_IPV6_DST);
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_SRC, htons(flow.orig_sport));
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_DST, htons(flow.orig_dport));
  nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_SRC, htons(flow.reply_sport));
  nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_DST, htons(flow.reply_dport));
  if (flow.zone != 0) nfct_set_attr_u16(ct.get(), ATTR_ZONE, flow.zone);
  // kernel: ctnetlink_del_conntrack answers ENOENT when CTA_ID does not match the entry found by
  // the tuple, so a flow recreated since the dump survives the delete.
  if (flow.id != 0) nfct_set_attr_u32(ct.get(), ATTR_ID, flow.id);
  return ct;
}

ConntrackFlow fromNfConntrack(const nf_conntrack& ct) {
  ConntrackFlow flow;
  flow.family = nfct_get_attr_u8(&ct, ATTR_ORIG_L3PROTO) == AF_INET6 ? IpFamily::kIPv6 : IpFamily::kIPv4;
  flow.protocol = nfct_get_attr_u8(&ct, ATTR_ORIG_L4PROTO);
  flow.orig_src = getAddress(ct, flow.family, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC);
  flow.orig_dst = getAddress(ct, flow.family, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST);
  flow.reply_src = getAddress(ct, flow.family, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC);
  flow.reply_dst = getAddress(ct, flow.family, ATTR_REPL_IPV4_DST, ATTR_REPL_IPV6_DST);
  flow.orig_sport = getPort(ct, ATTR_ORIG_PORT_SRC);
  flow.orig_dport = getPort(ct, ATTR_ORIG_PORT_DST);
  flow.reply_sport = getPort(ct, ATTR_REPL_PORT_SRC);
  flow.reply_dport = getPort(ct, ATTR_REPL_PORT_DST);
  if (nfct_attr_is_set(&ct, ATTR_ZONE) > 0) flow.zone = nfct_get_attr_u16(&ct, ATTR_ZONE);
  if (nfct_attr_is_set(&ct, ATTR_ID) > 0) flow.id = nfct_get_attr_u32(&ct, ATTR_ID);
  return flow;
}

Result<std::unique_ptr<NfctConntrackClient>> NfctConntrackClient::open() {
  auto handle = openHandle();
  if (!handle.ok()) return handle.error();
  return std::unique_ptr<NfctConntrackClient>(new NfctConntrackClient(std::move(*handle)));
}

void NfctConntrackClient::resetSocket() {
  // What is still queued on the old socket (the rest of a dump, answers to deletes) would be read
  // as answers to the next request; a new socket starts clean. If that fails, the old one stays.
  if (auto handle = openHandle(); handle.ok()) handle_ = std::move(*handle);
}

Result<std::vector<ConntrackFlow>> NfctConntrackClient::dumpUdp(IpFamily family) {
  std::vector<ConntrackFlow> flows;
  DumpState state{family, &flows};
  if (nfct_callback_register(handle_.get(), NFCT_T_ALL, onDumpedEntry, &state) != 0) {
    int err = errno;
    return Error("conntrack: register dump callback: " + errnoText(err), err);
  }
  uint32_t af = afOf(family);
  int err = 0;
  for (int attempt = 1; attempt <= kMaxAttemptsEintr; ++attempt) {
    flows.clear();
    err = nfct_query(handle_.get(), NFCT_Q_DUMP, &af) == 0 ? 0 : errno;
    if (err == 0) break;
    // A dump that stopped early may still have datagrams on the way.
    nfct_callback_unregister(handle_.get());
    resetSocket();
    if (err != EINTR) break;
    if (nfct_callback_register(handle_.get(), NFCT_T_ALL, onDumpedEntry, &state) != 0) break;
  }
  nfct_callback_unregister(handle_.get());
  if (err == EINTR) {
    // upstream: "received a partial result, continuing to clean with partial result"
    spdlog::debug("conntrack: dump of {} interrupted {} times, using the {} entries read", ipFamilyName(family),
                  kMaxAttemptsEintr, flows.size());
    return flows;
  }
  if (err != 0) {
    return Error("conntrack: dump " + std::string(ipFamilyName(family)) + " entries: " + errnoText(err), err);
  }
  return flows;
}

Result<size_t> NfctConntrackClient::remove(const std::vector<ConntrackFlow>& flows) {
  size_t deleted = 0;
  size_t failures = 0;
  std::optional<Error> first_failure;
  auto fail = [&](const ConntrackFlow& flow, int err) {
    ++failures;
    if (!first_failure) first_failure = Error("conntrack: delete " + flow.toString() + ": " + errnoText(err), err);
  };

  for (size_t start = 0; start < flows.size(); start += kDeleteBatch) {
    const size_t count = std::min(kDeleteBatch, flows.size() - start);
    auto answers = deleteBatch(&flows[start], count);
    if (!answers.ok()) {
      resetSocket();  // answers may still be queued
      for (size_t i = 0; i < count; ++i) fail(flows[start + i], answers.error().code);
      continue;
    }
    for (size_t i = 0; i < count; ++i) {
      const int err = (*answers)[i];
      if (err == 0) {
        ++deleted;
      } else if (err != ENOENT) {  // ENOENT: already gone (expired, deleted by someone else, or recreated)
        fail(flows[start + i], err);
      }
    }
  }
  if (first_failure) {
    return Error(first_failure->message + " (" + std::to_string(failures) + " of " + std::to_string(flows.size()) +
                     " deletes failed, " + std::to_string(deleted) + " deleted)",
                 first_failure->code);
  }
  return deleted;
}

// Sends `count` IPCTNL_MSG_CT_DELETE requests in one sendto() on the handle's socket and collects
// one answer per request (0 or an errno), matched by sequence number. libnetfilter_conntrack
// builds each message (nfct_nlmsg_build); CTA_ID is appended here because neither of the library's
// builders emits it.
Result<std::vector<int>> NfctConntrackClient::deleteBatch(const ConntrackFlow* flows, size_t count) {
  // Room for one message per flow: header, nfgenmsg, two IPv6 tuples, zone and id fit in far less.
  constexpr size_t kSlot = 512;
  std::vector<uint32_t> out(count * kSlot / sizeof(uint32_t), 0);  // uint32_t: nlmsghdr alignment
  auto* base = reinterpret_cast<char*>(out.data());
  std::vector<int> answers(count, -1);  // -1: no answer yet
  const uint32_t first_seq = next_seq_;
  next_seq_ += static_cast<uint32_t>(count);

  size_t offset = 0;
  size_t sent = 0;
  for (size_t i = 0; i < count; ++i) {
    NfConntrack ct = toNfConntrack(flows[i]);
    if (!ct) return Error("conntrack: nfct_new: out of memory", ENOMEM);
    auto* nlh = reinterpret_cast<nlmsghdr*>(base + offset);
    nlh->nlmsg_len = NLMSG_LENGTH(sizeof(nfgenmsg));
    nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = first_seq + static_cast<uint32_t>(i);
    auto* nfg = static_cast<nfgenmsg*>(NLMSG_DATA(nlh));
    nfg->nfgen_family = afOf(flows[i].family);
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    if (nfct_nlmsg_build(nlh, ct.get()) != 0) {
      answers[i] = errno != 0 ? errno : EINVAL;
      continue;  // not sent; the slot is reused by the next flow
    }
    if (flows[i].id != 0) {
      auto* attr = reinterpret_cast<nlattr*>(base + offset + NLMSG_ALIGN(nlh->nlmsg_len));
      attr->nla_type = CTA_ID;
      attr->nla_len = NLA_HDRLEN + sizeof(uint32_t);
      const uint32_t id_be = htonl(flows[i].id);
      std::memcpy(reinterpret_cast<char*>(attr) + NLA_HDRLEN, &id_be, sizeof id_be);
      nlh->nlmsg_len = NLMSG_ALIGN(nlh->nlmsg_len) + NLA_ALIGN(attr->nla_len);
    }
    offset += NLMSG_ALIGN(nlh->nlmsg_len);
    ++sent;
  }
  if (sent == 0) return answers;

  const int fd = nfct_fd(handle_.get());
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t rc;
  do {
    rc = sendto(fd, base, offset, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    return Error("conntrack: send " + std::to_string(sent) + " deletes: " + errnoText(err), err);
  }

  // kernel: netlink_rcv_skb handles the messages of one send in order and acks each (NLM_F_ACK),
  // errors included, so exactly `sent` NLMSG_ERROR answers come back, one datagram each (at most
  // the request plus 20 bytes). The buffer must stay small: the kernel sizes later dump skbs after
  // the largest read on the socket (netlink max_recvmsg_len), and libnfnetlink reads dumps into
  // 8 KiB, silently dropping the tail of a larger datagram.
  std::vector<uint32_t> in(kAnswerBuffer / sizeof(uint32_t));
  size_t pending = sent;
  while (pending > 0) {
    ssize_t n;
    do {
      n = recv(fd, in.data(), kAnswerBuffer, MSG_TRUNC);  // MSG_TRUNC: n is the datagram's real size
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int err = errno;
      return Error("conntrack: read answers to " + std::to_string(sent) + " deletes: " + errnoText(err), err);
    }
    if (static_cast<size_t>(n) > kAnswerBuffer) {
      return Error("conntrack: answer to a delete larger than " + std::to_string(kAnswerBuffer) + " bytes", EMSGSIZE);
    }
    int len = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(in.data()); NLMSG_OK(nlh, len); nlh = NLMSG_NEXT(nlh, len)) {
      if (nlh->nlmsg_type != NLMSG_ERROR || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(nlmsgerr))) continue;
      const uint32_t index = nlh->nlmsg_seq - first_seq;
      if (index >= count || answers[index] != -1) continue;  // not ours
      const auto* answer = static_cast<const nlmsgerr*>(NLMSG_DATA(nlh));
      answers[index] = -answer->error;
      --pending;
    }
  }
  return answers;
}

}  // namespace kproxy::netlink
