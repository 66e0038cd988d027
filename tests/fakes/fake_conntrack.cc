#include "tests/fakes/fake_conntrack.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace kproxy::fakes {
namespace {

// kernel: an entry is found by its original tuple within a zone (ctnetlink_del_conntrack and
// nf_conntrack_find_get); the reply tuple of a request is not compared.
bool sameEntry(const netlink::ConntrackFlow& a, const netlink::ConntrackFlow& b) {
  return a.family == b.family && a.protocol == b.protocol && a.orig_src == b.orig_src && a.orig_dst == b.orig_dst &&
         a.orig_sport == b.orig_sport && a.orig_dport == b.orig_dport && a.zone == b.zone;
}

}  // namespace

Status FakeConntrack::insert(netlink::ConntrackFlow flow) {
  for (const auto& existing : flows_) {
    if (sameEntry(existing, flow)) return Error("conntrack: create " + flow.toString() + ": EEXIST (File exists)", EEXIST);
  }
  flow.id = next_id_++;
  flows_.push_back(std::move(flow));
  return okStatus();
}

std::string FakeConntrack::dump() const {
  std::vector<std::string> lines;
  lines.reserve(flows_.size());
  for (const auto& flow : flows_) lines.push_back(flow.toString());
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& line : lines) {
    out += line;
    out += '\n';
  }
  return out;
}

Result<std::vector<netlink::ConntrackFlow>> FakeConntrack::dumpUdp(IpFamily family) {
  ++dump_calls_;
  if (dump_error_) return *dump_error_;
  std::vector<netlink::ConntrackFlow> out;
  for (const auto& flow : flows_) {
    if (dump_limit_ && out.size() >= *dump_limit_) break;
    if (flow.family == family && flow.protocol == netlink::kIpProtoUdp) out.push_back(flow);
  }
  return out;
}

Result<size_t> FakeConntrack::remove(const std::vector<netlink::ConntrackFlow>& flows) {
  ++remove_calls_;
  if (remove_error_) return *remove_error_;
  size_t deleted = 0;
  for (const auto& flow : flows) {
    auto it = std::find_if(flows_.begin(), flows_.end(),
                           [&](const netlink::ConntrackFlow& held) { return sameEntry(held, flow); });
    if (it == flows_.end()) continue;              // already gone: success, not counted
    if (flow.id != 0 && flow.id != it->id) continue;  // kernel: CTA_ID mismatch answers ENOENT
    flows_.erase(it);
    ++deleted;
  }
  removed_total_ += deleted;
  return deleted;
}

namespace {

IpAddress mustParse(const char* text) {
  auto ip = IpAddress::parse(text);
  if (!ip.ok()) std::abort();  // a typo in a test's literal
  return *ip;
}

}  // namespace

netlink::ConntrackFlow udpFlow(const char* client, uint16_t sport, const char* frontend, uint16_t dport,
                               const char* endpoint, uint16_t eport, uint16_t zone) {
  netlink::ConntrackFlow flow;
  flow.orig_src = mustParse(client);
  flow.family = flow.orig_src.family();
  flow.protocol = netlink::kIpProtoUdp;
  flow.orig_dst = mustParse(frontend);
  flow.orig_sport = sport;
  flow.orig_dport = dport;
  flow.reply_src = mustParse(endpoint);
  flow.reply_dst = flow.orig_src;
  flow.reply_sport = eport;
  flow.reply_dport = sport;
  flow.zone = zone;
  return flow;
}

netlink::ConntrackFlow withProtocol(netlink::ConntrackFlow flow, uint8_t protocol) {
  flow.protocol = protocol;
  return flow;
}

std::vector<std::string> flowLines(const std::vector<netlink::ConntrackFlow>& flows) {
  std::vector<std::string> out;
  out.reserve(flows.size());
  for (const auto& flow : flows) out.push_back(flow.toString());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kproxy::fakes
