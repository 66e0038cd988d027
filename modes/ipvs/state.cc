#include "modes/ipvs/state.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <functional>
#include <tuple>

#include "src/util/line_buffer.h"
#include "src/util/safe_text.h"

namespace kproxy::ipvs {
namespace {

// Address words as the kernel holds them, host order: one word for IPv4, four for IPv6.
uint32_t addressWord(const IpAddress& ip, int i) {
  const uint8_t* b = ip.bytes() + 4 * i;
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

// libipvs compares addresses by subtracting them as unsigned words and reading the difference
// as an int (ipvs_cmp_services / ipvs_cmp_dests), so two addresses more than 2^31 apart compare
// "wrapped": 192.168.0.2 sorts before 10.20.30.41. Reproduced on purpose.
int wrappedAddressCompare(const IpAddress& a, const IpAddress& b) {
  const int words = a.isV4() ? 1 : 4;
  int r = 0;
  for (int i = 0; r == 0 && i < words; ++i) r = static_cast<int32_t>(addressWord(a, i) - addressWord(b, i));
  return r;
}

int afNumber(IpFamily family) { return family == IpFamily::kIPv4 ? 2 : 10; }  // AF_INET, AF_INET6

// ipvsadm 1.31 / libipvs ipvs_cmp_services (fwmark is always 0 here).
int compareServices(const VirtualServer& a, const VirtualServer& b) {
  int r = afNumber(a.family()) - afNumber(b.family());
  if (r != 0) return r;
  r = protocolNumber(a.protocol) - protocolNumber(b.protocol);
  if (r != 0) return r;
  r = wrappedAddressCompare(a.address, b.address);
  if (r != 0) return r;
  return int{a.port} - int{b.port};
}

// libipvs ipvs_cmp_dests.
int compareDests(const RealServer& a, const RealServer& b) {
  int r = wrappedAddressCompare(a.address, b.address);
  if (r != 0) return r;
  return int{a.port} - int{b.port};
}

// glibc's qsort (msort_with_tmp: top-down merge sort, left element first on ties), which is what
// ipvsadm's qsort runs on Debian 12. With the wrapped comparator the result is the same for any
// input order whenever the addresses of a family lie within 2^31 of each other; otherwise ipvsadm's
// order depends on the kernel's hash-table order and this gives the order of our sorted input.
template <typename T, typename Cmp>
void glibcMergeSort(std::vector<const T*>& items, Cmp cmp) {
  std::vector<const T*> tmp(items.size());
  std::function<void(size_t, size_t)> sort = [&](size_t begin, size_t n) {
    if (n <= 1) return;
    const size_t n1 = n / 2;
    const size_t n2 = n - n1;
    sort(begin, n1);
    sort(begin + n1, n2);
    size_t i = begin, j = begin + n1, k = 0;
    const size_t i_end = begin + n1, j_end = begin + n;
    while (i < i_end && j < j_end) tmp[k++] = cmp(*items[i], *items[j]) <= 0 ? items[i++] : items[j++];
    while (i < i_end) tmp[k++] = items[i++];
    // The rest of the right half is already in place.
    std::copy(tmp.begin(), tmp.begin() + static_cast<std::ptrdiff_t>(k), items.begin() + static_cast<std::ptrdiff_t>(begin));
  };
  sort(0, items.size());
}

void appendHostPort(std::string& out, const IpAddress& ip, int port) {
  if (ip.isV6()) out.push_back('[');
  ip.appendTo(out);
  if (ip.isV6()) out.push_back(']');
  out.push_back(':');
  char buf[8];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), port);
  (void)ec;
  out.append(buf, end);
}

// The service part of an ipvsadm rule: "-t 10.20.30.41:80".
std::string serviceSpec(const VirtualServer& vs) {
  std::string out;
  switch (vs.protocol) {
    case api::Protocol::kTCP:
      out = "-t ";
      break;
    case api::Protocol::kUDP:
      out = "-u ";
      break;
    case api::Protocol::kSCTP:
      out = "--sctp-service ";
      break;
  }
  appendHostPort(out, vs.address, vs.port);
  return out;
}

// ipvsadm's names for scheduler flags: sh and mh have their own, other schedulers flag-N.
std::string schedulerFlagNames(const VirtualServer& vs) {
  const bool sh = vs.scheduler == "sh";
  const bool mh = vs.scheduler == "mh";
  std::string out;
  auto add = [&](std::string_view name) {
    if (!out.empty()) out.push_back(',');
    out += name;
  };
  if (vs.flags & kFlagSched1) add(sh ? "sh-fallback" : mh ? "mh-fallback" : "flag-1");
  if (vs.flags & kFlagSched2) add(sh ? "sh-port" : mh ? "mh-port" : "flag-2");
  if (vs.flags & kFlagSched3) add("flag-3");
  return out;
}

std::string netmaskText(const VirtualServer& vs) {
  if (vs.family() == IpFamily::kIPv6) return std::to_string(vs.netmask);
  // inet_ntoa of the mask as the kernel stores it (network order).
  return std::to_string((vs.netmask >> 24) & 0xFF) + "." + std::to_string((vs.netmask >> 16) & 0xFF) + "." +
         std::to_string((vs.netmask >> 8) & 0xFF) + "." + std::to_string(vs.netmask & 0xFF);
}

long parsePort(std::string_view text) {
  long value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return -1;
  return value;
}

}  // namespace

