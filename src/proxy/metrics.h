// Metrics: a small Prometheus registry (counters, gauges, histograms with labels; collectors read
// at scrape time) and its text exposition (format 0.0.4, as client_golang writes it), plus
// ProxyMetrics: kube-proxy's own metrics with upstream's names, help texts, types, labels and
// buckets (pkg/proxy/metrics/metrics.go, ≈ v1.33/v1.34; spec ipvs-and-runtime.md §3.9 and
// iptables-mode.md §6.5).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/proxy/proxier.h"
#include "src/server/healthz_server.h"
#include "src/server/metrics_server.h"
#include "src/tracker/snapshot.h"
#include "src/util/clock.h"
#include "src/util/ip.h"

namespace kproxy::proxy {

enum class MetricType { kCounter, kGauge, kHistogram };

// Go strconv.FormatFloat(v, 'g', -1, 64), which client_golang uses for values and `le` bounds:
// "0.001", "16.384", "300", "1e-05", "1.6945e+09", "+Inf", "NaN".
std::string formatPrometheusFloat(double v);

// Bucket layouts of client_golang / component-base.
std::vector<double> exponentialBuckets(double start, double factor, int count);
std::vector<double> linearBuckets(double start, double width, int count);

// One metric family: a name, a help text, a type, fixed label names and one series per set of
// label values. Thread-safe. Label values are given in the order of the label names.
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
               std::vector<double> buckets = {});

  // Counters: add a non-negative amount (negative amounts are ignored, as client_golang panics).
  void add(const std::vector<std::string>& label_values, double amount);
  void inc(const std::vector<std::string>& label_values = {}) { add(label_values, 1); }
  // Gauges.
  void set(const std::vector<std::string>& label_values, double value);
  void setToTime(const std::vector<std::string>& label_values, WallTime t);
  // Histograms.
  void observe(const std::vector<std::string>& label_values, double value);

  // For tests and callers that read back: the counter/gauge value (0 when the series is absent),
  // a histogram's count and sum.
  double value(const std::vector<std::string>& label_values = {}) const;
  uint64_t sampleCount(const std::vector<std::string>& label_values = {}) const;
  double sampleSum(const std::vector<std::string>& label_values = {}) const;

  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  const std::vector<double>& buckets() const { return buckets_; }

  // Appends the family in text format (nothing when it has no series).
  void expose(std::string& out) const;

 private:
  struct Series {
    double value = 0;                 // counter / gauge; histogram sum
    uint64_t count = 0;               // histogram
    std::vector<uint64_t> bucket_counts;  // histogram, not cumulative
  };
  Series& seriesLocked(const std::vector<std::string>& label_values);

  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  std::vector<double> buckets_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, Series> series_;
};

// A sample produced by a collector at scrape time (upstream's const metrics, e.g. nfacct counters).
struct CollectedSample {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

class MetricsRegistry final : public server::MetricsExposition {
 public:
  // Registers a family; registering the same name twice returns the first one. Unlabeled
  // counters and gauges are exposed from the start with value 0 (as client_golang does).
  MetricFamily& counter(std::string name, std::string help, std::vector<std::string> label_names = {});
  MetricFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  MetricFamily& histogram(std::string name, std::string help, std::vector<double> buckets,
                          std::vector<std::string> label_names = {});
  // A family whose samples a function computes at every scrape; a family with no samples (the
  // function failed) is left out of the exposition, as upstream's collectors do.
  void collector(std::string name, std::string help, MetricType type,
                 std::function<std::vector<CollectedSample>()> collect);

  MetricFamily* find(std::string_view name) const;

  // The whole registry in Prometheus text format, families sorted by name.
  std::string expose() const override;

