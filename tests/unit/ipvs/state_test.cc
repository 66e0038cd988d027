// The printers of IpvsState (ipvsadm -S -n, ipset save, kube-ipvs0 commands), set naming, and the
// value semantics the diff relies on.
#include "modes/ipvs/state.h"

#include <gtest/gtest.h>

#include "tests/unit/ipvs/ipvs_builders.h"

namespace kproxy::ipvs {
namespace {

using testing::ip;
using testing::rs;
using testing::vs;

TEST(IpvsadmSave, ServiceAndDestinationLines) {
  struct Case {
    std::string name;
    VirtualServer server;
    std::string expected;
  };
  VirtualServer persistent = vs("10.20.30.41", 80);
  persistent.flags = kFlagPersistent;
  persistent.timeout = 10800;
  VirtualServer mh = vs("10.20.30.41", 80);
  mh.scheduler = "mh";
  mh.flags = kFlagPersistent | kFlagMhPort;
  mh.timeout = 600;
  VirtualServer sh = vs("10.20.30.41", 80);
  sh.scheduler = "sh";
  sh.flags = kFlagSched1 | kFlagSched2;
  VirtualServer other = vs("10.20.30.41", 80);
  other.scheduler = "wlc";
  other.flags = kFlagSched2 | kFlagSched3;
  VirtualServer masked = vs("10.20.30.41", 80);
  masked.flags = kFlagPersistent;
  masked.timeout = 300;
  masked.netmask = 0xFFFFFF00;
  VirtualServer masked6 = vs("2001:db8::1", 443);
  masked6.flags = kFlagPersistent;
  masked6.timeout = 300;
  masked6.netmask = 64;
  VirtualServer hashed = vs("10.20.30.41", 80);
  hashed.flags = kFlagHashed;
  const std::vector<Case> cases = {
      {"tcp", vs("10.20.30.41", 80, api::Protocol::kTCP, {rs("10.180.0.1", 8080)}),
       "-A -t 10.20.30.41:80 -s rr\n-a -t 10.20.30.41:80 -r 10.180.0.1:8080 -m -w 1\n"},
      {"udp", vs("10.20.30.41", 53, api::Protocol::kUDP, {rs("10.180.0.1", 53, 0)}),
       "-A -u 10.20.30.41:53 -s rr\n-a -u 10.20.30.41:53 -r 10.180.0.1:53 -m -w 0\n"},
      {"sctp", vs("10.20.30.41", 3868, api::Protocol::kSCTP),
       "-A --sctp-service 10.20.30.41:3868 -s rr\n"},
      {"ipv6", vs("2001:db8::1", 80, api::Protocol::kTCP, {rs("fd00::1", 8080)}),
       "-A -t [2001:db8::1]:80 -s rr\n-a -t [2001:db8::1]:80 -r [fd00::1]:8080 -m -w 1\n"},
      {"persistent", persistent, "-A -t 10.20.30.41:80 -s rr -p 10800\n"},
      {"mh flags after persistence", mh, "-A -t 10.20.30.41:80 -s mh -p 600 -b mh-port\n"},
      {"sh flags", sh, "-A -t 10.20.30.41:80 -s sh -b sh-fallback,sh-port\n"},
      {"other scheduler flags", other, "-A -t 10.20.30.41:80 -s wlc -b flag-2,flag-3\n"},
      {"ipv4 netmask", masked, "-A -t 10.20.30.41:80 -s rr -p 300 -M 255.255.255.0\n"},
      {"ipv6 netmask", masked6, "-A -t [2001:db8::1]:443 -s rr -p 300 -M 64\n"},
      {"hashed flag is never printed", hashed, "-A -t 10.20.30.41:80 -s rr\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    IpvsState state;
    state.virtual_servers = {c.server};
    EXPECT_EQ(formatIpvsadmSave(state), c.expected);
  }
}

TEST(IpvsadmSave, OrderIsIpvsadmsIncludingWrappedAddressComparison) {
  IpvsState state;
  state.virtual_servers = {
      vs("10.20.30.41", 80, api::Protocol::kUDP),
      vs("10.20.30.41", 443),
      vs("10.20.30.41", 80),
      vs("192.168.0.2", 30000),
      vs("1.2.3.4", 80),
      vs("2001:db8::1", 80),
      vs("fd00::1", 80),
      vs("10.20.30.41", 3868, api::Protocol::kSCTP),
  };
  // Family first (AF_INET before AF_INET6), then protocol number (TCP 6, UDP 17, SCTP 132), then
  // the address as libipvs compares it: unsigned difference read as int, so 192.168.0.2 comes
  // before 1.2.3.4, which comes before 10.20.30.41; then port.
  EXPECT_EQ(formatIpvsadmSave(state),
            "-A -t 192.168.0.2:30000 -s rr\n"
            "-A -t 1.2.3.4:80 -s rr\n"
            "-A -t 10.20.30.41:80 -s rr\n"
            "-A -t 10.20.30.41:443 -s rr\n"
            "-A -u 10.20.30.41:80 -s rr\n"
            "-A --sctp-service 10.20.30.41:3868 -s rr\n"
            "-A -t [fd00::1]:80 -s rr\n"
            "-A -t [2001:db8::1]:80 -s rr\n");
}

TEST(IpvsadmSave, DestinationsInIpvsadmOrder) {
  IpvsState state;
  state.virtual_servers = {vs("10.20.30.41", 80, api::Protocol::kTCP,
                              {rs("10.180.0.2", 80), rs("10.180.0.1", 8080), rs("10.180.0.1", 80),
                               rs("192.168.5.5", 80)})};
  EXPECT_EQ(formatIpvsadmSave(state),
            "-A -t 10.20.30.41:80 -s rr\n"
            "-a -t 10.20.30.41:80 -r 192.168.5.5:80 -m -w 1\n"
            "-a -t 10.20.30.41:80 -r 10.180.0.1:80 -m -w 1\n"
            "-a -t 10.20.30.41:80 -r 10.180.0.1:8080 -m -w 1\n"
            "-a -t 10.20.30.41:80 -r 10.180.0.2:80 -m -w 1\n");
}

TEST(IpsetSave, CanonicalCreateAndSortedMembers) {
  IpvsState state;
  state.ipsets = {
      IpSet{.name = "KUBE-CLUSTER-IP", .type = IpSetType::kHashIpPort, .members = {"10.20.30.41,tcp:80", "1.2.3.4,udp:53"}},
      IpSet{.name = "KUBE-NODE-PORT-TCP", .type = IpSetType::kBitmapPort, .members = {"30080", "3001", "443"}},
      IpSet{.name = "KUBE-6-IPVS-IPS", .type = IpSetType::kHashIp, .family = IpFamily::kIPv6, .members = {"fd00::1"}},
  };
  for (auto& set : state.ipsets) sortMembers(set);
  EXPECT_EQ(formatIpsetSave(state),
            "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\n"
            "add KUBE-CLUSTER-IP 1.2.3.4,udp:53\n"
            "add KUBE-CLUSTER-IP 10.20.30.41,tcp:80\n"
            "create KUBE-NODE-PORT-TCP bitmap:port range 0-65535\n"
            "add KUBE-NODE-PORT-TCP 443\n"
            "add KUBE-NODE-PORT-TCP 3001\n"
            "add KUBE-NODE-PORT-TCP 30080\n"
            "create KUBE-6-IPVS-IPS hash:ip family inet6 hashsize 1024 maxelem 65536\n"
            "add KUBE-6-IPVS-IPS fd00::1\n");
}

TEST(KubeIpvs0Commands, HostPrefixesPerFamily) {
  IpvsState state;
  state.kube_ipvs0_addresses = {ip("10.20.30.41"), ip("fd00::10")};
  EXPECT_EQ(formatKubeIpvs0Commands(state),
            "ip link add kube-ipvs0 type dummy\n"
            "ip addr add 10.20.30.41/32 dev kube-ipvs0\n"
            "ip addr add fd00::10/128 dev kube-ipvs0\n");
  EXPECT_EQ(formatKubeIpvs0Commands(IpvsState{}), "ip link add kube-ipvs0 type dummy\n");
}

TEST(IpSetName, Ipv6PrefixAndTruncation) {
  EXPECT_EQ(ipSetName(kClusterIpSet, IpFamily::kIPv4), "KUBE-CLUSTER-IP");
  EXPECT_EQ(ipSetName(kClusterIpSet, IpFamily::kIPv6), "KUBE-6-CLUSTER-IP");
  EXPECT_EQ(ipSetName(kLoadBalancerSourceCidrSet, IpFamily::kIPv6), "KUBE-6-LOAD-BALANCER-SOURCE-CID");
  EXPECT_EQ(ipSetName(kNodePortLocalSctpSet, IpFamily::kIPv6), "KUBE-6-NODE-PORT-LOCAL-SCTP-HAS");
  for (const auto& info : ipSetTable()) EXPECT_LE(ipSetName(info.name, IpFamily::kIPv6).size(), 31u) << info.name;
  EXPECT_EQ(ipSetTable().size(), 17u);
}

TEST(Names, UpstreamStringForms) {
  EXPECT_EQ((VirtualServerKey{ip("10.20.30.41"), api::Protocol::kTCP, 80}).toString(), "10.20.30.41:80/TCP");
  EXPECT_EQ((VirtualServerKey{ip("2001::1"), api::Protocol::kSCTP, 80}).toString(), "[2001::1]:80/SCTP");
  EXPECT_EQ(rs("2001::5", 8080).toString(), "[2001::5]:8080");
}

TEST(Values, EqualityIgnoresHashedFlagAndCounters) {
  VirtualServer a = vs("10.20.30.41", 80, api::Protocol::kTCP, {rs("10.180.0.1", 80)});
  VirtualServer b = a;
  b.flags |= kFlagHashed;
  b.real_servers[0].active_connections = 3;
  EXPECT_EQ(a, b);
  b.real_servers[0].weight = 0;
  EXPECT_NE(a, b);
  VirtualServer c = a;
  c.timeout = 5;
  EXPECT_FALSE(a.sameServiceAttributes(c));
}

TEST(Values, NormalizeSortsEverything) {
  IpvsState state;
  state.virtual_servers = {vs("10.0.0.2", 80, api::Protocol::kTCP, {rs("10.1.0.2", 80), rs("10.1.0.1", 80)}),
                           vs("10.0.0.1", 80, api::Protocol::kUDP), vs("10.0.0.1", 80)};
  state.virtual_servers[0].flags = kFlagHashed;
  state.ipsets = {IpSet{.name = "B", .members = {"2", "1"}}, IpSet{.name = "A"}};
  state.kube_ipvs0_addresses = {ip("10.0.0.2"), ip("10.0.0.1"), ip("10.0.0.2")};
  state.normalize();
  ASSERT_EQ(state.virtual_servers.size(), 3u);
  EXPECT_EQ(state.virtual_servers[0].key().toString(), "10.0.0.1:80/TCP");
  EXPECT_EQ(state.virtual_servers[1].key().toString(), "10.0.0.2:80/TCP");
  EXPECT_EQ(state.virtual_servers[1].flags, 0u);
  EXPECT_EQ(state.virtual_servers[1].real_servers[0].toString(), "10.1.0.1:80");
  EXPECT_EQ(state.virtual_servers[2].key().toString(), "10.0.0.1:80/UDP");
  EXPECT_EQ(state.ipsets[0].name, "A");
  EXPECT_EQ(state.ipsets[1].members, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(state.kube_ipvs0_addresses, (std::vector<IpAddress>{ip("10.0.0.1"), ip("10.0.0.2")}));
  EXPECT_NE(state.findVirtualServer({ip("10.0.0.1"), api::Protocol::kUDP, 80}), nullptr);
  EXPECT_EQ(state.findVirtualServer({ip("10.0.0.1"), api::Protocol::kSCTP, 80}), nullptr);
  EXPECT_NE(state.findIpSet("B"), nullptr);
}


// The writers' own guard (issue 15 item 2): values that bypass validation (a scheduler, a set
// name, a range or a member holding a newline, a quote, a backslash, a NUL or 1000 bytes) still
// give exactly one well-formed line each, with the same number of words.
const std::vector<std::string>& hostileStrings() {
  static const std::vector<std::string> values = {
      "x\n-A -t 10.0.0.1:80 -s rr", "x\r\n-a", "x\" y", "x\\y", std::string("x\0y", 3), "x y\tz", std::string(1000, 'a'), "x#y;z",
  };
  return values;
}

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl - pos));
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

size_t wordCount(const std::string& line) {
  size_t n = 0;
  bool in_word = false;
  for (char c : line) {
    bool space = c == ' ';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

bool printable(const std::string& line) {
  for (char c : line) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

TEST(WriterEscaping, IpvsadmAndIpsetTextStayOneLinePerItem) {
  for (const std::string& hostile : hostileStrings()) {
    SCOPED_TRACE(::testing::PrintToString(hostile));
    IpvsState state;
    VirtualServer server = vs("10.20.30.41", 80, api::Protocol::kTCP, {rs("10.180.0.1", 8080)});
    server.scheduler = hostile;
    state.virtual_servers = {server};
    IpSet hash;
    hash.name = hostile;
    hash.members = {hostile, "10.0.0.1"};
    IpSet bitmap;
    bitmap.name = "KUBE-NODE-PORT-TCP";
    bitmap.type = IpSetType::kBitmapPort;
    bitmap.port_range = hostile;
    state.ipsets = {hash, bitmap};

    const std::vector<std::string> ipvsadm = splitLines(formatIpvsadmSave(state));
    ASSERT_EQ(ipvsadm.size(), 2u) << formatIpvsadmSave(state);
    EXPECT_EQ(wordCount(ipvsadm[0]), 5u) << ipvsadm[0];  // -A -t ADDR -s SCHED
    EXPECT_EQ(wordCount(ipvsadm[1]), 8u) << ipvsadm[1];
    const std::vector<std::string> ipset = splitLines(formatIpsetSave(state));
    ASSERT_EQ(ipset.size(), 4u) << formatIpsetSave(state);
    EXPECT_EQ(wordCount(ipset[0]), 9u) << ipset[0];  // create NAME TYPE family inet hashsize N maxelem N
    EXPECT_EQ(wordCount(ipset[1]), 3u) << ipset[1];  // add NAME MEMBER
    EXPECT_EQ(wordCount(ipset[2]), 3u) << ipset[2];
    EXPECT_EQ(wordCount(ipset[3]), 5u) << ipset[3];  // create NAME bitmap:port range R
    for (const auto& line : ipvsadm) EXPECT_TRUE(printable(line)) << line;
    for (const auto& line : ipset) EXPECT_TRUE(printable(line)) << line;
    for (const auto& line : ipset) EXPECT_LE(line.size(), 600u);
  }
  // Values that are fine are printed as they are.
  IpvsState plain;
  IpSet set;
  set.name = "KUBE-CLUSTER-IP";
  set.type = IpSetType::kHashIpPort;
  set.members = {"10.96.0.10,tcp:80", "fd00::10,udp:53"};
  plain.ipsets = {set};
  EXPECT_EQ(formatIpsetSave(plain),
            "create KUBE-CLUSTER-IP hash:ip,port family inet hashsize 1024 maxelem 65536\n"
            "add KUBE-CLUSTER-IP 10.96.0.10,tcp:80\nadd KUBE-CLUSTER-IP fd00::10,udp:53\n");
}

}  // namespace
}  // namespace kproxy::ipvs
