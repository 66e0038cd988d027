#include "modes/ipvs/saved_state.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <string>

namespace kproxy::ipvs {
namespace {

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <typename F>
Status eachLine(std::string_view text, F&& f) {
  size_t pos = 0, number = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    ++number;
    auto w = words(line);
    if (!w.empty() && w[0][0] != '#') {
      Status s = f(w);
      if (!s.ok()) return Error(fmt::format("line {}: {}", number, s.error().message));
    }
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }
  return okStatus();
}

std::optional<IpSetType> setType(std::string_view name) {
  for (IpSetType t : {IpSetType::kHashIp, IpSetType::kHashIpPort, IpSetType::kHashIpPortIp, IpSetType::kHashIpPortNet,
                      IpSetType::kBitmapPort}) {
    if (ipSetTypeName(t) == name) return t;
  }
  return std::nullopt;
}

Result<uint32_t> number(std::string_view text) {
  uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Error(fmt::format("bad number \"{}\"", text));
  }
  return v;
}

// "10.0.0.1:80", "[fd00::1]:80".
Result<std::pair<IpAddress, uint16_t>> hostPort(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Error(fmt::format("\"{}\" is not ADDRESS:PORT", text));
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto ip = IpAddress::parse(host);
  auto port = number(text.substr(colon + 1));
  if (!ip.ok() || !port.ok() || *port > 65535) return Error(fmt::format("\"{}\" is not ADDRESS:PORT", text));
  return std::make_pair(*ip, static_cast<uint16_t>(*port));
}

}  // namespace

Result<std::vector<IpSet>> parseIpsetSave(std::string_view text) {
  std::map<std::string, IpSet, std::less<>> sets;
  std::map<std::string, bool, std::less<>> skipped;
  Status s = eachLine(text, [&](const std::vector<std::string_view>& w) -> Status {
    if (w[0] == "create") {
      if (w.size() < 3) return Error("create needs a name and a type");
      auto type = setType(w[2]);
      if (!type) {
        skipped[std::string(w[1])] = true;
        return okStatus();
      }
      IpSet set;
      set.name = std::string(w[1]);
      set.type = *type;
      for (size_t i = 3; i + 1 < w.size(); ++i) {
        if (w[i] == "family") set.family = w[i + 1] == "inet6" ? IpFamily::kIPv6 : IpFamily::kIPv4;
      }
      sets[set.name] = std::move(set);
      return okStatus();
    }
    if (w[0] == "add") {
      if (w.size() < 3) return Error("add needs a set and a member");
      auto it = sets.find(w[1]);
      if (it == sets.end()) {
        if (skipped.count(w[1]) != 0) return okStatus();
        return Error(fmt::format("add to set {}, which no create line declared", w[1]));
      }
      it->second.members.emplace_back(w[2]);
      return okStatus();
    }
    return Error(fmt::format("expected create or add, got \"{}\"", w[0]));
  });
  if (!s.ok()) return s.error();
  std::vector<IpSet> out;
  for (auto& [name, set] : sets) {
    sortMembers(set);
    out.push_back(std::move(set));
  }
  return out;
}

