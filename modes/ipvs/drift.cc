#include "modes/ipvs/drift.h"

#include <map>
#include <set>
#include <utility>

#include "modes/common/restore_text.h"
#include "modes/ipvs/graceful_termination.h"

namespace kproxy::ipvs {
namespace {

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// `vs`'s "-A" line as ipvsadm -S -n saves it (its real servers are not printed).
std::string serviceLine(const VirtualServer& vs) {
  IpvsState one;
  one.virtual_servers.push_back(vs);
  one.virtual_servers.back().real_servers.clear();
  return lines(formatIpvsadmSave(one)).front();
}

// `rs`'s "-a" line under `vs`.
std::string destinationLine(const VirtualServer& vs, const RealServer& rs) {
  IpvsState one;
  one.virtual_servers.push_back(vs);
  one.virtual_servers.back().real_servers = {rs};
  return lines(formatIpvsadmSave(one)).back();
}

std::string createLine(const IpSet& set) {
  IpvsState one;
  one.ipsets.push_back(set);
  one.ipsets.back().members.clear();
  return lines(formatIpsetSave(one)).front();
}

std::string addressLine(const IpAddress& ip) {
  IpvsState one;
  one.kube_ipvs0_addresses.push_back(ip);
  return lines(formatKubeIpvs0Commands(one)).back();
}

// A part of the listing: a header, then hunks.
class Part {
 public:
  Part(const std::string& label, const std::string& what) : header_("--- live " + label + " " + what + "\n+++ plan " + label + " " + what + "\n") {}
  void hunk(const std::string& title) { body_ += "@@ " + title + " @@\n"; }
  void line(char kind, const std::string& text) {
    body_.push_back(kind);
    body_ += text;
    body_.push_back('\n');
  }
  void appendTo(std::string& out) const {
    if (!body_.empty()) out += header_ + body_;
  }

