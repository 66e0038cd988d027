// modes/registry: one entry per mode, found by the configuration's name, with upstream's sync
// periods and metric families, and an offline twin that renders the mode's native formats.
#include "modes/registry.h"

#include <gtest/gtest.h>

#include "tests/unit/tracker/builders.h"

namespace kproxy::modes {
namespace {

using namespace std::chrono_literals;

TEST(RegistryTest, FindsEveryModeByItsConfigurationName) {
  ASSERT_EQ(allModes().size(), 3u);
  for (const ModeEntry& entry : allModes()) {
    auto found = findMode(entry.name);
    ASSERT_TRUE(found.ok()) << entry.name;
    EXPECT_EQ(*found, &entry);
    EXPECT_EQ(&modeEntry(entry.mode), &entry);
  }
  EXPECT_EQ((*findMode(""))->mode, ProxyMode::kIptables) << "upstream's default on Linux";
  EXPECT_EQ(findMode("userspace").error().message, "\"userspace\" is not one of iptables, ipvs, nftables");
}

// upstream RegisterMetrics(mode).
TEST(RegistryTest, MetricsProfilesAreUpstreams) {
  const proxy::MetricsProfile iptables = modeEntry(ProxyMode::kIptables).metrics;
  EXPECT_TRUE(iptables.sync_duration_by_kind && iptables.iptables_restore_failures &&
              iptables.iptables_partial_restore_failures && iptables.iptables_rule_counts && iptables.nfacct_counters);
  EXPECT_FALSE(iptables.nftables_failures);
  const proxy::MetricsProfile ipvs = modeEntry(ProxyMode::kIpvs).metrics;
  EXPECT_TRUE(ipvs.iptables_restore_failures);
  EXPECT_FALSE(ipvs.sync_duration_by_kind || ipvs.iptables_partial_restore_failures || ipvs.iptables_rule_counts ||
               ipvs.nfacct_counters || ipvs.nftables_failures);
  const proxy::MetricsProfile nft = modeEntry(ProxyMode::kNftables).metrics;
  EXPECT_TRUE(nft.nftables_failures);
  EXPECT_FALSE(nft.sync_duration_by_kind || nft.iptables_restore_failures || nft.iptables_partial_restore_failures ||
               nft.iptables_rule_counts || nft.nfacct_counters);
}

// upstream: iptables' runner syncs at least hourly; IPVS's every ipvs.syncPeriod.
TEST(RegistryTest, SyncPeriodsAreTheModesOwn) {
  config::KubeProxyConfiguration cfg;
  cfg.iptables.sync_period = 20s;
  cfg.iptables.min_sync_period = 2s;
  cfg.ipvs.sync_period = 45s;
  cfg.ipvs.min_sync_period = 3s;
  const SyncPeriods ipt = modeEntry(ProxyMode::kIptables).periods(cfg);
  EXPECT_EQ(ipt.sync_period, 20s);
  EXPECT_EQ(ipt.min_sync_period, 2s);
  EXPECT_EQ(ipt.max_sync_period, 1h);
  const SyncPeriods ipvs = modeEntry(ProxyMode::kIpvs).periods(cfg);
  EXPECT_EQ(ipvs.sync_period, 45s);
  EXPECT_EQ(ipvs.min_sync_period, 3s);
  EXPECT_EQ(ipvs.max_sync_period, 45s);
  cfg.nftables.sync_period = 50s;
  const SyncPeriods nft = modeEntry(ProxyMode::kNftables).periods(cfg);
  EXPECT_EQ(nft.sync_period, 50s);
  EXPECT_EQ(nft.max_sync_period, 1h);
}

class CollectingSink final : public RenderSink {
 public:
  void section(std::string_view file, std::string_view header) override {
    sections.push_back({std::string(file), std::string(header), ""});
  }
  void write(std::string_view piece) override { sections.back().text.append(piece); }
  struct Section {
    std::string file, header, text;
  };
  std::vector<Section> sections;
};

TEST(RegistryTest, OfflineProxiersRenderTheModesFormats) {
  config::KubeProxyConfiguration cfg;
  config::ProxierSettings settings;
  settings.masquerade_mark = "0x00004000";
  tracker::ProxyStateTracker tracker({.family = IpFamily::kIPv4, .node_name = "node-a"});
  tracker.onServiceAdd(testing::makeService("ns", "web", "172.30.0.41"));
  tracker.onEndpointSliceAdd(testing::makeSlice("ns", "web", "web-1", {{.ip = "10.180.0.1"}}));
  auto [snapshot, changes] = tracker.checkout();

  auto ipt = modeEntry(ProxyMode::kIptables).build_offline(cfg, settings, false);
  ASSERT_TRUE(ipt.ok()) << ipt.error().message;
  (*ipt)->sync(*snapshot, changes, true);
  CollectingSink ipt_out;
  (*ipt)->render(ipt_out);
  ASSERT_EQ(ipt_out.sections.size(), 1u);
  EXPECT_EQ(ipt_out.sections[0].file, "iptables.txt");
  EXPECT_EQ(ipt_out.sections[0].header, "") << "iptables mode prints the bare restore input";
  EXPECT_NE(ipt_out.sections[0].text.find("-j DNAT --to-destination 10.180.0.1:80"), std::string::npos);
  EXPECT_EQ((*ipt)->renderedSize(), ipt_out.sections[0].text.size());
  EXPECT_FALSE((*ipt)->tracer({}).ok()) << "not built for tracing";

  auto ipvs = modeEntry(ProxyMode::kIpvs).build_offline(cfg, settings, false);
  ASSERT_TRUE(ipvs.ok()) << ipvs.error().message;
  (*ipvs)->sync(*snapshot, changes, true);
  CollectingSink ipvs_out;
  (*ipvs)->render(ipvs_out);
  std::vector<std::string> files;
  for (const auto& s : ipvs_out.sections) files.push_back(s.file);
  EXPECT_EQ(files, (std::vector<std::string>{"ipvsadm.txt", "ipset.txt", "kube-ipvs0.txt", "iptables.txt"}));
  EXPECT_NE(ipvs_out.sections[0].text.find("-a -t 172.30.0.41:80 -r 10.180.0.1:80 -m -w 1"), std::string::npos)
      << ipvs_out.sections[0].text;
}

TEST(RegistryTest, OfflineIptablesTracerFollowsEverySync) {
  config::KubeProxyConfiguration cfg;
  config::ProxierSettings settings;
  settings.masquerade_mark = "0x00004000";
  tracker::ProxyStateTracker tracker({.family = IpFamily::kIPv4, .node_name = "node-a"});
  auto offline = modeEntry(ProxyMode::kIptables).build_offline(cfg, settings, true);
  ASSERT_TRUE(offline.ok());
  tracker.onServiceAdd(testing::makeService("ns", "web", "172.30.0.41"));
  tracker.onEndpointSliceAdd(testing::makeSlice("ns", "web", "web-1", {{.ip = "10.180.0.1"}}));
  auto [s1, c1] = tracker.checkout();
  (*offline)->sync(*s1, c1, true);
  // A partial sync that only rewrites the changed service: the traced state keeps the rest.
  tracker.onServiceAdd(testing::makeService("ns", "db", "172.30.0.42"));
  tracker.onEndpointSliceAdd(testing::makeSlice("ns", "db", "db-1", {{.ip = "10.180.0.2"}}));
  auto [s2, c2] = tracker.checkout();
  (*offline)->sync(*s2, c2, false);
  auto tracer = (*offline)->tracer({});
  ASSERT_TRUE(tracer.ok()) << tracer.error().message;
  tracing::TracePacket to_web{.source = IpAddress::parse("10.0.0.2").value(),
                              .destination = IpAddress::parse("172.30.0.41").value(),
                              .destination_port = 80};
  EXPECT_EQ((*tracer)->trace(to_web).outputString(), "10.180.0.1:80");
  tracing::TracePacket to_db = to_web;
  to_db.destination = IpAddress::parse("172.30.0.42").value();
  EXPECT_EQ((*tracer)->trace(to_db).outputString(), "10.180.0.2:80");
}

// kproxy diff asks the registry, not the mode's name: iptables and IPVS compare, nftables has no
// live dataplane to compare yet (diff then exits 2 saying so).
TEST(RegistryTest, DiffIsOfferedByTheLiveModes) {
  EXPECT_NE(modeEntry(ProxyMode::kIptables).live_drift, nullptr);
  EXPECT_NE(modeEntry(ProxyMode::kIpvs).live_drift, nullptr);
  EXPECT_EQ(modeEntry(ProxyMode::kNftables).live_drift, nullptr);
}

}  // namespace
}  // namespace kproxy::modes