Result<std::vector<VirtualServer>> parseIpvsadmSave(std::string_view text) {
  std::map<VirtualServerKey, VirtualServer> services;
  Status s = eachLine(text, [&](const std::vector<std::string_view>& w) -> Status {
    const bool service = w[0] == "-A" || w[0] == "--add-service";
    const bool dest = w[0] == "-a" || w[0] == "--add-server";
    if (!service && !dest) return Error(fmt::format("expected -A or -a, got \"{}\"", w[0]));
    std::optional<VirtualServerKey> key;
    bool fwmark = false;
    VirtualServer vs;
    RealServer rs;
    bool have_rs = false;
    for (size_t i = 1; i < w.size(); ++i) {
      auto next = [&]() -> Result<std::string_view> {
        if (i + 1 >= w.size()) return Error(fmt::format("option {} needs a value", w[i]));
        return w[++i];
      };
      std::string_view opt = w[i];
      if (opt == "-t" || opt == "--tcp-service" || opt == "-u" || opt == "--udp-service" || opt == "--sctp-service") {
        auto v = next();
        if (!v.ok()) return v.error();
        auto hp = hostPort(*v);
        if (!hp.ok()) return hp.error();
        api::Protocol p = opt == "-t" || opt == "--tcp-service" ? api::Protocol::kTCP
                          : opt == "--sctp-service"             ? api::Protocol::kSCTP
                                                                : api::Protocol::kUDP;
        key = VirtualServerKey{hp->first, p, hp->second};
      } else if (opt == "-f" || opt == "--fwmark-service") {
        auto v = next();
        if (!v.ok()) return v.error();
        fwmark = true;
      } else if (opt == "-s" || opt == "--scheduler") {
        auto v = next();
        if (!v.ok()) return v.error();
        vs.scheduler = std::string(*v);
      } else if (opt == "-p" || opt == "--persistent") {
        vs.flags |= kFlagPersistent;
        vs.timeout = 360;  // ipvsadm's default when -p has no value
        if (i + 1 < w.size() && !w[i + 1].empty() && w[i + 1][0] != '-') {
          auto t = number(w[++i]);
          if (!t.ok()) return t.error();
          vs.timeout = *t;
        }
      } else if (opt == "-b" || opt == "--sched-flags") {
        auto v = next();
        if (!v.ok()) return v.error();
        std::string_view flags = *v;
        if (flags.find("fallback") != std::string_view::npos || flags.find("flag-1") != std::string_view::npos) vs.flags |= kFlagSched1;
        if (flags.find("port") != std::string_view::npos || flags.find("flag-2") != std::string_view::npos) vs.flags |= kFlagSched2;
        if (flags.find("flag-3") != std::string_view::npos) vs.flags |= kFlagSched3;
      } else if (opt == "-o" || opt == "--ops") {
        vs.flags |= kFlagOnePacket;
      } else if (opt == "-r" || opt == "--real-server") {
        auto v = next();
        if (!v.ok()) return v.error();
        auto hp = hostPort(*v);
        if (!hp.ok()) return hp.error();
        rs.address = hp->first;
        rs.port = hp->second;
        have_rs = true;
      } else if (opt == "-w" || opt == "--weight") {
        auto v = next();
        if (!v.ok()) return v.error();
        auto n = number(*v);
        if (!n.ok()) return n.error();
        rs.weight = static_cast<int>(*n);
      } else if (opt == "-M" || opt == "--netmask" || opt == "-x" || opt == "--u-threshold" || opt == "-y" ||
                 opt == "--l-threshold" || opt == "--tun-type" || opt == "--pe") {
        auto v = next();
        if (!v.ok()) return v.error();
      }
      // -m, -g, -i (forwarding methods) and anything else take no value here.
    }
    if (fwmark) return okStatus();
    if (!key) return Error("no -t, -u or --sctp-service virtual service");
    if (service) {
      vs.address = key->address;
      vs.protocol = key->protocol;
      vs.port = key->port;
      vs.netmask = defaultNetmask(vs.family());
      auto [it, inserted] = services.emplace(*key, vs);
      if (!inserted) {
        vs.real_servers = std::move(it->second.real_servers);
        it->second = std::move(vs);
      }
      return okStatus();
    }
    if (!have_rs) return Error("-a without -r");
    auto it = services.find(*key);
    if (it == services.end()) return Error("real server of " + key->toString() + ", which no -A line declared");
    it->second.real_servers.push_back(rs);
    return okStatus();
  });
  if (!s.ok()) return s.error();
  std::vector<VirtualServer> out;
  for (auto& [key, vs] : services) {
    std::sort(vs.real_servers.begin(), vs.real_servers.end(), [](const RealServer& a, const RealServer& b) {
      return a.address != b.address ? a.address < b.address : a.port < b.port;
    });
    out.push_back(std::move(vs));
  }
  return out;
}

}  // namespace kproxy::ipvs
