// RouteLinkClient: LinkClient over rtnetlink with libnl-route-3. Links are created, read and
// deleted with libnl's own request/answer calls on one socket; address changes go many per
// sendmsg() on a second socket (netlink/nl_batch.h: binding 5000 service addresses is one
// request each), and address listings are one RTM_GETADDR dump. Both sockets belong to the
// network namespace current at open(); calls are serialized by a mutex.
#pragma once

#include <memory>
#include <mutex>

#include "netlink/handles.h"
#include "netlink/link.h"

namespace kproxy::netlink {

class RouteLinkClient final : public LinkClient {
 public:
  static Result<std::unique_ptr<RouteLinkClient>> open();

  // netlink::LinkClient
  Result<LinkInfo> getLink(std::string_view name) override;
  Result<LinkInfo> ensureDummyLink(std::string_view name) override;
  Status deleteDummyLink(std::string_view name) override;
  Result<std::vector<IpAddress>> listAddresses(std::string_view name, IpFamily family) override;
  Result<std::vector<LinkAddress>> listAllAddresses(IpFamily family) override;
  std::vector<Status> addAddresses(std::string_view name, const std::vector<IpAddress>& addresses) override;
  std::vector<Status> deleteAddresses(std::string_view name, const std::vector<IpAddress>& addresses) override;

 private:
  RouteLinkClient(NlSocket links, NlSocket batch) : links_(std::move(links)), batch_(std::move(batch)) {}

  Result<LinkInfo> getLinkLocked(std::string_view name);
  Result<std::vector<LinkAddress>> dumpAddressesLocked(IpFamily family, int only_index);
  std::vector<Status> changeAddresses(std::string_view name, const std::vector<IpAddress>& addresses, bool add);

  std::mutex mu_;
  NlSocket links_;  // libnl's synchronous calls (sequence checks, automatic acks)
  NlSocket batch_;  // nl_batch.h requests and dumps
  uint32_t seq_ = 1;
};

}  // namespace kproxy::netlink
