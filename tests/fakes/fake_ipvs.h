// In-memory fakes of the IPVS, link and IP-set clients (netlink/ipvs.h, link.h, ipset.h): they
// keep state and answer as the kernel does for what kproxy's IPVS mode uses (EEXIST on a
// duplicate add, ESRCH on a command for a missing virtual server, ENOENT for a missing
// destination or set, deletes of absent addresses/members succeed), and count the reads, so that
// tests can check what a sync read and sent (design.md: fakes keep state and dump it).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "netlink/ipset.h"
#include "netlink/ipvs.h"
#include "netlink/link.h"

namespace kproxy::fakes {

class FakeIpvs final : public netlink::IpvsClient {
 public:
  Result<std::vector<netlink::IpvsService>> listServices() override;
  Result<netlink::IpvsService> getService(const netlink::IpvsService& key) override;
  Result<std::vector<netlink::IpvsDestination>> listDestinations(const netlink::IpvsService& service) override;
  Result<std::vector<netlink::IpvsServiceWithDestinations>> listAll() override;
  std::vector<Status> execute(const std::vector<netlink::IpvsOperation>& operations) override;
  Result<netlink::IpvsTimeouts> getTimeouts() override { return timeouts_; }
  Status setTimeouts(const netlink::IpvsTimeouts& timeouts) override;
  Status flush() override;

  // Sets the connection counters of a destination, as traffic would (false: no such destination).
  bool setCounts(const netlink::IpvsService& key, const IpAddress& address, uint16_t port, uint32_t active,
                 uint32_t inactive);
  // `ipvsadm -S -n`-like listing, one line per service and destination, sorted.
  std::string dump() const;

  size_t listServicesCalls() const { return list_services_calls_; }
  size_t listAllCalls() const { return list_all_calls_; }
  size_t listDestinationsCalls() const { return list_destinations_calls_; }
  size_t operationsExecuted() const { return operations_; }

 private:
  struct Entry {
    netlink::IpvsService service;
    std::vector<netlink::IpvsDestination> destinations;
  };
  Entry* find(const netlink::IpvsService& key);
  Status run(const netlink::IpvsOperation& op);

  std::vector<Entry> entries_;  // insertion order, as the kernel's hash order is to us
  netlink::IpvsTimeouts timeouts_;
  size_t list_services_calls_ = 0;
  size_t list_all_calls_ = 0;
  size_t list_destinations_calls_ = 0;
  size_t operations_ = 0;
};

class FakeLinks final : public netlink::LinkClient {
 public:
  Result<netlink::LinkInfo> getLink(std::string_view name) override;
  Result<netlink::LinkInfo> ensureDummyLink(std::string_view name) override;
  Status deleteDummyLink(std::string_view name) override;
  Result<std::vector<IpAddress>> listAddresses(std::string_view name, IpFamily family) override;
  Result<std::vector<netlink::LinkAddress>> listAllAddresses(IpFamily family) override;
  std::vector<Status> addAddresses(std::string_view name, const std::vector<IpAddress>& addresses) override;
  std::vector<Status> deleteAddresses(std::string_view name, const std::vector<IpAddress>& addresses) override;

  size_t listAddressesCalls() const { return list_addresses_calls_; }

 private:
  std::map<std::string, std::set<IpAddress>, std::less<>> links_;  // dummy links and their addresses
  size_t list_addresses_calls_ = 0;
};

class FakeIpSets final : public netlink::IpSetClient {
 public:
  Status create(const netlink::IpSetSpec& spec) override;
  Status destroy(std::string_view name) override;
  Status flush(std::string_view name) override;
  Status swap(std::string_view a, std::string_view b) override;
  std::vector<Status> addMembers(std::string_view set, const std::vector<std::string>& members) override;
  std::vector<Status> deleteMembers(std::string_view set, const std::vector<std::string>& members) override;
  Result<bool> test(std::string_view set, std::string_view member) override;
  Result<netlink::IpSetContent> list(std::string_view name) override;
  Result<std::vector<std::string>> listNames() override;

  size_t listCalls() const { return list_calls_; }

 private:
  struct Set {
    netlink::IpSetSpec spec;
    std::set<std::string> members;
  };
  std::map<std::string, Set, std::less<>> sets_;
  size_t list_calls_ = 0;
};

}  // namespace kproxy::fakes
