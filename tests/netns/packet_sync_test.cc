// Real packets through a running `kproxy run`, part 3: keeping the dataplane right over time
// (issue 4 item 6 and its "Done when" list).
//   * Conntrack: a live UDP flow (one client socket, one 5-tuple) to an endpoint that is removed
//     moves to a remaining endpoint after the sync, and `conntrack -L` no longer shows the stale
//     entry; a UDP client that sent to a service before it had endpoints reaches it on the same
//     5-tuple as soon as endpoints appear.
//   * Firewall reload: flushing and deleting every chain in nat, filter and mangle of the node
//     (kproxy's KUBE-PROXY-CANARY included) is repaired within syncPeriod.
//   * Changes that arrive back to back (a Service and its EndpointSlice, one replacing another)
//     are all applied: none is lost while a sync is running.
//   * A failing iptables-restore (a stray rule outside kproxy's chains holds a reference to a
//     KUBE-SEP chain the sync must delete, as in upstream TestSyncProxyRulesRepeated) leaves the
//     traffic working, is retried while it fails, and converges once the reference is gone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/netns/packet_topology.h"

namespace kproxy::netns {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class PacketSyncTest : public PacketTest {};

constexpr char kDnsIp[] = "10.96.0.53";

ServiceSpec dnsService(std::vector<EndpointRef> endpoints) {
  return {.name = "dns",
          .cluster_ip = kDnsIp,
          .ports = {{.name = "dns", .protocol = "UDP", .port = 53}},
          .endpoints = std::move(endpoints)};
}

std::string dnatTo(const PodSpec& pod) { return "--to-destination " + pod.ip + ":" + std::to_string(kBackendPort); }

// The reply sources ("10.244.0.11") of the UDP conntrack entries in the node namespace whose
// original destination is `vip` (and, unless 0, whose original source port is `client_port`), one per
// entry; `conntrack -L` only observes.
Result<std::vector<std::string>> udpEntryReplySources(const PacketTopology& topo, const std::string& vip,
                                                      uint16_t client_port = 0) {
  auto listed = topo.execIn(topo.nodeNs(), {"conntrack", "-L", "-p", "udp", "--orig-dst", vip});
  if (!listed.ok()) return listed.error();
  std::vector<std::string> sources;
  std::istringstream in(*listed);
  for (std::string line; std::getline(in, line);) {
    // udp 17 29 src=C dst=VIP sport=.. dport=53 [UNREPLIED] src=REPLY-SRC dst=C ...
    const size_t first = line.find("src=");
    if (first == std::string::npos) continue;
    const size_t second = line.find("src=", first + 4);
    if (second == std::string::npos) continue;
    const size_t sport = line.find(" sport=");
    if (client_port != 0 && (sport == std::string::npos || sport > second ||
                             line.compare(sport, 8 + std::to_string(client_port).size(),
                                          " sport=" + std::to_string(client_port) + " ") != 0)) {
      continue;
    }
    sources.push_back(line.substr(second + 4, line.find(' ', second) - second - 4));
  }
  return sources;
}

TEST_P(PacketSyncTest, ConntrackUdpFlowMovesOffARemovedEndpoint) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kPodB, kClientPod}));
  ASSERT_NO_FATAL_FAILURE(startKproxy({dnsService({{.ip = kPodA.ip}, {.ip = kPodB.ip}})}));

  auto flow = topo().udpFlow(topo().podNs("client"));
  ASSERT_TRUE(flow.ok()) << flow.error().message;
  const Reply first = flow->exchange(kDnsIp, 53);
  ASSERT_TRUE(first.ok()) << first.describe();
  // The flow is pinned by its conntrack entry: the same endpoint answers again.
  for (int i = 0; i < 3; ++i) {
    const Reply again = flow->exchange(kDnsIp, 53);
    ASSERT_TRUE(again.ok()) << again.describe();
    ASSERT_EQ(again.backend, first.backend) << "one 5-tuple changed endpoint without any sync";
  }
  const PodSpec& removed = first.backend == "a" ? kPodA : kPodB;
  const PodSpec& remaining = first.backend == "a" ? kPodB : kPodA;

  // The endpoint leaves the service; its pod keeps answering, so only the stale conntrack entry
  // could still send the flow there.
  ASSERT_NO_FATAL_FAILURE(updateObjects({dnsService({{.ip = remaining.ip}})}));
  Status synced = topo().waitForNoLine("nat", dnatTo(removed));
  ASSERT_TRUE(synced.ok()) << synced.error().message;

  // The reconciler runs right after the restore: poll `conntrack -L` for a short while.
  std::vector<std::string> sources;
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (true) {
    auto listed = udpEntryReplySources(topo(), kDnsIp, flow->localPort());
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    sources = *listed;
    if (std::find(sources.begin(), sources.end(), removed.ip) == sources.end()) break;
    ASSERT_LT(Clock::now(), deadline) << "the conntrack entry to the removed endpoint " << removed.ip
                                      << " is still there 5 s after the sync";
    std::this_thread::sleep_for(milliseconds(50));
  }

  const Reply moved = flow->exchange(kDnsIp, 53);
  ASSERT_TRUE(moved.ok()) << moved.describe();
  EXPECT_EQ(moved.backend, remaining.name) << "the flow (client port " << flow->localPort() << ") " << moved.describe();
  auto after = udpEntryReplySources(topo(), kDnsIp, flow->localPort());
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(*after, std::vector<std::string>{remaining.ip}) << "conntrack entries to " << kDnsIp;
}

