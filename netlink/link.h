// LinkClient: the network links and addresses IPVS mode touches (spec ipvs-and-runtime.md §1.3
// steps 4, 6 and 13, §1.4): the dummy link kube-ipvs0, created when missing and left DOWN as
// upstream leaves it (its addresses are local all the same); host-prefix addresses (/32, /128)
// bound to it and unbound from it; the addresses of the other links (the node's IPs).
//
// Adds of present addresses and deletes of absent ones succeed (netlink/errors.h); errors carry
// the kernel's errno.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::netlink {

struct LinkInfo {
  std::string name;
  int index = 0;
  std::string kind;  // "dummy", "veth", ... ("" for links without IFLA_INFO_KIND, e.g. lo, eth0)
  bool up = false;   // IFF_UP
};

struct LinkAddress {
  std::string link;  // the link's name
  int link_index = 0;
  InterfaceAddress address;  // with the prefix length it was added with
};

class LinkClient {
 public:
  virtual ~LinkClient() = default;

  // The link named `name`, or ENODEV.
  virtual Result<LinkInfo> getLink(std::string_view name) = 0;
  // Creates the dummy link `name` when there is no link of that name, and leaves it (and an
  // existing one) as it is: DOWN when created. An existing link of another kind is an error
  // (EEXIST), as upstream cannot use it either.
  virtual Result<LinkInfo> ensureDummyLink(std::string_view name) = 0;
  // Deletes the link `name` if it is a dummy link; a missing link is success, a link of another
  // kind is left alone (EINVAL).
  virtual Status deleteDummyLink(std::string_view name) = 0;

  // Addresses of `family` on the link `name` (ENODEV when there is no such link), kernel order.
  virtual Result<std::vector<IpAddress>> listAddresses(std::string_view name, IpFamily family) = 0;
  // Every address of `family` on every link, kube-ipvs0's included.
  virtual Result<std::vector<LinkAddress>> listAllAddresses(IpFamily family) = 0;

  // Binds each address to `name` as a host prefix (/32, /128); one Status per address, in order.
  // An address already bound is success.
  virtual std::vector<Status> addAddresses(std::string_view name, const std::vector<IpAddress>& addresses) = 0;
  // Unbinds each host-prefix address (/32, /128: the kernel matches the prefix length too); one
  // Status per address. An address that is not bound is success.
  virtual std::vector<Status> deleteAddresses(std::string_view name, const std::vector<IpAddress>& addresses) = 0;

  Status addAddress(std::string_view name, const IpAddress& address) { return addAddresses(name, {address}).front(); }
  Status deleteAddress(std::string_view name, const IpAddress& address) {
    return deleteAddresses(name, {address}).front();
  }
};

}  // namespace kproxy::netlink
