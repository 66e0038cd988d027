// IpvsApplier against the in-memory fakes: full applies read the kernel and repair drift; partial
// applies diff against the state the last apply left (no dump of every virtual server), read
// counts only of a virtual server that loses a destination, skip an unchanged iptables payload,
// and give way to a full apply after any failure.
#include "modes/ipvs/applier.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/fakes/fake_iptables_restore.h"
#include "tests/fakes/fake_ipvs.h"
#include "tests/unit/ipvs/ipvs_builders.h"

namespace kproxy::ipvs {
namespace {

using testing::ip;
using testing::rs;
using testing::vs;

// An iptables payload that declares every chain of IPVS mode (the applier then inserts the jumps
// to them), plus `extra` chains in nat.
std::string payload(const std::string& extra = "") {
  std::map<std::string, std::string> tables;
  for (const auto& c : ipvsChains()) tables[std::string(c.table)] += ":" + std::string(c.chain) + " - [0:0]\n";
  for (const auto& j : ipvsChainJumps()) {
    std::string& t = tables[std::string(j.table)];
    const std::string line = ":" + std::string(j.from) + " - [0:0]\n";
    if (t.find(line) == std::string::npos) t += line;
  }
  if (!extra.empty()) tables["nat"] += ":" + extra + " - [0:0]\n";
  std::string out;
  for (const auto& [table, chains] : tables) out += "*" + table + "\n" + chains + "COMMIT\n";
  return out;
}

IpvsPlan plan(std::vector<VirtualServer> servers, std::vector<const char*> bound, std::vector<std::string> members,
              std::string iptables = payload()) {
  IpvsPlan p;
  p.state.family = IpFamily::kIPv4;
  p.state.exclude_cidrs = {Cidr::parse("172.31.0.0/16").value()};
  p.state.virtual_servers = std::move(servers);
  for (const char* a : bound) p.state.kube_ipvs0_addresses.push_back(ip(a));
  IpSet set;
  set.name = "KUBE-CLUSTER-IP";
  set.type = IpSetType::kHashIpPort;
  set.members = std::move(members);
  p.state.ipsets = {set};
  p.iptables_payload = std::move(iptables);
  p.state.normalize();
  return p;
}

netlink::IpvsService key(const char* address, uint16_t port, uint16_t protocol = netlink::kIpvsProtoTcp) {
  netlink::IpvsService s;
  s.address = ip(address);
  s.port = port;
  s.protocol = protocol;
  return s;
}

class IpvsApplierTest : public ::testing::Test {
 protected:
  // The kernel state of the fakes in the form of the plan (counts cleared), for comparisons.
  IpvsState kernelState(const IpvsPlan& p) {
    auto observed = readObservedState(ipvs_, links_, sets_, IpFamily::kIPv4, p.state.ipsets);
    EXPECT_TRUE(observed.ok());
    IpvsState out = *observed;
    std::erase_if(out.virtual_servers, [](const VirtualServer& v) { return v.address == ip("172.31.0.1"); });
    for (auto& v : out.virtual_servers) {
      for (auto& r : v.real_servers) r.active_connections = r.inactive_connections = 0;
    }
    out.exclude_cidrs = p.state.exclude_cidrs;
    return out;
  }