TEST_P(PacketSyncTest, ConntrackUdpClientReachesServiceAsSoonAsEndpointsAppear) {
  struct Case {
    std::string name;
    std::vector<ServiceSpec> before;  // what the client's first datagram meets
    std::string before_rule;          // a line of `iptables-save -t filter` that shows `before` is in place ("" = none)
    bool black_hole_entry;            // the first datagram leaves a conntrack entry without DNAT
  };
  const std::vector<Case> cases = {
      {.name = "service without endpoints (REJECT)",
       .before = {dnsService({})},
       .before_rule = "has no endpoints",
       .black_hole_entry = false},
      // No rule at all: the datagram is routed on unchanged, so conntrack keeps an entry to the
      // ClusterIP itself (a black hole) that only the reconciler can clear.
      {.name = "service not there yet (black hole)", .before = {}, .before_rule = "", .black_hole_entry = true},
  };
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kClientPod}));
  ASSERT_NO_FATAL_FAILURE(startKproxy(cases[0].before));
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    ASSERT_NO_FATAL_FAILURE(updateObjects(tc.before));
    Status gone = topo().waitForNoLine("nat", dnatTo(kPodA));
    ASSERT_TRUE(gone.ok()) << gone.error().message;
    if (!tc.before_rule.empty()) {
      Status in_place = topo().waitForLine("filter", tc.before_rule);
      ASSERT_TRUE(in_place.ok()) << in_place.error().message;
    } else {
      Status in_place = topo().waitForNoLine("filter", kDnsIp);
      ASSERT_TRUE(in_place.ok()) << in_place.error().message;
    }
    auto flow = topo().udpFlow(topo().podNs("client"));
    ASSERT_TRUE(flow.ok()) << flow.error().message;
    const Reply unanswered = flow->exchange(kDnsIp, 53, milliseconds(300));
    EXPECT_FALSE(unanswered.ok()) << unanswered.describe();
    if (tc.black_hole_entry) {
      // Control: the entry that would keep this 5-tuple away from the endpoints is really there.
      auto sources = udpEntryReplySources(topo(), kDnsIp, flow->localPort());
      ASSERT_TRUE(sources.ok()) << sources.error().message;
      EXPECT_EQ(*sources, std::vector<std::string>{kDnsIp}) << "conntrack entries to " << kDnsIp << " before the sync";
    }

    ASSERT_NO_FATAL_FAILURE(updateObjects({dnsService({{.ip = kPodA.ip}})}));
    Status synced = topo().waitForLine("nat", dnatTo(kPodA));
    ASSERT_TRUE(synced.ok()) << synced.error().message;
    // The conntrack cleanup follows the restore within milliseconds; a flow still black-holed
    // would stay so for the UDP timeout (30 s and more), so a 2 s allowance tells them apart.
    Reply reached;
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    do {
      reached = flow->exchange(kDnsIp, 53, milliseconds(200));
    } while (!reached.ok() && Clock::now() < deadline);
    ASSERT_TRUE(reached.ok()) << "same 5-tuple (client port " << flow->localPort() << "): " << reached.describe();
    EXPECT_EQ(reached.backend, "a");
  }
}