int protocolNumber(api::Protocol protocol) {
  switch (protocol) {
    case api::Protocol::kTCP:
      return 6;
    case api::Protocol::kUDP:
      return 17;
    case api::Protocol::kSCTP:
      return 132;
  }
  return 0;
}

std::string RealServer::toString() const {
  std::string out;
  appendHostPort(out, address, port);
  return out;
}

std::string VirtualServerKey::toString() const {
  std::string out;
  appendHostPort(out, address, port);
  out.push_back('/');
  out += api::protocolName(protocol);
  return out;
}

std::strong_ordering VirtualServerKey::operator<=>(const VirtualServerKey& other) const {
  if (auto c = address.family() <=> other.address.family(); c != 0) return c;
  if (auto c = protocolNumber(protocol) <=> protocolNumber(other.protocol); c != 0) return c;
  if (auto c = address <=> other.address; c != 0) return c;
  return port <=> other.port;
}

bool VirtualServer::sameServiceAttributes(const VirtualServer& other) const {
  return scheduler == other.scheduler && (flags & ~kFlagHashed) == (other.flags & ~kFlagHashed) &&
         timeout == other.timeout;
}

bool VirtualServer::operator==(const VirtualServer& other) const {
  return key() == other.key() && sameServiceAttributes(other) && netmask == other.netmask &&
         real_servers == other.real_servers;
}

std::string_view ipSetTypeName(IpSetType type) {
  switch (type) {
    case IpSetType::kHashIp:
      return "hash:ip";
    case IpSetType::kHashIpPort:
      return "hash:ip,port";
    case IpSetType::kHashIpPortIp:
      return "hash:ip,port,ip";
    case IpSetType::kHashIpPortNet:
      return "hash:ip,port,net";
    case IpSetType::kBitmapPort:
      return "bitmap:port";
  }
  return "";
}

bool IpSet::sameDefinition(const IpSet& other) const {
  if (name != other.name || type != other.type) return false;
  if (isHashType(type)) return family == other.family && hash_size == other.hash_size && max_elem == other.max_elem;
  return port_range == other.port_range;
}

bool ipSetMemberLess(IpSetType type, std::string_view a, std::string_view b) {
  if (type == IpSetType::kBitmapPort) {
    long pa = parsePort(a), pb = parsePort(b);
    if (pa != pb) return pa < pb;
  }
  return a < b;
}

void sortMembers(IpSet& set) {
  std::sort(set.members.begin(), set.members.end(),
            [&](const std::string& a, const std::string& b) { return ipSetMemberLess(set.type, a, b); });
  set.members.erase(std::unique(set.members.begin(), set.members.end()), set.members.end());
}