  fakes::FakeIpvs ipvs_;
  fakes::FakeLinks links_;
  fakes::FakeIpSets sets_;
  kproxy::testing::FakeIptablesRestore iptables_;
  IpvsApplier applier_{IpvsApplierDeps{.ipvs = ipvs_, .links = links_, .ipsets = sets_, .iptables = &iptables_}};
};

const IpvsPlan kFirst = plan({vs("10.96.0.10", 80, api::Protocol::kTCP, {rs("10.244.1.2", 8080), rs("10.244.1.3", 8080)}),
                              vs("10.96.0.53", 53, api::Protocol::kUDP, {rs("10.244.2.2", 5353)})},
                             {"10.96.0.10", "10.96.0.53"}, {"10.96.0.10,tcp:80", "10.96.0.53,udp:53"});

TEST_F(IpvsApplierTest, APartialApplyWithoutAKnownStateReadsTheKernel) {
  auto applied = applier_.apply(kFirst, ApplyKind::kPartial);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_TRUE(applied->errors.empty()) << ::testing::PrintToString(applied->errors);
  EXPECT_TRUE(applied->read_kernel_state);
  EXPECT_EQ(ipvs_.listServicesCalls(), 1u);
  ASSERT_TRUE(applier_.knownState().has_value());
  EXPECT_EQ(*applier_.knownState(), kernelState(kFirst));
  EXPECT_EQ(kernelState(kFirst), kFirst.state);
}

TEST_F(IpvsApplierTest, APartialApplySendsOnlyTheChangeAndReadsOnlyTheServerThatLosesADestination) {
  ASSERT_TRUE(applier_.apply(kFirst).ok());
  const size_t restores = iptables_.calls();
  const size_t list_services = ipvs_.listServicesCalls();
  const size_t dests_before = ipvs_.listDestinationsCalls();
  const size_t set_lists = sets_.listCalls();
  const size_t ops = ipvs_.operationsExecuted();

  // One endpoint of web replaced; the iptables payload is the same.
  IpvsPlan second = plan({vs("10.96.0.10", 80, api::Protocol::kTCP, {rs("10.244.1.2", 8080), rs("10.244.1.4", 8080)}),
                          vs("10.96.0.53", 53, api::Protocol::kUDP, {rs("10.244.2.2", 5353)})},
                         {"10.96.0.10", "10.96.0.53"}, {"10.96.0.10,tcp:80", "10.96.0.53,udp:53"});
  auto applied = applier_.apply(second, ApplyKind::kPartial);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_TRUE(applied->errors.empty());
  EXPECT_FALSE(applied->read_kernel_state);
  EXPECT_FALSE(applied->iptables_restored);
  EXPECT_EQ(ipvs_.listServicesCalls(), list_services) << "no dump of the virtual servers";
  EXPECT_EQ(sets_.listCalls(), set_lists) << "no set listed";
  EXPECT_EQ(ipvs_.listDestinationsCalls(), dests_before + 1) << "counts of web only, for graceful termination";
  EXPECT_EQ(iptables_.calls(), restores) << "unchanged payload: no iptables-restore";
  EXPECT_EQ(ipvs_.operationsExecuted() - ops, 2u) << applied->changes;
  EXPECT_EQ(applied->real_servers_added, 1u);
  EXPECT_EQ(applied->real_servers_deleted, 1u) << "idle: deleted at once";
  EXPECT_EQ(kernelState(second), second.state);
  EXPECT_EQ(*applier_.knownState(), kernelState(second));

  // A new service with another payload: restored, still without a dump.
  IpvsPlan third = plan({vs("10.96.0.10", 80, api::Protocol::kTCP, {rs("10.244.1.2", 8080), rs("10.244.1.4", 8080)}),
                         vs("10.96.0.53", 53, api::Protocol::kUDP, {rs("10.244.2.2", 5353)}),
                         vs("10.96.0.77", 443, api::Protocol::kTCP, {rs("10.244.3.3", 8443)})},
                        {"10.96.0.10", "10.96.0.53", "10.96.0.77"},
                        {"10.96.0.10,tcp:80", "10.96.0.53,udp:53", "10.96.0.77,tcp:443"},
                        payload("KUBE-X"));
  const size_t list_services_before_third = ipvs_.listServicesCalls();  // kernelState() reads through the fake too
  const size_t dests_before_third = ipvs_.listDestinationsCalls();
  applied = applier_.apply(third, ApplyKind::kPartial);
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_FALSE(applied->read_kernel_state);
  EXPECT_TRUE(applied->iptables_restored);
  EXPECT_EQ(ipvs_.listServicesCalls(), list_services_before_third);
  EXPECT_EQ(ipvs_.listDestinationsCalls(), dests_before_third) << "nothing lost a destination";
  EXPECT_EQ(applied->addresses_bound, 1u);
  EXPECT_EQ(applied->set_members_added, 1u);
  EXPECT_EQ(kernelState(third), third.state);
}

TEST_F(IpvsApplierTest, DriftIsLeftToTheNextFullApply) {
  ASSERT_TRUE(applier_.apply(kFirst).ok());
  // Someone deletes a destination and an address behind kproxy's back.
  ASSERT_TRUE(ipvs_.execute({{.command = netlink::IpvsCommand::kDelDest,
                              .service = key("10.96.0.10", 80),
                              .destination = {.address = ip("10.244.1.3"), .port = 8080}}})
                  .front()
                  .ok());
  ASSERT_TRUE(links_.deleteAddress(kDummyDevice, ip("10.96.0.53")).ok());

  auto partial = applier_.apply(kFirst, ApplyKind::kPartial);
  ASSERT_TRUE(partial.ok());
  EXPECT_EQ(partial->changes, "") << "a partial apply trusts the known state";
  EXPECT_NE(kernelState(kFirst), kFirst.state);

  auto full = applier_.apply(kFirst, ApplyKind::kFull);
  ASSERT_TRUE(full.ok());
  EXPECT_TRUE(full->read_kernel_state);
  EXPECT_EQ(full->real_servers_added, 1u);
  EXPECT_EQ(full->addresses_bound, 1u);
  EXPECT_EQ(kernelState(kFirst), kFirst.state);
}

TEST_F(IpvsApplierTest, AQuiescedDestinationIsKeptAtWeightZeroUntilTheSweep) {
  ASSERT_TRUE(applier_.apply(kFirst).ok());
  ASSERT_TRUE(ipvs_.setCounts(key("10.96.0.10", 80), ip("10.244.1.3"), 8080, 1, 0));
  IpvsPlan fewer = plan({vs("10.96.0.10", 80, api::Protocol::kTCP, {rs("10.244.1.2", 8080)}),
                         vs("10.96.0.53", 53, api::Protocol::kUDP, {rs("10.244.2.2", 5353)})},
                        {"10.96.0.10", "10.96.0.53"}, {"10.96.0.10,tcp:80", "10.96.0.53,udp:53"});
  auto applied = applier_.apply(fewer, ApplyKind::kPartial);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->real_servers_quiesced, 1u) << "a live connection: weight 0, not deleted";
  EXPECT_EQ(applied->real_servers_deleted, 0u);
  EXPECT_NE(ipvs_.dump().find("-r 10.244.1.3:8080 -m -w 0"), std::string::npos) << ipvs_.dump();

