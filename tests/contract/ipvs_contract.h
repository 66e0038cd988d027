// Contracts of netlink::IpvsClient, LinkClient and IpSetClient (design.md convention 10): what
// IPVS mode's applier, cleanup and diff rely on, checked on the in-memory fakes
// (tests/unit/fakes/fake_ipvs_test.cc) and on the kernel through libnl/libipset inside the VM
// (tests/kernel/contract_kernel_test.cc).
//
// An environment type Env instantiates the suites:
//   struct Env {
//     static void SetUpEnvironment();  // e.g. a fresh network namespace; may skip or fail
//     Env();                           // constructed only when SetUpEnvironment did neither
//     netlink::IpvsClient& ipvs();
//     netlink::LinkClient& links();
//     netlink::IpSetClient& ipsets();
//   };
// A new environment starts with no virtual server, no link named "kt-ipvs0" and no set named
// "KT-*".
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "netlink/errors.h"
#include "netlink/ipset.h"
#include "netlink/ipvs.h"
#include "netlink/link.h"

namespace kproxy::contract {

inline IpAddress contractIp(const char* text) { return IpAddress::parse(text).value(); }

template <typename Env>
class IpvsContract : public ::testing::Test {
 protected:
  void SetUp() override {
    Env::SetUpEnvironment();
    if (HasFatalFailure() || IsSkipped()) return;
    env_ = std::make_unique<Env>();
  }

  static netlink::IpvsService service(const char* address, uint16_t port, uint16_t protocol = netlink::kIpvsProtoTcp) {
    netlink::IpvsService s;
    s.address = contractIp(address);
    s.port = port;
    s.protocol = protocol;
    s.netmask = s.address.isV4() ? 0xFFFFFFFF : 128;
    return s;
  }
  static netlink::IpvsDestination destination(const char* address, uint16_t port, uint32_t weight = 1) {
    netlink::IpvsDestination d;
    d.address = contractIp(address);
    d.port = port;
    d.weight = weight;
    return d;
  }
  Status run(netlink::IpvsCommand command, const netlink::IpvsService& s, const netlink::IpvsDestination& d = {}) {
    return env_->ipvs().execute({{.command = command, .service = s, .destination = d}}).front();
  }
  // ok(), or the error's message (for ASSERT_EQ(ok(...), "")).
  static std::string ok(const Status& s) { return s.ok() ? "" : s.error().message; }
  // "addr:port weight" per destination of `s`, sorted.
  std::vector<std::string> destinations(const netlink::IpvsService& s) {
    auto listed = env_->ipvs().listDestinations(s);
    EXPECT_TRUE(listed.ok()) << listed.error().message;
    std::vector<std::string> out;
    if (!listed.ok()) return out;
    for (const auto& d : *listed) out.push_back(d.toString() + " " + std::to_string(d.weight));
    std::sort(out.begin(), out.end());
    return out;
  }

  std::unique_ptr<Env> env_;
};

TYPED_TEST_SUITE_P(IpvsContract);

TYPED_TEST_P(IpvsContract, ServicesAreAddedOnceUpdatedAndDeletedWithTheirDestinations) {
  auto web = this->service("10.96.0.10", 80);
  ASSERT_EQ(this->ok(this->run(netlink::IpvsCommand::kNewService, web)), "");
  Status again = this->run(netlink::IpvsCommand::kNewService, web);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(netlink::isAlreadyExists(again.error())) << again.error().message;

  web.scheduler = "wrr";
  ASSERT_EQ(this->ok(this->run(netlink::IpvsCommand::kSetService, web)), "");
  auto got = this->env_->ipvs().getService(web);
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->scheduler, "wrr");

  ASSERT_EQ(this->ok(this->run(netlink::IpvsCommand::kNewDest, web, this->destination("10.244.1.2", 8080))), "");
  auto all = this->env_->ipvs().listAll();
  ASSERT_TRUE(all.ok()) << all.error().message;
  ASSERT_EQ(all->size(), 1u);
  EXPECT_TRUE(all->front().service.sameKey(web));
  ASSERT_EQ(all->front().destinations.size(), 1u);