const VirtualServer* IpvsState::findVirtualServer(const VirtualServerKey& key) const {
  auto it = std::lower_bound(virtual_servers.begin(), virtual_servers.end(), key,
                             [](const VirtualServer& vs, const VirtualServerKey& k) { return vs.key() < k; });
  return it != virtual_servers.end() && it->key() == key ? &*it : nullptr;
}

const IpSet* IpvsState::findIpSet(std::string_view name) const {
  auto it = std::lower_bound(ipsets.begin(), ipsets.end(), name,
                             [](const IpSet& set, std::string_view n) { return set.name < n; });
  return it != ipsets.end() && it->name == name ? &*it : nullptr;
}

void IpvsState::normalize() {
  for (auto& vs : virtual_servers) {
    vs.flags &= ~kFlagHashed;
    std::sort(vs.real_servers.begin(), vs.real_servers.end(), [](const RealServer& a, const RealServer& b) {
      return std::tie(a.address, a.port) < std::tie(b.address, b.port);
    });
  }
  std::sort(virtual_servers.begin(), virtual_servers.end(),
            [](const VirtualServer& a, const VirtualServer& b) { return a.key() < b.key(); });
  for (auto& set : ipsets) sortMembers(set);
  std::sort(ipsets.begin(), ipsets.end(), [](const IpSet& a, const IpSet& b) { return a.name < b.name; });
  std::sort(kube_ipvs0_addresses.begin(), kube_ipvs0_addresses.end());
  kube_ipvs0_addresses.erase(std::unique(kube_ipvs0_addresses.begin(), kube_ipvs0_addresses.end()),
                             kube_ipvs0_addresses.end());
  std::sort(exclude_cidrs.begin(), exclude_cidrs.end());
}

const std::vector<IpSetInfo>& ipSetTable() {
  // upstream pkg/proxy/ipvs/ipset.go constants and proxier.go ipsetInfo, in that order.
  static const std::vector<IpSetInfo> kTable = {
      {kLoopBackSet, IpSetType::kHashIpPortIp,
       "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"},
      {kClusterIpSet, IpSetType::kHashIpPort, "Kubernetes service cluster ip + port for masquerade purpose"},
      {kExternalIpSet, IpSetType::kHashIpPort,
       "Kubernetes service external ip + port for masquerade and filter purpose"},
      {kExternalIpLocalSet, IpSetType::kHashIpPort,
       "Kubernetes service external ip + port with externalTrafficPolicy=local"},
      {kLoadBalancerSet, IpSetType::kHashIpPort, "Kubernetes service lb portal"},
      {kLoadBalancerFwSet, IpSetType::kHashIpPort,
       "Kubernetes service load balancer ip + port for load balancer with sourceRange"},
      {kLoadBalancerLocalSet, IpSetType::kHashIpPort,
       "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"},
      {kLoadBalancerSourceIpSet, IpSetType::kHashIpPortIp,
       "Kubernetes service load balancer ip + port + source IP for packet filter purpose"},
      {kLoadBalancerSourceCidrSet, IpSetType::kHashIpPortNet,
       "Kubernetes service load balancer ip + port + source cidr for packet filter purpose"},
      {kNodePortTcpSet, IpSetType::kBitmapPort, "Kubernetes nodeport TCP port for masquerade purpose"},
      {kNodePortLocalTcpSet, IpSetType::kBitmapPort, "Kubernetes nodeport TCP port with externalTrafficPolicy=local"},
      {kNodePortUdpSet, IpSetType::kBitmapPort, "Kubernetes nodeport UDP port for masquerade purpose"},
      {kNodePortLocalUdpSet, IpSetType::kBitmapPort, "Kubernetes nodeport UDP port with externalTrafficPolicy=local"},
      {kNodePortSctpSet, IpSetType::kHashIpPort,
       "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'"},
      {kNodePortLocalSctpSet, IpSetType::kHashIpPort,
       "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'"},
      {kHealthCheckNodePortSet, IpSetType::kBitmapPort, "Kubernetes health check node port"},
      {kIpvsIpsSet, IpSetType::kHashIp, "Addresses on the ipvs interface"},
  };
  return kTable;
}

