// FakeConntrack: a state-holding conntrack table. It holds flows of every family and protocol,
// finds them the way the kernel does (family, protocol, original tuple, zone; the id when one is
// given), and prints itself like `conntrack -L`. It passes tests/contract/conntrack_contract.h, as
// the real client does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "netlink/conntrack.h"

namespace kproxy::fakes {

class FakeConntrack final : public netlink::ConntrackClient {
 public:
  // Adds an entry, as NFCT_Q_CREATE does: EEXIST when an entry with the same original tuple is
  // already in that zone. The entry gets a fresh id (flow.id is ignored).
  Status insert(netlink::ConntrackFlow flow);

  // Every later dump fails with `error` (nullopt: dumps work again).
  void failDumpWith(std::optional<Error> error) { dump_error_ = std::move(error); }
  // Every later dump stops after `n` matching entries and still succeeds, as a dump interrupted by
  // EINTR does (nullopt: complete dumps again).
  void interruptDumpAfter(std::optional<size_t> n) { dump_limit_ = n; }
  // Every later remove() deletes nothing and fails with `error` (nullopt: removes work again).
  void failRemoveWith(std::optional<Error> error) { remove_error_ = std::move(error); }

  // The entries in insertion order (ids included).
  const std::vector<netlink::ConntrackFlow>& flows() const { return flows_; }
  // One line per entry, like `conntrack -L` (ConntrackFlow::toString), sorted; "" when empty.
  std::string dump() const;

  size_t dumpCalls() const { return dump_calls_; }
  size_t removeCalls() const { return remove_calls_; }
  // Entries deleted by remove() over the fake's life.
  size_t removedTotal() const { return removed_total_; }

  // netlink::ConntrackClient
  Result<std::vector<netlink::ConntrackFlow>> dumpUdp(IpFamily family) override;
  Result<size_t> remove(const std::vector<netlink::ConntrackFlow>& flows) override;

 private:
  std::vector<netlink::ConntrackFlow> flows_;
  uint32_t next_id_ = 1;
  std::optional<Error> dump_error_;
  std::optional<size_t> dump_limit_;
  std::optional<Error> remove_error_;
  size_t dump_calls_ = 0;
  size_t remove_calls_ = 0;
  size_t removed_total_ = 0;
};

// Builders for tests (of the fake, of the real client, of the reconciler).

// A UDP flow from client:sport to frontend:dport, DNATed to endpoint:eport (reply src endpoint,
// reply dst client). Pass the frontend as the endpoint for an entry that was never DNATed.
netlink::ConntrackFlow udpFlow(const char* client, uint16_t sport, const char* frontend, uint16_t dport,
                               const char* endpoint, uint16_t eport, uint16_t zone = 0);
netlink::ConntrackFlow withProtocol(netlink::ConntrackFlow flow, uint8_t protocol);
// Flows as sorted toString() lines: readable sets in failure messages, independent of the kernel's
// hash order.
std::vector<std::string> flowLines(const std::vector<netlink::ConntrackFlow>& flows);

}  // namespace kproxy::fakes