 private:
  struct Collector {
    std::string help;
    MetricType type;
    std::function<std::vector<CollectedSample>()> collect;
  };
  MetricFamily& add(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                    std::vector<double> buckets);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<MetricFamily>, std::less<>> families_;
  std::map<std::string, Collector, std::less<>> collectors_;
};

// Which of upstream's mode-specific metric families a proxy mode registers (upstream
// RegisterMetrics(mode)); each mode's entry in modes/registry supplies its profile.
struct MetricsProfile {
  bool sync_duration_by_kind = false;  // kubeproxy_sync_{full,partial}_proxy_rules_duration_seconds
  bool iptables_restore_failures = false;
  bool iptables_partial_restore_failures = false;
  bool iptables_rule_counts = false;   // kubeproxy_sync_proxy_rules_iptables_{total,last}
  bool nfacct_counters = false;        // kubeproxy_iptables_*_packets_total
  bool nftables_failures = false;      // kubeproxy_sync_proxy_rules_nftables_{sync,cleanup}_failures_total
};

// kube-proxy's metrics, registered for one proxy mode as upstream's RegisterMetrics(mode) does;
// the mode-specific pointers are null when the mode does not register them.
class ProxyMetrics final : public server::HealthzAnswerCounter {
 public:
  ProxyMetrics(MetricsRegistry& registry, const MetricsProfile& profile);

  // The nfacct counters behind kubeproxy_iptables_{ct_state_invalid_dropped,
  // localhost_nodeports_accepted}_packets_total (iptables mode): `packets(name)` returns the
  // packet count or nothing when the counter cannot be read.
  using NfacctReader = std::function<std::optional<uint64_t>(std::string_view counter)>;
  void registerNfacctCollectors(NfacctReader reader);

  // upstream Proxier.Sync(): a change was queued.
  void syncQueued(IpFamily family, WallTime now);
  // After a successful sync (upstream syncProxyRules' deferred metrics and its tail).
  void syncSucceeded(IpFamily family, const SyncReport& report, const tracker::UpdateResult& changes, WallTime now);
  // After a failed sync; `partial` when the attempt was a partial sync.
  void syncFailed(IpFamily family, bool partial, std::chrono::nanoseconds duration);
  // Change trackers (upstream ServiceChangeTracker.Update / EndpointsChangeTracker.EndpointSliceUpdate
  // and their checkout).
  void serviceChange(size_t services_pending);
  void endpointSliceChange(bool change_pending);
  void changesCheckedOut();
  // /healthz and /livez answers.
  void healthzAnswered(int code) override;
  void livezAnswered(int code) override;

  MetricFamily& sync_proxy_rules_duration;
  MetricFamily& sync_proxy_rules_last_timestamp;
  MetricFamily& sync_proxy_rules_last_queued_timestamp;
  MetricFamily& network_programming_duration;
  MetricFamily& endpoint_changes_pending;
  MetricFamily& endpoint_changes_total;
  MetricFamily& service_changes_pending;
  MetricFamily& service_changes_total;
  MetricFamily& no_local_endpoints_total;
  MetricFamily& proxy_healthz_total;
  MetricFamily& proxy_livez_total;
  MetricFamily& conntrack_reconciler_sync_duration;
  MetricFamily& conntrack_reconciler_deleted_entries;
  // iptables (and, for restore failures, ipvs) only.
  MetricFamily* sync_full_proxy_rules_duration = nullptr;
  MetricFamily* sync_partial_proxy_rules_duration = nullptr;
  MetricFamily* iptables_restore_failures = nullptr;
  MetricFamily* iptables_partial_restore_failures = nullptr;
  MetricFamily* iptables_rules_total = nullptr;
  MetricFamily* iptables_rules_last = nullptr;
  // nftables only.
  MetricFamily* nftables_sync_failures = nullptr;
  MetricFamily* nftables_cleanup_failures = nullptr;

 private:
  MetricsRegistry& registry_;
  MetricsProfile profile_;
};

// Cheap process metrics (process_start_time_seconds, process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds, process_max_fds)
// read from /proc/self at scrape time, and kubernetes_build_info.
void registerProcessMetrics(MetricsRegistry& registry, std::string_view git_version);

}  // namespace kproxy::proxy