 private:
  std::string header_;
  std::string body_;
};

bool drainingLeftover(const IpvsChange& c) {
  return c.kind == IpvsChangeKind::kRemoveRealServer && c.real_server.weight == 0 &&
         decideRemoval(c.virtual_server.protocol, c.real_server.active_connections,
                       c.real_server.inactive_connections) == RemovalDecision::kQuiesce;
}

void listVirtualServers(const IpvsChangeList& list, const IpvsState& observed, const IpvsState& desired, Part& part) {
  std::map<VirtualServerKey, std::vector<const IpvsChange*>> by_key;
  for (const auto& c : list.changes) {
    switch (c.kind) {
      case IpvsChangeKind::kAddVirtualServer:
      case IpvsChangeKind::kUpdateVirtualServer:
      case IpvsChangeKind::kAddRealServer:
      case IpvsChangeKind::kUpdateRealServer:
      case IpvsChangeKind::kRemoveRealServer:
      case IpvsChangeKind::kDeleteVirtualServer:
        by_key[c.virtual_server.key()].push_back(&c);
        break;
      default:
        break;
    }
  }
  for (const auto& [key, changes] : by_key) {
    const VirtualServer* have = observed.findVirtualServer(key);
    const VirtualServer* want = desired.findVirtualServer(key);
    part.hunk(key.toString());
    bool service_shown = false;
    for (const IpvsChange* c : changes) {
      switch (c->kind) {
        case IpvsChangeKind::kAddVirtualServer:
          part.line('+', serviceLine(c->virtual_server));
          service_shown = true;
          break;
        case IpvsChangeKind::kUpdateVirtualServer:
          if (have != nullptr) part.line('-', serviceLine(*have));
          part.line('+', serviceLine(c->virtual_server));
          service_shown = true;
          break;
        case IpvsChangeKind::kDeleteVirtualServer:
          // The whole service goes, with its real servers.
          part.line('-', serviceLine(have != nullptr ? *have : c->virtual_server));
          service_shown = true;
          if (have != nullptr) {
            for (const auto& rs : have->real_servers) part.line('-', destinationLine(*have, rs));
          }
          break;
        default: {
          if (!service_shown) {
            part.line(' ', serviceLine(want != nullptr ? *want : c->virtual_server));
            service_shown = true;
          }
          if (c->kind == IpvsChangeKind::kAddRealServer) {
            part.line('+', destinationLine(c->virtual_server, c->real_server));
          } else if (c->kind == IpvsChangeKind::kRemoveRealServer) {
            part.line('-', destinationLine(c->virtual_server, c->real_server));
          } else {  // kUpdateRealServer: the weight
            if (have != nullptr) {
              for (const auto& rs : have->real_servers) {
                if (rs.sameDestination(c->real_server)) part.line('-', destinationLine(c->virtual_server, rs));
              }
            }
            part.line('+', destinationLine(c->virtual_server, c->real_server));
          }
          break;
        }
      }
    }
  }
}

void listIpSets(const IpvsChangeList& list, const IpvsState& observed, const IpvsState& desired, Part& part) {
  std::map<std::string, std::vector<const IpvsChange*>> by_set;
  for (const auto& c : list.changes) {
    if (c.kind == IpvsChangeKind::kCreateIpSet || c.kind == IpvsChangeKind::kAddIpSetMember ||
        c.kind == IpvsChangeKind::kDeleteIpSetMember) {
      by_set[c.ipset.name].push_back(&c);
    }
  }
  for (const auto& [name, changes] : by_set) {
    const IpSet* have = observed.findIpSet(name);
    const IpSet* want = desired.findIpSet(name);
    part.hunk(name);
    bool create_shown = false;
    for (const IpvsChange* c : changes) {
      if (c->kind == IpvsChangeKind::kCreateIpSet) {
        // Missing, or there with other create parameters.
        if (have != nullptr) part.line('-', createLine(*have));
        part.line('+', createLine(c->ipset));
        create_shown = true;
        continue;
      }
      if (!create_shown) {
        part.line(' ', createLine(want != nullptr ? *want : c->ipset));
        create_shown = true;
      }
      part.line(c->kind == IpvsChangeKind::kAddIpSetMember ? '+' : '-', "add " + name + " " + c->member);
    }
  }
}

void listAddresses(const IpvsChangeList& list, Part& part) {
  for (const auto& c : list.changes) {
    if (c.kind == IpvsChangeKind::kBindAddress) part.line('+', addressLine(c.address));
    if (c.kind == IpvsChangeKind::kUnbindAddress) part.line('-', addressLine(c.address));
  }
}

bool ownedChain(std::string_view table, std::string_view chain) {
  for (const auto& tc : ipvsChains()) {
    if (tc.table == table && tc.chain == chain) return true;
  }
  return false;
}

// The jumps the applier ensures, as a fresh node holds them (each was inserted at position 1).
std::vector<restore::ChainRules> ensuredJumps() {
  std::vector<restore::ChainRules> out;
  const auto& jumps = ipvsChainJumps();
  for (auto it = jumps.rbegin(); it != jumps.rend(); ++it) {
    restore::ChainRules* chain = nullptr;
    for (auto& c : out) {
      if (c.table == it->table && c.chain == it->from) chain = &c;
    }
    if (chain == nullptr) {
      chain = &out.emplace_back(
          restore::ChainRules{.table = std::string(it->table), .chain = std::string(it->from), .builtin = true});
    }
    std::string rule = "-A ";
    rule.append(it->from).append(" -m comment --comment \"").append(it->comment).append("\" -j ").append(it->to);
    chain->rules.push_back(std::move(rule));
  }
  return out;
}

}  // namespace

std::vector<restore::ChainRules> ipvsModeChains(const restore::RestoreText& text) {
  std::vector<restore::ChainRules> out;
  for (auto& chain : restore::kubeProxyChains(text)) {
    if (chain.builtin) {
      std::vector<std::string> kept;
      for (auto& rule : chain.rules) {
        if (ownedChain(chain.table, restore::jumpTarget(rule))) kept.push_back(std::move(rule));
      }
      if (kept.empty()) continue;
      chain.rules = std::move(kept);
    } else if (!ownedChain(chain.table, chain.chain)) {
      continue;
    }
    out.push_back(std::move(chain));
  }
  return out;
}

Result<IpvsDrift> ipvsDrift(const IpvsState& observed, const IpvsPlan& plan, std::string_view live_save,
                            const std::string& label) {
  IpvsDrift out;
  const IpvsChangeList all = diff(observed, plan.state);
  for (size_t i = 0; i < all.changes.size(); ++i) {
    if (i == all.cleanupBegin()) out.changes.cleanup_begin = out.changes.changes.size();
    if (!drainingLeftover(all.changes[i])) out.changes.changes.push_back(all.changes[i]);
  }
  if (all.cleanupBegin() >= all.changes.size()) out.changes.cleanup_begin = out.changes.changes.size();

  auto planned = restore::parseRestoreText(plan.iptables_payload);
  if (!planned.ok()) return planned.error().wrap("the plan does not parse");
  std::vector<restore::ChainRules> desired = ipvsModeChains(*planned);
  for (auto& jumps : ensuredJumps()) desired.push_back(std::move(jumps));
  auto live = restore::parseRestoreText(live_save);
  if (!live.ok()) return live.error().wrap("cannot parse iptables-save output");
  out.chains = restore::compareChains(ipvsModeChains(*live), desired, plan.state.family, label);

  Part services(label, "ipvs");
  listVirtualServers(out.changes, observed, plan.state, services);
  Part sets(label, "ip sets");
  listIpSets(out.changes, observed, plan.state, sets);
  Part addresses(label, std::string(kDummyDevice));
  listAddresses(out.changes, addresses);
  services.appendTo(out.text);
  sets.appendTo(out.text);
  addresses.appendTo(out.text);
  for (const auto& chain : out.chains) out.text += chain.diff;
  return out;
}

}  // namespace kproxy::ipvs
