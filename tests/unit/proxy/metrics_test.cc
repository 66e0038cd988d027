// Metrics: Go's float formatting, the text exposition (checked by a strict parser), and
// kube-proxy's metric families with upstream's names, help, types, labels and buckets.
#include "src/proxy/metrics.h"

#include <gtest/gtest.h>

#include "tests/unit/proxy/prometheus_text_parser.h"

namespace kproxy::proxy {
namespace {

using testing::parsePrometheusText;
using testing::PromFamilies;

PromFamilies parse(const std::string& text) {
  auto f = parsePrometheusText(text);
  EXPECT_TRUE(f.ok()) << (f.ok() ? "" : f.error().message) << "\n" << text;
  return f.ok() ? *f : PromFamilies{};
}

TEST(MetricsTest, FloatsAreFormattedLikeGo) {
  struct Case {
    double v;
    const char* go;  // strconv.FormatFloat(v, 'g', -1, 64)
  };
  const Case cases[] = {
      {0, "0"},          {1, "1"},           {0.001, "0.001"},       {16.384, "16.384"},
      {0.25, "0.25"},    {300, "300"},       {123456, "123456"},     {1234567, "1.234567e+06"},
      {1e6, "1e+06"},    {0.0001, "0.0001"}, {0.00001, "1e-05"},     {1694511212.5, "1.6945112125e+09"},
      {-2.5, "-2.5"},    {100000, "100000"}, {0.1 + 0.2, "0.30000000000000004"},
      {HUGE_VAL, "+Inf"}, {-HUGE_VAL, "-Inf"},
  };
  for (const auto& tc : cases) EXPECT_EQ(formatPrometheusFloat(tc.v), tc.go) << tc.v;
  EXPECT_EQ(formatPrometheusFloat(std::nan("")), "NaN");
}

TEST(MetricsTest, BucketLayouts) {
  EXPECT_EQ(exponentialBuckets(0.001, 2, 3), (std::vector<double>{0.001, 0.002, 0.004}));
  EXPECT_EQ(linearBuckets(1, 1, 3), (std::vector<double>{1, 2, 3}));
}

TEST(MetricsTest, ExpositionOfEachType) {
  MetricsRegistry r;
  MetricFamily& c = r.counter("b_total", "A counter with \\ and\nnewline", {"code"});
  MetricFamily& g = r.gauge("a_gauge", "A gauge");
  MetricFamily& h = r.histogram("c_seconds", "A histogram", {0.5, 0.1, 1}, {"ip_family"});
  MetricFamily& empty = r.gauge("d_unused", "Never set", {"x"});
  (void)empty;
  c.inc({"503"});
  c.add({"200"}, 2);
  c.inc({"say \"hi\"\n"});
  c.add({"200"}, -1);  // ignored: counters only go up
  g.set({}, 7.5);
  h.observe({"IPv4"}, 0.1);   // upper-inclusive: the 0.1 bucket
  h.observe({"IPv4"}, 0.7);
  h.observe({"IPv4"}, 3);
  const std::string expected =
      "# HELP a_gauge A gauge\n"
      "# TYPE a_gauge gauge\n"
      "a_gauge 7.5\n"
      "# HELP b_total A counter with \\\\ and\\nnewline\n"
      "# TYPE b_total counter\n"
      "b_total{code=\"200\"} 2\n"
      "b_total{code=\"503\"} 1\n"
      "b_total{code=\"say \\\"hi\\\"\\n\"} 1\n"
      "# HELP c_seconds A histogram\n"
      "# TYPE c_seconds histogram\n"
      "c_seconds_bucket{ip_family=\"IPv4\",le=\"0.1\"} 1\n"
      "c_seconds_bucket{ip_family=\"IPv4\",le=\"0.5\"} 1\n"
      "c_seconds_bucket{ip_family=\"IPv4\",le=\"1\"} 2\n"
      "c_seconds_bucket{ip_family=\"IPv4\",le=\"+Inf\"} 3\n"
      "c_seconds_sum{ip_family=\"IPv4\"} 3.8\n"
      "c_seconds_count{ip_family=\"IPv4\"} 3\n";
  EXPECT_EQ(r.expose(), expected);
  PromFamilies f = parse(r.expose());
  EXPECT_EQ(f.at("b_total").help, "A counter with \\ and\nnewline");
  EXPECT_EQ(f.at("b_total").find({{"code", "say \"hi\"\n"}})->value, 1);
  EXPECT_EQ(f.count("d_unused"), 0u);  // a labeled family with no series is left out
}

TEST(MetricsTest, LabelsAreSortedByNameAndSeriesByValue) {
  MetricsRegistry r;
  MetricFamily& g = r.gauge("x", "x", {"table", "ip_family"});
  g.set({"nat", "IPv6"}, 1);
  g.set({"filter", "IPv4"}, 2);
  g.set({"nat", "IPv4"}, 3);
  EXPECT_EQ(r.expose(),
            "# HELP x x\n# TYPE x gauge\n"
            "x{ip_family=\"IPv4\",table=\"filter\"} 2\n"
            "x{ip_family=\"IPv4\",table=\"nat\"} 3\n"
            "x{ip_family=\"IPv6\",table=\"nat\"} 1\n");
}

TEST(MetricsTest, CollectorsRunAtScrapeTimeAndVanishOnFailure) {
  MetricsRegistry r;
  int calls = 0;
  bool fail = false;
  r.collector("z_total", "collected", MetricType::kCounter, [&]() -> std::vector<CollectedSample> {
    ++calls;
    if (fail) return {};
    return {CollectedSample{{}, 42}};
  });
  EXPECT_EQ(r.expose(), "# HELP z_total collected\n# TYPE z_total counter\nz_total 42\n");
  fail = true;
  EXPECT_EQ(r.expose(), "");
  EXPECT_EQ(calls, 2);
}

// upstream RegisterMetrics(iptables): names, [ALPHA] help, types, labels and buckets.
TEST(MetricsTest, KubeProxyMetricsForIptablesMode) {
  MetricsRegistry r;
  // upstream RegisterMetrics(iptables), as modes/registry gives it (tests/unit/modes/registry_test.cc).
  ProxyMetrics m(r, {.sync_duration_by_kind = true,
                     .iptables_restore_failures = true,
                     .iptables_partial_restore_failures = true,
                     .iptables_rule_counts = true,
                     .nfacct_counters = true});
  m.registerNfacctCollectors([](std::string_view counter) -> std::optional<uint64_t> {
    if (counter == "ct_state_invalid_dropped_pkts") return 17;
    return std::nullopt;  // unreadable: not published
  });
  m.syncQueued(IpFamily::kIPv4, WallTime(std::chrono::seconds(1700000000)));
  SyncReport report{.full_sync = true,
                    .duration = std::chrono::milliseconds(3),
                    .rule_counts = {{.table = "filter", .total = 5, .last = 5}, {.table = "nat", .total = 20, .last = 12}},
                    .no_local_endpoints_internal = 1,
                    .no_local_endpoints_external = 2,
                    .conntrack_reconciled = true,
                    .conntrack_deleted = 4,
                    .conntrack_duration = std::chrono::microseconds(1500)};
  tracker::UpdateResult changes;
  const WallTime now(std::chrono::seconds(1700000010));
  changes.endpoints.last_change_trigger_times[{"ns", "svc"}] = {now - std::chrono::milliseconds(300),
                                                                 now - std::chrono::seconds(70)};
  m.syncSucceeded(IpFamily::kIPv4, report, changes, now);
  report.full_sync = false;
  report.rule_counts[1].last = 3;
  m.syncSucceeded(IpFamily::kIPv4, report, {}, now);
  m.syncFailed(IpFamily::kIPv6, /*partial=*/true, std::chrono::milliseconds(40));
  m.syncFailed(IpFamily::kIPv6, /*partial=*/false, std::chrono::milliseconds(40));
  m.serviceChange(3);
  m.serviceChange(2);
  m.endpointSliceChange(true);
  m.endpointSliceChange(false);
  m.healthzAnswered(200);
  m.livezAnswered(503);

  PromFamilies f = parse(r.expose());
  struct Expect {
    const char* name;
    const char* type;
    const char* help;
  };
  const Expect families[] = {
      {"kubeproxy_sync_proxy_rules_duration_seconds", "histogram", "[ALPHA] SyncProxyRules latency in seconds"},
      {"kubeproxy_sync_full_proxy_rules_duration_seconds", "histogram",
       "[ALPHA] SyncProxyRules latency in seconds for full resyncs"},
      {"kubeproxy_sync_partial_proxy_rules_duration_seconds", "histogram",
       "[ALPHA] SyncProxyRules latency in seconds for partial resyncs"},
      {"kubeproxy_sync_proxy_rules_last_timestamp_seconds", "gauge",
       "[ALPHA] The last time proxy rules were successfully synced"},
      {"kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "gauge",
       "[ALPHA] The last time a sync of proxy rules was queued"},
      {"kubeproxy_network_programming_duration_seconds", "histogram",
       "[ALPHA] In Cluster Network Programming Latency in seconds"},
      {"kubeproxy_sync_proxy_rules_endpoint_changes_pending", "gauge", "[ALPHA] Pending proxy rules Endpoint changes"},
      {"kubeproxy_sync_proxy_rules_endpoint_changes_total", "counter",
       "[ALPHA] Cumulative proxy rules Endpoint changes"},
      {"kubeproxy_sync_proxy_rules_service_changes_pending", "gauge", "[ALPHA] Pending proxy rules Service changes"},
      {"kubeproxy_sync_proxy_rules_service_changes_total", "counter", "[ALPHA] Cumulative proxy rules Service changes"},
      {"kubeproxy_sync_proxy_rules_iptables_total", "gauge", "[ALPHA] Total number of iptables rules owned by kube-proxy"},
      {"kubeproxy_sync_proxy_rules_iptables_last", "gauge",
       "[ALPHA] Number of iptables rules written by kube-proxy in last sync"},
      {"kubeproxy_sync_proxy_rules_iptables_restore_failures_total", "counter",
       "[ALPHA] Cumulative proxy iptables restore failures"},
      {"kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total", "counter",
       "[ALPHA] Cumulative proxy iptables partial restore failures"},
      {"kubeproxy_sync_proxy_rules_no_local_endpoints_total", "gauge",
       "[ALPHA] Number of services with a Local traffic policy and no endpoints"},
      {"kubeproxy_conntrack_reconciler_sync_duration_seconds", "histogram",
       "[ALPHA] ReconcileConntrackFlowsLatency latency in seconds"},
      {"kubeproxy_conntrack_reconciler_deleted_entries_total", "counter",
       "[ALPHA] Cumulative conntrack flows deleted by conntrack reconciler"},
      {"kubeproxy_iptables_ct_state_invalid_dropped_packets_total", "counter",
       "[ALPHA] packets dropped by iptables to work around conntrack problems"},
      {"kubeproxy_proxy_healthz_total", "counter", "[ALPHA] Cumulative proxy healthz HTTP status"},
      {"kubeproxy_proxy_livez_total", "counter", "[ALPHA] Cumulative proxy livez HTTP status"},
  };
  for (const auto& e : families) {
    SCOPED_TRACE(e.name);
    ASSERT_EQ(f.count(e.name), 1u);
    EXPECT_EQ(f.at(e.name).type, e.type);
    EXPECT_EQ(f.at(e.name).help, e.help);
  }
  EXPECT_EQ(f.count("kubeproxy_iptables_localhost_nodeports_accepted_packets_total"), 0u);
  EXPECT_EQ(f.count("kubeproxy_sync_proxy_rules_nftables_sync_failures_total"), 0u);

  const auto v4 = std::map<std::string, std::string>{{"ip_family", "IPv4"}};
  const auto v6 = std::map<std::string, std::string>{{"ip_family", "IPv6"}};
  const auto& sync = f.at("kubeproxy_sync_proxy_rules_duration_seconds");
  EXPECT_EQ(sync.find(v4, "_count")->value, 2);
  EXPECT_EQ(sync.find(v6, "_count")->value, 2);  // failed syncs are observed too
  // Buckets 0.001 * 2^k, k = 0..14.
  std::vector<std::string> les;
  for (const auto& s : sync.samples) {
    if (s.name.ends_with("_bucket") && s.labels.at("ip_family") == "IPv4") les.push_back(s.labels.at("le"));
  }
  EXPECT_EQ(les, (std::vector<std::string>{"0.001", "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128",
                                           "0.256", "0.512", "1.024", "2.048", "4.096", "8.192", "16.384", "+Inf"}));
  EXPECT_EQ(f.at("kubeproxy_sync_full_proxy_rules_duration_seconds").find(v4, "_count")->value, 1);
  EXPECT_EQ(f.at("kubeproxy_sync_partial_proxy_rules_duration_seconds").find(v4, "_count")->value, 1);
  EXPECT_EQ(f.at("kubeproxy_sync_proxy_rules_iptables_restore_failures_total").find(v6)->value, 2);
  EXPECT_EQ(f.at("kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total").find(v6)->value, 1);
  const auto& rules_total = f.at("kubeproxy_sync_proxy_rules_iptables_total");
  EXPECT_EQ(rules_total.find({{"ip_family", "IPv4"}, {"table", "nat"}})->value, 20);
  EXPECT_EQ(rules_total.find({{"ip_family", "IPv4"}, {"table", "filter"}})->value, 5);
  EXPECT_EQ(f.at("kubeproxy_sync_proxy_rules_iptables_last").find({{"ip_family", "IPv4"}, {"table", "nat"}})->value, 3);
  const auto& no_local = f.at("kubeproxy_sync_proxy_rules_no_local_endpoints_total");
  EXPECT_EQ(no_local.find({{"ip_family", "IPv4"}, {"traffic_policy", "internal"}})->value, 1);
  EXPECT_EQ(no_local.find({{"ip_family", "IPv4"}, {"traffic_policy", "external"}})->value, 2);
  EXPECT_EQ(f.at("kubeproxy_sync_proxy_rules_last_timestamp_seconds").find(v4)->value, 1700000010);
  EXPECT_EQ(f.at("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds").find(v4)->value, 1700000000);
  // Network programming latency: buckets 0, 0.25, 0.5, 1..59, 60..115 by 5, 120..300 by 30.
  const auto& npl = f.at("kubeproxy_network_programming_duration_seconds");
  EXPECT_EQ(npl.find(v4, "_count")->value, 2);
  EXPECT_EQ(npl.find({{"ip_family", "IPv4"}, {"le", "0"}}, "_bucket")->value, 0);
  EXPECT_EQ(npl.find({{"ip_family", "IPv4"}, {"le", "0.5"}}, "_bucket")->value, 1);
  EXPECT_EQ(npl.find({{"ip_family", "IPv4"}, {"le", "65"}}, "_bucket")->value, 1);
  EXPECT_EQ(npl.find({{"ip_family", "IPv4"}, {"le", "70"}}, "_bucket")->value, 2);
  EXPECT_NE(npl.find({{"ip_family", "IPv4"}, {"le", "300"}}, "_bucket"), nullptr);
  size_t npl_buckets = 0;
  for (const auto& s : npl.samples) npl_buckets += s.name.ends_with("_bucket") && s.labels.at("ip_family") == "IPv4";
  EXPECT_EQ(npl_buckets, 1 + 2 + 59 + 12 + 7 + 1u);
  EXPECT_EQ(f.at("kubeproxy_sync_proxy_rules_service_changes_total").find({})->value, 2);
  EXPECT_EQ(f.at("kubeproxy_sync_proxy_rules_service_changes_pending").find({})->value, 2);
  EXPECT_EQ(f.at("kubeproxy_sync_proxy_rules_endpoint_changes_total").find({})->value, 2);
  EXPECT_EQ(f.at("kubeproxy_sync_proxy_rules_endpoint_changes_pending").find({})->value, 1);
  EXPECT_EQ(f.at("kubeproxy_conntrack_reconciler_deleted_entries_total").find(v4)->value, 8);  // two syncs of 4
  EXPECT_DOUBLE_EQ(f.at("kubeproxy_conntrack_reconciler_sync_duration_seconds").find(v4, "_sum")->value, 0.003);
  EXPECT_EQ(f.at("kubeproxy_iptables_ct_state_invalid_dropped_packets_total").find({})->value, 17);
  EXPECT_EQ(f.at("kubeproxy_proxy_healthz_total").find({{"code", "200"}})->value, 1);
  EXPECT_EQ(f.at("kubeproxy_proxy_livez_total").find({{"code", "503"}})->value, 1);
  m.changesCheckedOut();
  EXPECT_EQ(m.service_changes_pending.value(), 0);
  EXPECT_EQ(m.endpoint_changes_pending.value(), 0);
}

TEST(MetricsTest, ProfileSelectsModeSpecificFamilies) {
  MetricsRegistry restore_only_registry;
  ProxyMetrics restore_only(restore_only_registry, {.iptables_restore_failures = true});
  EXPECT_NE(restore_only.iptables_restore_failures, nullptr);
  EXPECT_EQ(restore_only.iptables_partial_restore_failures, nullptr);
  EXPECT_EQ(restore_only.sync_full_proxy_rules_duration, nullptr);
  EXPECT_EQ(restore_only_registry.find("kubeproxy_sync_proxy_rules_iptables_total"), nullptr);
  MetricsRegistry nft_registry;
  ProxyMetrics nft(nft_registry, {.nftables_failures = true});
  EXPECT_EQ(nft.iptables_restore_failures, nullptr);
  EXPECT_NE(nft.nftables_sync_failures, nullptr);
  nft.syncFailed(IpFamily::kIPv4, false, std::chrono::milliseconds(1));
  EXPECT_EQ(nft.nftables_sync_failures->value({"IPv4"}), 1);
}

TEST(MetricsTest, ProcessMetricsParse) {
  MetricsRegistry r;
  registerProcessMetrics(r, "v1.33.0+kproxy.0.1.0");
  PromFamilies f = parse(r.expose());
  EXPECT_GT(f.at("process_start_time_seconds").samples.at(0).value, 1.6e9);
  EXPECT_GT(f.at("process_resident_memory_bytes").samples.at(0).value, 0);
  EXPECT_GT(f.at("process_open_fds").samples.at(0).value, 0);
  const auto& info = f.at("kubernetes_build_info").samples.at(0);
  EXPECT_EQ(info.labels.at("git_version"), "v1.33.0+kproxy.0.1.0");
  EXPECT_EQ(info.labels.at("major"), "1");
  EXPECT_EQ(info.labels.at("minor"), "33");
}

TEST(PrometheusParserTest, RejectsBrokenExpositions) {
  const char* bad[] = {
      "x 1\n",                                             // no TYPE
      "# TYPE x gauge\nx{a=\"1} 1\n",                      // unterminated value
      "# TYPE x gauge\nx 1\nx 2\n",                        // duplicate series
      "# TYPE x gauge\ny 1\n",                             // sample of another family
      "# TYPE x histogram\nx_bucket{le=\"1\"} 2\nx_bucket{le=\"+Inf\"} 1\nx_count 1\nx_sum 0\n",  // not cumulative
      "# TYPE x histogram\nx_bucket{le=\"1\"} 1\nx_count 1\nx_sum 0\n",                          // no +Inf
      "# TYPE x gauge\nx one\n",                           // bad value
      "# TYPE x gauge\nx 1",                               // no final newline
      "# TYPE x gauge\n# TYPE y gauge\n# TYPE x gauge\n",  // family twice
  };
  for (const char* text : bad) EXPECT_FALSE(parsePrometheusText(text).ok()) << text;
}

}  // namespace
}  // namespace kproxy::proxy