TEST_P(PacketSyncTest, FirewallReloadIsRepairedWithinSyncPeriod) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kClientPod}));
  ASSERT_NO_FATAL_FAILURE(startKproxy({{.name = "web",
                                         .cluster_ip = "10.96.0.60",
                                         .ports = {{.name = "http", .port = 80}},
                                         .endpoints = {{.ip = kPodA.ip}}}},
                                      {.sync_period = "2s", .min_sync_period = "100ms"}));
  const Reply before = topo().tcpRequest(topo().podNs("client"), "10.96.0.60", 80);
  ASSERT_TRUE(before.ok()) << before.describe();

  // What a firewall reload does: flush every chain and delete every user chain, table by table.
  for (const char* table : {"nat", "filter", "mangle"}) {
    for (const char* op : {"-F", "-X"}) {
      auto done = topo().execIn(topo().nodeNs(), {topo().iptablesBinary(), "-w", "-t", table, op});
      ASSERT_TRUE(done.ok()) << done.error().message;
    }
  }

  // Repaired within syncPeriod (the canary check's interval) plus the time of one full sync.
  const auto reload = Clock::now();
  const milliseconds within(2000 + 2000);
  struct Expectation {
    std::string table;
    std::vector<std::string> lines;
  };
  const std::vector<Expectation> expected = {
      {"nat", {":KUBE-PROXY-CANARY", "-j KUBE-SERVICES", "-j KUBE-POSTROUTING", dnatTo(kPodA)}},
      {"filter", {":KUBE-PROXY-CANARY", "-j KUBE-FORWARD", "-j KUBE-SERVICES"}},
      {"mangle", {":KUBE-PROXY-CANARY"}},
  };
  for (const auto& e : expected) {
    SCOPED_TRACE(e.table);
    const auto left = std::max(milliseconds(1), within - std::chrono::duration_cast<milliseconds>(Clock::now() - reload));
    Status back = topo().waitForRules(
        e.table,
        [&](const std::string& save) {
          for (const auto& line : e.lines) {
            if (save.find(line) == std::string::npos) return false;
          }
          return true;
        },
        "kproxy's rules back after the reload", left);
    ASSERT_TRUE(back.ok()) << back.error().message;
  }
  const Reply after = topo().tcpRequest(topo().podNs("client"), "10.96.0.60", 80);
  ASSERT_TRUE(after.ok()) << after.describe();
  EXPECT_EQ(after.backend, "a");
}

TEST_P(PacketSyncTest, BackToBackChangesAreAllApplied) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kClientPod}));
  ASSERT_NO_FATAL_FAILURE(startKproxy({}));
  // Each step replaces the previous Service by a new one: four events (Service and slice deleted,
  // Service and slice added) reach kproxy together, and some arrive while the sync of the first
  // one runs. Each step must end with the new Service reachable and the old one gone.
  for (int i = 1; i <= 8; ++i) {
    const std::string ip = "10.96.1." + std::to_string(i);
    SCOPED_TRACE("step " + std::to_string(i) + ": service " + ip);
    ASSERT_NO_FATAL_FAILURE(updateObjects({{.name = "web-" + std::to_string(i),
                                            .cluster_ip = ip,
                                            .ports = {{.name = "http", .port = 80}},
                                            .endpoints = {{.ip = kPodA.ip}}}}));
    const std::string previous = "10.96.1." + std::to_string(i - 1) + "/32";
    Status applied = topo().waitForRules(
        "nat",
        [&](const std::string& save) {
          return save.find("-d " + ip + "/32") != std::string::npos && save.find("-d " + previous) == std::string::npos;
        },
        "service " + ip + " in place and the previous one gone", std::chrono::seconds(5));
    ASSERT_TRUE(applied.ok()) << applied.error().message;
    const Reply reply = topo().tcpRequest(topo().podNs("client"), ip, 80);
    ASSERT_TRUE(reply.ok()) << reply.describe();
    EXPECT_EQ(reply.backend, "a");
  }
}

