// ServiceCIDR (networking.k8s.io/v1) decoding and validation, and the per-family view each
// proxier uses (upstream TestProxier_OnServiceCIDRsChanged).
#include "src/api/service_cidr.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "src/api/decode.h"

namespace kproxy::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

DecodeResult decode(const std::string& bytes, const std::string& name = "cidrs.yaml") {
  return decodeManifests({ManifestFile{name, bytes}});
}

std::vector<std::string> messages(const DecodeResult& result) {
  std::vector<std::string> out;
  for (const Error& e : result.errors) out.push_back(e.message);
  return out;
}

std::string serviceCidr(const std::string& name, const std::string& cidrs_yaml) {
  return "apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata:\n  name: " + name + "\nspec:\n  cidrs:\n" +
         cidrs_yaml;
}

TEST(ServiceCIDR, DecodesFromYamlAndJson) {
  auto yaml = decode(serviceCidr("kubernetes", "  - 10.96.0.0/16\n  - fd00:10:96::/112\n"));
  EXPECT_THAT(messages(yaml), IsEmpty());
  ASSERT_EQ(yaml.state.service_cidrs.size(), 1u);
  EXPECT_EQ(yaml.state.service_cidrs[0]->meta.name, "kubernetes");
  EXPECT_THAT(yaml.state.service_cidrs[0]->cidrs, ElementsAre("10.96.0.0/16", "fd00:10:96::/112"));

  auto json = decode(
      R"({"apiVersion":"v1","kind":"List","items":[{"apiVersion":"networking.k8s.io/v1","kind":"ServiceCIDR",)"
      R"("metadata":{"name":"extra"},"spec":{"cidrs":["10.100.0.0/24"]}}]})",
      "list.json");
  EXPECT_THAT(messages(json), IsEmpty());
  ASSERT_EQ(json.state.service_cidrs.size(), 1u);
  EXPECT_THAT(json.state.service_cidrs[0]->cidrs, ElementsAre("10.100.0.0/24"));
}

TEST(ServiceCIDR, RejectsWhatTheApiServerRejects) {
  struct Case {
    std::string name;
    std::string cidrs_yaml;
    std::string expected;
  };
  const Case cases[] = {
      {"not a CIDR", "  - 10.96.0.0\n",
       "cidrs.yaml:7: ServiceCIDR bad: spec.cidrs[0]: \"10.96.0.0\" is not a valid CIDR (e.g. 10.96.0.0/16 or 2001:db8::/64)"},
      {"host bits set", "  - 10.96.0.1/16\n",
       "cidrs.yaml:7: ServiceCIDR bad: spec.cidrs[0]: \"10.96.0.1/16\" is not in canonical form (the network address "
       "with no host bits set, as \"10.96.0.0/16\")"},
      {"not canonical", "  - FD00:10:96::/112\n",
       "cidrs.yaml:7: ServiceCIDR bad: spec.cidrs[0]: \"FD00:10:96::/112\" is not in canonical form (the network "
       "address with no host bits set, as \"fd00:10:96::/112\")"},
      {"two of one family", "  - 10.96.0.0/16\n  - 10.97.0.0/16\n",
       "cidrs.yaml:1: ServiceCIDR bad: spec.cidrs: two CIDRs must be of different IP families"},
      {"three", "  - 10.96.0.0/16\n  - fd00::/112\n  - 10.98.0.0/16\n",
       "cidrs.yaml:1: ServiceCIDR bad: spec.cidrs: at most two CIDRs, one of each IP family, are allowed"},
      {"hostile", "  - \"10.96.0.0/16\\\"; flush ruleset\\n\"\n",
       "cidrs.yaml:7: ServiceCIDR bad: spec.cidrs[0]: \"10.96.0.0/16\\\"; flush ruleset\\n\" is not a valid CIDR (e.g. "
       "10.96.0.0/16 or 2001:db8::/64)"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto result = decode(serviceCidr("bad", c.cidrs_yaml));
    EXPECT_THAT(messages(result), ElementsAre(c.expected));
    EXPECT_THAT(result.state.service_cidrs, IsEmpty());
  }
  auto empty = decode("apiVersion: networking.k8s.io/v1\nkind: ServiceCIDR\nmetadata:\n  name: none\nspec: {}\n");
  EXPECT_THAT(messages(empty),
              ElementsAre("cidrs.yaml:1: ServiceCIDR none: spec.cidrs: missing (one CIDR, or one of each IP family)"));
}

TEST(ServiceCIDR, EachFamilyGetsItsOwn) {
  // upstream TestProxier_OnServiceCIDRsChanged.
  auto two = decode(serviceCidr("a", "  - 172.30.0.0/16\n  - fd00:10:96::/112\n"));
  ASSERT_THAT(messages(two), IsEmpty());
  auto texts = [](const std::vector<Cidr>& cidrs) {
    std::vector<std::string> out;
    for (const auto& c : cidrs) out.push_back(c.toString());
    return out;
  };
  EXPECT_THAT(texts(serviceCidrsOf(two.state.service_cidrs, IpFamily::kIPv4)), ElementsAre("172.30.0.0/16"));
  EXPECT_THAT(texts(serviceCidrsOf(two.state.service_cidrs, IpFamily::kIPv6)), ElementsAre("fd00:10:96::/112"));

  auto four = decode(serviceCidr("a", "  - 172.30.0.0/16\n  - fd00:10:96::/112\n") + "---\n" +
                     serviceCidr("b", "  - 172.50.0.0/16\n  - fd00:172:30::/112\n") + "---\n" +
                     serviceCidr("c", "  - 172.30.0.0/16\n"));
  ASSERT_THAT(messages(four), IsEmpty());
  EXPECT_THAT(texts(serviceCidrsOf(four.state.service_cidrs, IpFamily::kIPv4)), ElementsAre("172.30.0.0/16", "172.50.0.0/16"));
  EXPECT_THAT(texts(serviceCidrsOf(four.state.service_cidrs, IpFamily::kIPv6)), ElementsAre("fd00:10:96::/112", "fd00:172:30::/112"));
}

}  // namespace
}  // namespace kproxy::api
