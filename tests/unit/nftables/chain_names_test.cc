// nftables chain and set names: upstream's Test_servicePortChainNameBase and
// Test_servicePortEndpointChainNameBase cases (hash prefix, IPv6 colons, the 240-byte limit).
#include "modes/nftables/chain_names.h"

#include <gtest/gtest.h>

namespace kproxy::nftables {
namespace {

const std::string kLongNamespace = "very-long-namespace-name-abcdefghijklmnopqrstuvwxyz0123456789xx";
const std::string kLongName = "very-long-service-name-why-would-you-even-do-this-i-mean-really";
const std::string kLongPort = "port-443-providing-the-hypertext-transmission-protocol-with-tls";

TEST(ChainNames, ServicePortBaseAsUpstream) {
  struct Case {
    std::string name, ns, svc, protocol, port, expected;
  };
  const Case cases[] = {
      {"simple", "testing", "service", "tcp", "http", "P4ZYZVCF-testing/service/tcp/http"},
      {"different port, different hash", "testing", "service", "tcp", "https", "LZBRENCP-testing/service/tcp/https"},
      {"max length", kLongNamespace, kLongName, "sctp", kLongPort,
       "KR6NACJP-" + kLongNamespace + "/" + kLongName + "/sctp/" + kLongPort},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(servicePortChainNameBase(c.ns, c.svc, c.protocol, c.port), c.expected);
  }
}

TEST(ChainNames, EndpointBaseAsUpstream) {
  struct Case {
    std::string name, ns, svc, protocol, port, endpoint, expected;
  };
  const std::string long_prefix = kLongNamespace + "/" + kLongName + "/sctp/" + kLongPort;
  const Case cases[] = {
      {"simple", "testing", "service", "tcp", "http", "10.180.0.1:80", "JO2XBXZR-testing/service/tcp/http__10.180.0.1/80"},
      {"different endpoint, different hash", "testing", "service", "tcp", "http", "10.180.0.2:80",
       "5S6H3H22-testing/service/tcp/http__10.180.0.2/80"},
      {"ipv6", "testing", "service", "tcp", "http", "[fd80:abcd:12::a1b2:c3d4:e5f6:9999]:80",
       "U7E2ET36-testing/service/tcp/http__fd80.abcd.12..a1b2.c3d4.e5f6.9999/80"},
      {"max length without truncation", kLongNamespace, kLongName, "sctp", kLongPort,
       "[1234:5678:9abc:def0::abc:1234]:443", "5YS7AFEA-" + long_prefix + "__1234.5678.9abc.def0..abc.1234/443"},
      {"truncated, 1", kLongNamespace, kLongName, "sctp", kLongPort, "[1234:5678:9abc:def0::abcd:1234:5678]:443",
       "CI6C53Q3-" + long_prefix + "__1234.5678.9abc.def0..abcd.1234..."},
      {"truncated, 2 (different IP, which is not visible in the result)", kLongNamespace, kLongName, "sctp", kLongPort,
       "[1234:5678:9abc:def0::abcd:1234:8765]:443", "2FLXFK6X-" + long_prefix + "__1234.5678.9abc.def0..abcd.1234..."},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string base = servicePortEndpointChainNameBase(c.ns, c.svc, c.protocol, c.port, c.endpoint);
    EXPECT_EQ(base, c.expected);
    EXPECT_LE(base.size(), kChainNameBaseLengthMax);
  }
}

TEST(ChainNames, PrefixesAndKinds) {
  const std::string base = servicePortChainNameBase("ns1", "svc1", "tcp", "p80");
  EXPECT_EQ(base, "ULMVA6XW-ns1/svc1/tcp/p80");
  const auto names = servicePortChainNames(base);
  EXPECT_EQ(names.cluster, "service-ULMVA6XW-ns1/svc1/tcp/p80");
  EXPECT_EQ(names.local, "local-ULMVA6XW-ns1/svc1/tcp/p80");
  EXPECT_EQ(names.external, "external-ULMVA6XW-ns1/svc1/tcp/p80");
  EXPECT_EQ(names.firewall, "firewall-ULMVA6XW-ns1/svc1/tcp/p80");
  const std::string ep = servicePortEndpointChainNameBase("ns5", "svc5", "tcp", "p80", "10.180.0.3:80");
  EXPECT_EQ(endpointChainName(ep), "endpoint-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80");
  EXPECT_EQ(affinitySetName(ep), "affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80");
  EXPECT_TRUE(isServiceChainName(names.cluster));
  EXPECT_FALSE(isServiceChainName("services"));
  EXPECT_FALSE(isServiceChainName("filter-prerouting-pre-dnat"));
  EXPECT_TRUE(isAffinitySetName(affinitySetName(ep)));
  EXPECT_FALSE(isAffinitySetName("cluster-ips"));
}

// Names the API server would never accept cannot break out of an unquoted nft name: the
// readable part keeps only [A-Za-z0-9_./-], and the hash (of the original) keeps them distinct.
TEST(ChainNames, CharactersOutsideNftNamesAreReplaced) {
  const std::string a = servicePortChainNameBase("ns 1", "svc;drop", "tcp", "p\"80\n");
  const std::string b = servicePortChainNameBase("ns_1", "svc_drop", "tcp", "p_80_");
  EXPECT_EQ(a.substr(8), "-ns_1/svc_drop/tcp/p_80_");
  EXPECT_EQ(b.substr(8), "-ns_1/svc_drop/tcp/p_80_");
  EXPECT_NE(a, b);
  for (char c : a) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' || c == '-';
    EXPECT_TRUE(ok) << "character " << static_cast<int>(c) << " in " << a;
  }
}

}  // namespace
}  // namespace kproxy::nftables