TEST_P(PacketSyncTest, FailedRestoreKeepsTrafficWorkingAndIsRetried) {
  ASSERT_NO_FATAL_FAILURE(addBackends({kPodA, kPodB, kClientPod}));
  auto web = [](std::vector<EndpointRef> endpoints) {
    return ServiceSpec{.name = "web",
                       .cluster_ip = "10.96.0.70",
                       .ports = {{.name = "http", .port = 80}},
                       .endpoints = std::move(endpoints)};
  };
  ASSERT_NO_FATAL_FAILURE(startKproxy({web({{.ip = kPodA.ip}, {.ip = kPodB.ip}})}));
  auto serve = [&](int connections) {
    std::map<std::string, int> hits;
    for (int i = 0; i < connections; ++i) {
      const Reply reply = topo().tcpRequest(topo().podNs("client"), "10.96.0.70", 80);
      EXPECT_TRUE(reply.ok()) << "connection " << i << ": " << reply.describe();
      if (reply.ok()) ++hits[reply.backend];
    }
    return hits;
  };
  ASSERT_EQ(serve(30).size(), 2u) << "both endpoints serve before the change";

  // The KUBE-SEP chain of b, and a stray rule in a chain that is not kproxy's that jumps to it.
  auto nat = topo().iptablesSave("nat");
  ASSERT_TRUE(nat.ok()) << nat.error().message;
  std::string sep_b;
  {
    std::istringstream in(*nat);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("-A KUBE-SEP-", 0) == 0 && line.find(dnatTo(kPodB)) != std::string::npos) {
        sep_b = line.substr(3, line.find(' ', 3) - 3);
      }
    }
  }
  ASSERT_FALSE(sep_b.empty()) << "no KUBE-SEP chain DNATs to b:\n" << *nat;
  const std::string ipt = topo().iptablesBinary();
  for (const std::vector<std::string>& argv : {std::vector<std::string>{ipt, "-w", "-t", "nat", "-N", "KPKT-STRAY"},
                                               std::vector<std::string>{ipt, "-w", "-t", "nat", "-A", "KPKT-STRAY", "-j", sep_b}}) {
    auto done = topo().execIn(topo().nodeNs(), argv);
    ASSERT_TRUE(done.ok()) << done.error().message;
  }

  // b leaves the service: the sync must delete b's KUBE-SEP chain, which the kernel refuses.
  const int failures_before = topo().countLogLines("sync failed");
  ASSERT_NO_FATAL_FAILURE(updateObjects({web({{.ip = kPodA.ip}})}));
  // Two failed attempts: the first sync and at least one retry (syncPeriod 2 s).
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (topo().countLogLines("sync failed") < failures_before + 2) {
    ASSERT_LT(Clock::now(), deadline) << "expected two failed syncs (the log is printed below)";
    std::this_thread::sleep_for(milliseconds(50));
  }
  // While the failure persists the previous rules stay whole: the service still sends to b's
  // chain, and both endpoints still serve every connection.
  auto during = topo().iptablesSave("nat");
  ASSERT_TRUE(during.ok()) << during.error().message;
  EXPECT_NE(during->find("-j " + sep_b), std::string::npos) << "the KUBE-SVC chain no longer jumps to " << sep_b << ":\n"
                                                             << *during;
  const auto hits_during = serve(30);
  EXPECT_EQ(hits_during.size(), 2u) << "with the previous rules both endpoints serve: "
                                    << ::testing::PrintToString(hits_during);

  // The reference goes away: the retry converges to the new state.
  for (const char* op : {"-F", "-X"}) {
    auto done = topo().execIn(topo().nodeNs(), {ipt, "-w", "-t", "nat", op, "KPKT-STRAY"});
    ASSERT_TRUE(done.ok()) << done.error().message;
  }
  Status converged = topo().waitForRules(
      "nat",
      [&](const std::string& save) {
        return save.find(sep_b) == std::string::npos && save.find(dnatTo(kPodB)) == std::string::npos &&
               save.find(dnatTo(kPodA)) != std::string::npos;
      },
      "b's chain deleted after the stray reference was removed", std::chrono::seconds(10));
  ASSERT_TRUE(converged.ok()) << converged.error().message;
  const auto hits_after = serve(20);
  EXPECT_EQ(hits_after, (std::map<std::string, int>{{"a", 20}}));
}

INSTANTIATE_TEST_SUITE_P(Backends, PacketSyncTest,
                         ::testing::Values(IptablesBackendChoice::kNft, IptablesBackendChoice::kLegacy), backendParamName);

}  // namespace
}  // namespace kproxy::netns
