// The in-memory IPVS, link and ip-set fakes pass the contract the real clients pass in the VM.
#include "tests/fakes/fake_ipvs.h"

#include <gtest/gtest.h>

#include "tests/contract/ipvs_contract.h"

namespace kproxy::fakes {
namespace {

struct FakeIpvsEnv {
  static void SetUpEnvironment() {}
  netlink::IpvsClient& ipvs() { return ipvs_; }
  netlink::LinkClient& links() { return links_; }
  netlink::IpSetClient& ipsets() { return sets_; }

  FakeIpvs ipvs_;
  FakeLinks links_;
  FakeIpSets sets_;
};

}  // namespace
}  // namespace kproxy::fakes

namespace kproxy::contract {
INSTANTIATE_TYPED_TEST_SUITE_P(Fake, IpvsContract, ::testing::Types<fakes::FakeIpvsEnv>);
}  // namespace kproxy::contract
