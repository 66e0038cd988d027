#include "netlink/link_route.h"

#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/rtnl.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "netlink/errors.h"
#include "netlink/nl_batch.h"
#include "src/util/safe_text.h"

namespace kproxy::netlink {
namespace {

constexpr int kTimeoutSeconds = 30;

LinkInfo infoOf(rtnl_link* link) {
  LinkInfo info;
  if (const char* name = rtnl_link_get_name(link)) info.name = name;
  info.index = rtnl_link_get_ifindex(link);
  if (const char* kind = rtnl_link_get_type(link)) info.kind = kind;
  info.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
  return info;
}

int afOf(IpFamily family) { return family == IpFamily::kIPv4 ? AF_INET : AF_INET6; }

}  // namespace

Result<std::unique_ptr<RouteLinkClient>> RouteLinkClient::open() {
  NlSocket links(nl_socket_alloc());
  NlSocket batch(nl_socket_alloc());
  if (!links || !batch) return Error("link: cannot allocate a netlink socket", ENOMEM);
  if (int err = nl_connect(links.get(), NETLINK_ROUTE); err < 0) return nlError("link: connect rtnetlink", err);
  if (int err = nl_connect(batch.get(), NETLINK_ROUTE); err < 0) return nlError("link: connect rtnetlink", err);
  prepareBatchSocket(batch.get(), kTimeoutSeconds);
  return std::unique_ptr<RouteLinkClient>(new RouteLinkClient(std::move(links), std::move(batch)));
}

Result<LinkInfo> RouteLinkClient::getLinkLocked(std::string_view name) {
  const std::string n(name);
  rtnl_link* raw = nullptr;
  int err = rtnl_link_get_kernel(links_.get(), 0, n.c_str(), &raw);
  RtnlLink link(raw);
  if (err < 0) {
    const Error e = nlError("link: get " + n, err);
    // kernel: RTM_GETLINK of an unknown name answers ENODEV (libnl: NLE_OBJ_NOTFOUND / NLE_NODEV).
    if (e.code == ENOENT || e.code == ENODEV) return errnoError("link: get " + n, ENODEV);
    return e;
  }
  return infoOf(link.get());
}

Result<LinkInfo> RouteLinkClient::getLink(std::string_view name) {
  std::lock_guard lock(mu_);
  return getLinkLocked(name);
}

Result<LinkInfo> RouteLinkClient::ensureDummyLink(std::string_view name) {
  // A name with a NUL would be looked up and created cut short; one too long, cut by the kernel.
  if (Status ok = checkAttributeText("link: name", name, IFNAMSIZ); !ok.ok()) return ok.error();
  std::lock_guard lock(mu_);
  const std::string n(name);
  auto existing = getLinkLocked(name);
  if (existing.ok()) {
    if (existing->kind != "dummy") {
      return errnoError("link: " + n + " exists and is a " + (existing->kind.empty() ? "non-dummy" : existing->kind) +
                            " link, not a dummy",
                        EEXIST);
    }
    return existing;
  }
  if (existing.error().code != ENODEV) return existing.error();
  RtnlLink link(rtnl_link_alloc());
  if (!link) return Error("link: create " + n + ": out of memory", ENOMEM);
  rtnl_link_set_name(link.get(), n.c_str());
  if (int err = rtnl_link_set_type(link.get(), "dummy"); err < 0) return nlError("link: create " + n, err);
  // upstream: the link is never set up; its addresses are local all the same.
  if (int err = rtnl_link_add(links_.get(), link.get(), NLM_F_CREATE); err < 0) {
    const Error e = nlError("link: create dummy link " + n, err);
    if (!isAlreadyExists(e)) return e;  // created meanwhile by someone else: read it back
  }
  return getLinkLocked(name);
}

Status RouteLinkClient::deleteDummyLink(std::string_view name) {
  std::lock_guard lock(mu_);
  const std::string n(name);
  auto existing = getLinkLocked(name);
  if (!existing.ok()) return existing.error().code == ENODEV ? okStatus() : Status(existing.error());
  if (existing->kind != "dummy") {
    return errnoError("link: " + n + " is a " + (existing->kind.empty() ? "non-dummy" : existing->kind) +
                          " link; only a dummy link is deleted",
                      EINVAL);
  }
  RtnlLink link(rtnl_link_alloc());
  if (!link) return Error("link: delete " + n + ": out of memory", ENOMEM);
  rtnl_link_set_ifindex(link.get(), existing->index);
  if (int err = rtnl_link_delete(links_.get(), link.get()); err < 0) {
    return ignoreNotFound(nlError("link: delete " + n, err));
  }
  return okStatus();
}

Result<std::vector<LinkAddress>> RouteLinkClient::dumpAddressesLocked(IpFamily family, int only_index) {
  NlMsg msg(nlmsg_alloc_simple(RTM_GETADDR, 0));
  ifaddrmsg ifa{};
  ifa.ifa_family = static_cast<uint8_t>(afOf(family));
  if (!msg || nlmsg_append(msg.get(), &ifa, sizeof(ifa), NLMSG_ALIGNTO) < 0) {
    return Error("link: list addresses: cannot build the request", ENOMEM);
  }
  std::vector<LinkAddress> out;
  std::map<int, std::string> names;
  auto status = runDump(
      batch_.get(), seq_, msg.get(), "link: list addresses",
      [&](const nlmsghdr* hdr) {
        if (hdr->nlmsg_type != RTM_NEWADDR) return 0;
        const auto* a = static_cast<const ifaddrmsg*>(nlmsg_data(hdr));
        if (a->ifa_family != afOf(family)) return 0;
        const int index = static_cast<int>(a->ifa_index);
        if (only_index != 0 && index != only_index) return 0;
        nlattr* tb[IFA_MAX + 1] = {};
        if (nlmsg_parse(const_cast<nlmsghdr*>(hdr), sizeof(ifaddrmsg), tb, IFA_MAX, nullptr) < 0) return EPROTO;
        // IPv4: IFA_LOCAL is the address (IFA_ADDRESS the peer on point-to-point links); IPv6
        // sends only IFA_ADDRESS.
        nlattr* attr = tb[IFA_LOCAL] != nullptr ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
        const int want = family == IpFamily::kIPv4 ? 4 : 16;
        if (attr == nullptr || nla_len(attr) < want) return 0;
        LinkAddress la;
        la.link_index = index;
        la.address.ip = IpAddress::fromBytes(family, static_cast<const uint8_t*>(nla_data(attr)));
        la.address.prefix_length = a->ifa_prefixlen;
        auto it = names.find(index);
        if (it == names.end()) {
          char buf[IF_NAMESIZE] = {};
          it = names.emplace(index, if_indextoname(static_cast<unsigned>(index), buf) != nullptr ? buf : "").first;
        }
        la.link = it->second;
        out.push_back(std::move(la));
        return 0;
      },
      [&] { out.clear(); });
  if (!status.ok()) return status.error();
  return out;
}

Result<std::vector<IpAddress>> RouteLinkClient::listAddresses(std::string_view name, IpFamily family) {
  std::lock_guard lock(mu_);
  auto link = getLinkLocked(name);
  if (!link.ok()) return link.error();
  auto all = dumpAddressesLocked(family, link->index);
  if (!all.ok()) return all.error();
  std::vector<IpAddress> out;
  out.reserve(all->size());
  for (const auto& a : *all) out.push_back(a.address.ip);
  return out;
}

Result<std::vector<LinkAddress>> RouteLinkClient::listAllAddresses(IpFamily family) {
  std::lock_guard lock(mu_);
  return dumpAddressesLocked(family, 0);
}

std::vector<Status> RouteLinkClient::changeAddresses(std::string_view name, const std::vector<IpAddress>& addresses,
                                                     bool add) {
  std::vector<Status> out(addresses.size());
  if (addresses.empty()) return out;
  std::lock_guard lock(mu_);
  const std::string verb = add ? "link: bind " : "link: unbind ";
  auto link = getLinkLocked(name);
  if (!link.ok()) {
    for (size_t i = 0; i < addresses.size(); ++i) {
      // Nothing to unbind from a link that is gone.
      out[i] = !add && link.error().code == ENODEV ? okStatus() : Status(link.error());
    }
    return out;
  }
  AckedBatch batch;
  std::vector<size_t> sent;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const IpAddress& ip = addresses[i];
    RtnlAddr addr(rtnl_addr_alloc());
    NlAddr local(nl_addr_build(ip.isV4() ? AF_INET : AF_INET6, ip.bytes(), static_cast<size_t>(ip.byteLength())));
    nl_msg* raw = nullptr;
    int err = -NLE_NOMEM;
    if (addr && local) {
      rtnl_addr_set_ifindex(addr.get(), link->index);
      rtnl_addr_set_family(addr.get(), ip.isV4() ? AF_INET : AF_INET6);
      rtnl_addr_set_prefixlen(addr.get(), ip.isV4() ? 32 : 128);
      // libnl also sends IFA_ADDRESS = IFA_LOCAL, as `ip addr add ADDR/32` does.
      rtnl_addr_set_local(addr.get(), local.get());
      err = add ? rtnl_addr_build_add_request(addr.get(), NLM_F_CREATE | NLM_F_EXCL, &raw)
                : rtnl_addr_build_delete_request(addr.get(), 0, &raw);
    }
    NlMsg msg(raw);
    if (err < 0 || !msg) {
      out[i] = nlError(verb + ip.toString() + " on " + std::string(name), err);
      continue;
    }
    batch.append(msg.get());
    sent.push_back(i);
  }
  const std::vector<int> errs = batch.send(batch_.get(), seq_);
  for (size_t k = 0; k < sent.size(); ++k) {
    if (errs[k] == 0) continue;
    const IpAddress& ip = addresses[sent[k]];
    Status s = errnoError(verb + ip.toString() + (ip.isV4() ? "/32" : "/128") + (add ? " to " : " from ") +
                              std::string(name),
                          errs[k]);
    out[sent[k]] = add ? ignoreAlreadyExists(std::move(s)) : ignoreNotFound(std::move(s));
  }
  return out;
}

std::vector<Status> RouteLinkClient::addAddresses(std::string_view name, const std::vector<IpAddress>& addresses) {
  return changeAddresses(name, addresses, true);
}

std::vector<Status> RouteLinkClient::deleteAddresses(std::string_view name, const std::vector<IpAddress>& addresses) {
  return changeAddresses(name, addresses, false);
}

}  // namespace kproxy::netlink