  ASSERT_EQ(this->ok(this->run(netlink::IpvsCommand::kDelService, web)), "");
  all = this->env_->ipvs().listAll();
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->empty());
  auto gone = this->env_->ipvs().listDestinations(web);
  ASSERT_FALSE(gone.ok()) << "the destinations went with the service";
  EXPECT_TRUE(netlink::isNotFound(gone.error())) << gone.error().message;
}

TYPED_TEST_P(IpvsContract, DestinationCommandsAnswerAsTheAppliersExpect) {
  auto web = this->service("10.96.0.10", 80);
  Status orphan = this->run(netlink::IpvsCommand::kNewDest, web, this->destination("10.244.1.2", 8080));
  ASSERT_FALSE(orphan.ok()) << "no such virtual server";
  EXPECT_TRUE(netlink::isNotFound(orphan.error())) << orphan.error().message;

  ASSERT_EQ(this->ok(this->run(netlink::IpvsCommand::kNewService, web)), "");
  ASSERT_EQ(this->ok(this->run(netlink::IpvsCommand::kNewDest, web, this->destination("10.244.1.2", 8080))), "");
  Status twice = this->run(netlink::IpvsCommand::kNewDest, web, this->destination("10.244.1.2", 8080));
  ASSERT_FALSE(twice.ok());
  EXPECT_TRUE(netlink::isAlreadyExists(twice.error())) << twice.error().message;

  ASSERT_EQ(this->ok(this->run(netlink::IpvsCommand::kSetDest, web, this->destination("10.244.1.2", 8080, 0))), "");
  EXPECT_EQ(this->destinations(web), (std::vector<std::string>{"10.244.1.2:8080 0"}));
  Status missing = this->run(netlink::IpvsCommand::kSetDest, web, this->destination("10.244.1.3", 8080));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(netlink::isNotFound(missing.error())) << missing.error().message;

  ASSERT_EQ(this->ok(this->run(netlink::IpvsCommand::kDelDest, web, this->destination("10.244.1.2", 8080))), "");
  EXPECT_TRUE(this->destinations(web).empty());
  Status deleted_twice = this->run(netlink::IpvsCommand::kDelDest, web, this->destination("10.244.1.2", 8080));
  ASSERT_FALSE(deleted_twice.ok());
  EXPECT_TRUE(netlink::isNotFound(deleted_twice.error())) << deleted_twice.error().message;
}

TYPED_TEST_P(IpvsContract, ABatchAnswersEveryOperationInOrder) {
  auto web = this->service("10.96.0.10", 80);
  auto dns = this->service("10.96.0.53", 53, netlink::kIpvsProtoUdp);
  std::vector<netlink::IpvsOperation> ops = {
      {.command = netlink::IpvsCommand::kNewService, .service = web},
      {.command = netlink::IpvsCommand::kNewDest, .service = web, .destination = this->destination("10.244.1.2", 8080)},
      {.command = netlink::IpvsCommand::kNewDest, .service = dns, .destination = this->destination("10.244.2.2", 53)},
      {.command = netlink::IpvsCommand::kNewService, .service = dns},
      {.command = netlink::IpvsCommand::kNewDest, .service = dns, .destination = this->destination("10.244.2.2", 53)},
  };
  auto statuses = this->env_->ipvs().execute(ops);
  ASSERT_EQ(statuses.size(), ops.size());
  EXPECT_EQ(this->ok(statuses[0]), "");
  EXPECT_EQ(this->ok(statuses[1]), "");
  ASSERT_FALSE(statuses[2].ok()) << "dns does not exist yet: the batch goes on after a failure";
  EXPECT_EQ(this->ok(statuses[3]), "");
  EXPECT_EQ(this->ok(statuses[4]), "");
  EXPECT_EQ(this->destinations(dns), (std::vector<std::string>{"10.244.2.2:53 1"}));
  EXPECT_EQ(this->destinations(web), (std::vector<std::string>{"10.244.1.2:8080 1"}));
}