std::string ipSetName(std::string_view ipv4_name, IpFamily family) {
  std::string name(ipv4_name);
  if (family == IpFamily::kIPv6 && name.rfind("KUBE-", 0) == 0) {
    name.replace(0, 5, "KUBE-6-");
    if (name.size() > 31) name.resize(31);
  }
  return name;
}

// Every word that comes from a value (scheduler, set name, range, member) goes through safeWord:
// whatever a caller put there, it cannot end the line or add words to it.
constexpr size_t kMaxWord = 256;

std::string formatIpvsadmSave(const IpvsState& state) {
  std::vector<const VirtualServer*> services;
  services.reserve(state.virtual_servers.size());
  size_t dests = 0;
  for (const auto& vs : state.virtual_servers) {
    services.push_back(&vs);
    dests += vs.real_servers.size();
  }
  glibcMergeSort(services, compareServices);

  LineBuffer out;
  std::string scratch;
  out.reserve(services.size() * 48 + dests * 64);
  std::vector<const RealServer*> rss;
  for (const VirtualServer* vs : services) {
    const std::string spec = serviceSpec(*vs);
    out.words("-A", spec, "-s", safeWord(vs->scheduler, scratch, kMaxWord));
    if (vs->flags & kFlagPersistent) {
      out.word("-p").decimal(vs->timeout);
      if (vs->netmask != defaultNetmask(vs->family())) out.words("-M", netmaskText(*vs));
    }
    if (vs->flags & kFlagOnePacket) out.word("-o");
    if (vs->flags & (kFlagSched1 | kFlagSched2 | kFlagSched3)) out.words("-b", schedulerFlagNames(*vs));
    out.endLine();

    rss.clear();
    for (const auto& rs : vs->real_servers) rss.push_back(&rs);
    glibcMergeSort(rss, compareDests);
    for (const RealServer* rs : rss) {
      out.words("-a", spec, "-r", rs->toString(), "-m", "-w").decimal(rs->weight).endLine();
    }
  }
  return out.release();
}

std::string formatIpsetSave(const IpvsState& state) {
  LineBuffer out;
  std::string name_scratch, scratch;
  for (const auto& set : state.ipsets) {
    const std::string& name = safeWord(set.name, name_scratch, kMaxWord);
    out.words("create", name, ipSetTypeName(set.type));
    if (isHashType(set.type)) {
      out.words("family", set.family == IpFamily::kIPv4 ? "inet" : "inet6", "hashsize")
          .decimal(set.hash_size)
          .word("maxelem")
          .decimal(set.max_elem);
    } else {
      out.words("range", safeWord(set.port_range, scratch, kMaxWord));
    }
    out.endLine();
    for (const auto& member : set.members) out.words("add", name, safeWord(member, scratch, kMaxWord)).endLine();
  }
  return out.release();
}

std::string formatKubeIpvs0Commands(const IpvsState& state) {
  LineBuffer out;
  out.line("ip link add kube-ipvs0 type dummy");
  for (const auto& ip : state.kube_ipvs0_addresses) {
    out.words("ip", "addr", "add").ip(ip).raw(ip.isV4() ? "/32" : "/128").words("dev", kDummyDevice).endLine();
  }
  return out.release();
}

std::string describe(const VirtualServer& vs) {
  std::string out = std::string(api::protocolName(vs.protocol)) + " ";
  appendHostPort(out, vs.address, vs.port);
  out += " " + vs.scheduler;
  if (vs.flags != 0) {
    char buf[24];
    std::snprintf(buf, sizeof(buf), " flags=%#x", vs.flags);
    out += buf;
  }
  if (vs.timeout != 0) out += " timeout=" + std::to_string(vs.timeout);
  out += " ->";
  if (vs.real_servers.empty()) out += " (none)";
  for (size_t i = 0; i < vs.real_servers.size(); ++i) {
    out += i == 0 ? " " : ", ";
    out += vs.real_servers[i].toString() + " w" + std::to_string(vs.real_servers[i].weight);
  }
  return out;
}

}  // namespace kproxy::ipvs