  // The next partial apply neither dumps web again nor touches the quiesced destination.
  const size_t dests = ipvs_.listDestinationsCalls();
  applied = applier_.apply(fewer, ApplyKind::kPartial);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(ipvs_.listDestinationsCalls(), dests);
  EXPECT_EQ(applied->ipvs_operations, 0u) << applied->changes;

  // The connection ends; the sweep deletes it, and the known state follows.
  ASSERT_TRUE(ipvs_.setCounts(key("10.96.0.10", 80), ip("10.244.1.3"), 8080, 0, 0));
  auto swept = applier_.sweep();
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 1u);
  EXPECT_EQ(*applier_.knownState(), kernelState(fewer));
  EXPECT_EQ(kernelState(fewer), fewer.state);

  // The endpoint comes back: added at weight 1 by a partial apply.
  applied = applier_.apply(kFirst, ApplyKind::kPartial);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->real_servers_added, 1u);
  EXPECT_EQ(kernelState(kFirst), kFirst.state);
}

TEST_F(IpvsApplierTest, AFailedApplyForgetsTheKnownStateSoTheNextIsFull) {
  ASSERT_TRUE(applier_.apply(kFirst).ok());
  iptables_.failAtLine(1);
  IpvsPlan other = kFirst;
  other.iptables_payload = payload("KUBE-OTHER");
  auto failed = applier_.apply(other, ApplyKind::kPartial);
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(applier_.knownState().has_value());

  const size_t list_services = ipvs_.listServicesCalls();
  auto next = applier_.apply(other, ApplyKind::kPartial);
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_TRUE(next->read_kernel_state) << "no known state: the kernel is read";
  EXPECT_EQ(ipvs_.listServicesCalls(), list_services + 1);
  EXPECT_TRUE(next->iptables_restored);
  EXPECT_TRUE(applier_.knownState().has_value());
}

TEST_F(IpvsApplierTest, AForeignVirtualServerInExcludeCidrsStaysInTheKnownState) {
  ASSERT_TRUE(ipvs_.execute({{.command = netlink::IpvsCommand::kNewService, .service = key("172.31.0.1", 7000)}})
                  .front()
                  .ok());
  ASSERT_TRUE(applier_.apply(kFirst).ok());
  auto applied = applier_.apply(kFirst, ApplyKind::kPartial);
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied->changes, "");
  ASSERT_TRUE(applier_.knownState().has_value());
  EXPECT_NE(applier_.knownState()->findVirtualServer({ip("172.31.0.1"), api::Protocol::kTCP, 7000}), nullptr);
  EXPECT_NE(ipvs_.dump().find("172.31.0.1:7000"), std::string::npos);
}

}  // namespace
}  // namespace kproxy::ipvs