TYPED_TEST_P(IpvsContract, DummyLinkAddressesAreIdempotent) {
  netlink::LinkClient& links = this->env_->links();
  auto missing = links.listAddresses("kt-ipvs0", IpFamily::kIPv4);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENODEV) << missing.error().message;

  ASSERT_TRUE(links.ensureDummyLink("kt-ipvs0").ok());
  ASSERT_TRUE(links.ensureDummyLink("kt-ipvs0").ok()) << "an existing dummy link is success";
  const std::vector<IpAddress> two = {contractIp("10.96.0.10"), contractIp("10.96.0.53")};
  for (const auto& s : links.addAddresses("kt-ipvs0", two)) EXPECT_TRUE(s.ok()) << s.error().message;
  for (const auto& s : links.addAddresses("kt-ipvs0", two)) EXPECT_TRUE(s.ok()) << "bound already: success";
  auto listed = links.listAddresses("kt-ipvs0", IpFamily::kIPv4);
  ASSERT_TRUE(listed.ok());
  std::vector<IpAddress> sorted = *listed;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, two);
  auto v6 = links.listAddresses("kt-ipvs0", IpFamily::kIPv6);
  ASSERT_TRUE(v6.ok());
  EXPECT_TRUE(std::none_of(v6->begin(), v6->end(), [](const IpAddress& a) { return a.isV4(); }));

  for (const auto& s : links.deleteAddresses("kt-ipvs0", {contractIp("10.96.0.10"), contractIp("10.96.0.99")})) {
    EXPECT_TRUE(s.ok()) << "deleting an unbound address is success";
  }
  listed = links.listAddresses("kt-ipvs0", IpFamily::kIPv4);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<IpAddress>{contractIp("10.96.0.53")});
  ASSERT_TRUE(links.deleteDummyLink("kt-ipvs0").ok());
  ASSERT_TRUE(links.deleteDummyLink("kt-ipvs0").ok()) << "a missing link is success";
  EXPECT_FALSE(links.getLink("kt-ipvs0").ok());
}

TYPED_TEST_P(IpvsContract, IpSetsAreCreatedOnceAndTheirMembersChangedInPlace) {
  netlink::IpSetClient& sets = this->env_->ipsets();
  netlink::IpSetSpec spec{.name = "KT-CLUSTER-IP", .type = "hash:ip,port", .family = IpFamily::kIPv4};
  auto absent = sets.list(spec.name);
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().code, ENOENT) << absent.error().message;

  ASSERT_TRUE(sets.create(spec).ok());
  ASSERT_TRUE(sets.create(spec).ok()) << "create -exist with the same parameters";
  netlink::IpSetSpec other = spec;
  other.type = "hash:ip";
  Status clash = sets.create(other);
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.error().code, EEXIST) << clash.error().message;

  for (const auto& s : sets.addMembers(spec.name, {"10.96.0.10,tcp:80", "10.96.0.53,udp:53"})) {
    EXPECT_TRUE(s.ok()) << s.error().message;
  }
  for (const auto& s : sets.addMembers(spec.name, {"10.96.0.10,tcp:80"})) EXPECT_TRUE(s.ok()) << "add -exist";
  for (const auto& s : sets.deleteMembers(spec.name, {"10.96.0.53,udp:53", "10.96.0.99,tcp:1"})) {
    EXPECT_TRUE(s.ok()) << "del -exist";
  }
  auto listed = sets.list(spec.name);
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  EXPECT_EQ(listed->spec.type, "hash:ip,port");
  EXPECT_EQ(listed->members, std::vector<std::string>{"10.96.0.10,tcp:80"});
  auto in = sets.test(spec.name, "10.96.0.10,tcp:80");
  ASSERT_TRUE(in.ok());
  EXPECT_TRUE(*in);
  auto names = sets.listNames();
  ASSERT_TRUE(names.ok());
  EXPECT_NE(std::find(names->begin(), names->end(), spec.name), names->end());
  ASSERT_TRUE(sets.destroy(spec.name).ok());
  Status twice = sets.destroy(spec.name);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ENOENT) << twice.error().message;
}

REGISTER_TYPED_TEST_SUITE_P(IpvsContract, ServicesAreAddedOnceUpdatedAndDeletedWithTheirDestinations,
                            DestinationCommandsAnswerAsTheAppliersExpect, ABatchAnswersEveryOperationInOrder,
                            DummyLinkAddressesAreIdempotent, IpSetsAreCreatedOnceAndTheirMembersChangedInPlace);

}  // namespace kproxy::contract
