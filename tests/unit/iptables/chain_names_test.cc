#include "modes/iptables/chain_names.h"

#include <gtest/gtest.h>

namespace kproxy::iptables {
namespace {

// Worked examples of spec iptables-mode.md §3 (all appear in upstream's expected outputs).
TEST(ChainNames, MatchUpstreamHashes) {
  EXPECT_EQ(serviceChainNames("ns1/svc1:p80", "tcp").svc, "KUBE-SVC-XPGD46QRK7WJZT7O");
  EXPECT_EQ(serviceChainNames("ns1/svc1:p80", "tcp").fw, "KUBE-FW-XPGD46QRK7WJZT7O");
  EXPECT_EQ(serviceChainNames("ns1/svc1:p80", "tcp").ext, "KUBE-EXT-XPGD46QRK7WJZT7O");
  EXPECT_EQ(serviceChainNames("ns1/svc1", "tcp").svl, "KUBE-SVL-AQI2S6QIMU7PVVRP");
  EXPECT_EQ(serviceChainNames("ns4/svc4:p8082", "tcp").svc, "KUBE-SVC-EBDQOQU5SJFXRIL3");
  EXPECT_EQ(endpointChainName("ns1/svc1:p80", "tcp", "10.180.0.1:80"), "KUBE-SEP-SXIVWICOYRO3J4NJ");
  EXPECT_EQ(endpointChainName("ns5/svc5:p80", "tcp", "10.180.0.3:80"), "KUBE-SEP-I77PXRDZVX7PMWMN");
}

TEST(ChainNames, FitIptablesLimit) {
  auto names = serviceChainNames("a-very-long-namespace-name/a-very-long-service-name:a-long-port-name", "sctp");
  for (const auto& n : {names.svc, names.svl, names.ext, names.fw}) EXPECT_LE(n.size(), 28u);
  EXPECT_LE(endpointChainName("x/y:z", "udp", "[2001:db8::1]:53").size(), 28u);
}

TEST(ChainNames, ServiceChainPrefixes) {
  for (const char* name : {"KUBE-SVC-A", "KUBE-SVL-A", "KUBE-EXT-A", "KUBE-FW-A", "KUBE-SEP-A"})
    EXPECT_TRUE(isServiceChainName(name)) << name;
  for (const char* name : {"KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-MARK-MASQ", "DOCKER", "KUBE-FIREWALL"})
    EXPECT_FALSE(isServiceChainName(name)) << name;
}

}  // namespace
}  // namespace kproxy::iptables
