// GenlIpvsClient: IpvsClient over generic netlink with libnl-genl-3 (family "IPVS", version 1;
// spec ipvs-and-runtime.md §1.10), the layout ipvsadm's libipvs and keepalived send. One
// NETLINK_GENERIC socket, bound in the network namespace current at open(), with the family id
// resolved once; calls are serialized by a mutex (upstream moby/ipvs does the same).
//
// Unlike libipvs, which opens a socket and resolves the family for every request, execute()
// sends its operations many per sendmsg() (netlink/nl_batch.h) and matches each answer to its
// request, so a first sync of 50k destinations costs a few hundred system calls, not 500k.
#pragma once

#include <memory>
#include <mutex>

#include "netlink/handles.h"
#include "netlink/ipvs.h"

namespace kproxy::netlink {

class GenlIpvsClient final : public IpvsClient {
 public:
  // Connects and resolves the IPVS family. Fails with ENOENT ("IPVS: generic netlink family not
  // found; is the ip_vs module loaded?") when the kernel has no IPVS; open() first tries
  // `modprobe ip_vs` as upstream's library does (`load_module` false skips it).
  static Result<std::unique_ptr<GenlIpvsClient>> open(bool load_module = true);

  // netlink::IpvsClient
  Result<std::vector<IpvsService>> listServices() override;
  Result<IpvsService> getService(const IpvsService& key) override;
  Result<std::vector<IpvsDestination>> listDestinations(const IpvsService& service) override;
  Result<std::vector<IpvsServiceWithDestinations>> listAll() override;
  std::vector<Status> execute(const std::vector<IpvsOperation>& operations) override;
  Result<IpvsTimeouts> getTimeouts() override;
  Status setTimeouts(const IpvsTimeouts& timeouts) override;
  Status flush() override;

  int familyId() const { return family_; }

 private:
  GenlIpvsClient(NlSocket sock, int family) : sock_(std::move(sock)), family_(family) {}

  // A request of `cmd` with the genl header in place (flags added when sent).
  NlMsg newRequest(uint8_t cmd) const;
  Result<IpvsService> getServiceLocked(const IpvsService& key);
  Result<std::vector<IpvsDestination>> listDestinationsLocked(const IpvsService& service);
  Result<std::vector<IpvsService>> listServicesLocked();

  std::mutex mu_;
  NlSocket sock_;
  int family_;
  uint32_t seq_ = 1;
};

}  // namespace kproxy::netlink
