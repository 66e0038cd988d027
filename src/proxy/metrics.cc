#include "src/proxy/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>

namespace kproxy::proxy {
namespace {

// component-base prefixes the help text of every ALPHA metric with its stability level.
std::string alpha(std::string_view help) { return "[ALPHA] " + std::string(help); }

const char* typeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// client_golang: HELP escapes backslash and newline; label values also escape the double quote.
void appendEscaped(std::string& out, std::string_view s, bool quote) {
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
}

void appendHeader(std::string& out, std::string_view name, std::string_view help, MetricType type) {
  out += "# HELP ";
  out += name;
  out.push_back(' ');
  appendEscaped(out, help, false);
  out += "\n# TYPE ";
  out += name;
  out.push_back(' ');
  out += typeName(type);
  out.push_back('\n');
}

// name{a="x",b="y"[,extra="v"]} value
void appendSample(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<std::pair<std::string_view, std::string_view>>& labels,
                  std::string_view extra_name, std::string_view extra_value, double value) {
  out += name;
  out += suffix;
  if (!labels.empty() || !extra_name.empty()) {
    out.push_back('{');
    bool first = true;
    for (const auto& [k, v] : labels) {
      if (!first) out.push_back(',');
      first = false;
      out += k;
      out += "=\"";
      appendEscaped(out, v, true);
      out.push_back('"');
    }
    if (!extra_name.empty()) {
      if (!first) out.push_back(',');
      out += extra_name;
      out += "=\"";
      out += extra_value;
      out.push_back('"');
    }
    out.push_back('}');
  }
  out.push_back(' ');
  out += formatPrometheusFloat(value);
  out.push_back('\n');
}

}  // namespace

std::string formatPrometheusFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  // Shortest round-trip digits, then Go's %g layout: %e when exp < -4 || exp >= 6 (the
  // precision strconv uses for that decision when asked for the shortest form), else %f.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  if (ec != std::errc()) return "NaN";
  std::string_view sci(buf, static_cast<size_t>(end - buf));
  const bool neg = sci.front() == '-';
  if (neg) sci.remove_prefix(1);
  const size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e)) {
    if (c != '.') digits.push_back(c);
  }
  int exp = 0;
  std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+' ? 1 : 0), sci.data() + sci.size(), exp);
  std::string out = neg ? "-" : "";
  const int nd = static_cast<int>(digits.size());
  if (exp < -4 || exp >= 6) {
    out.push_back(digits[0]);
    if (nd > 1) {
      out.push_back('.');
      out.append(digits, 1, std::string::npos);
    }
    out.push_back('e');
    out.push_back(exp < 0 ? '-' : '+');
    const int a = std::abs(exp);
    if (a < 10) out.push_back('0');
    out += std::to_string(a);
    return out;
  }
  const int dp = exp + 1;  // digits before the decimal point
  if (dp > 0) {
    for (int i = 0; i < dp; ++i) out.push_back(i < nd ? digits[static_cast<size_t>(i)] : '0');
  } else {
    out.push_back('0');
  }
  if (nd > dp) {
    out.push_back('.');
    for (int i = dp; i < nd; ++i) out.push_back(i < 0 ? '0' : digits[static_cast<size_t>(i)]);
  }
  return out;
}

std::vector<double> exponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i) {
    out.push_back(v);
    v *= factor;
  }
  return out;
}

std::vector<double> linearBuckets(double start, double width, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i) {
    out.push_back(v);
    v += width;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// MetricFamily

MetricFamily::MetricFamily(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
                           std::vector<double> buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      buckets_(std::move(buckets)) {
  // Unlabeled counters and gauges exist from the start (client_golang exposes them as 0).
  if (label_names_.empty() && type_ != MetricType::kHistogram) series_[{}];
}

MetricFamily::Series& MetricFamily::seriesLocked(const std::vector<std::string>& label_values) {
  Series& s = series_[label_values];
  if (type_ == MetricType::kHistogram && s.bucket_counts.size() != buckets_.size()) {
    s.bucket_counts.assign(buckets_.size(), 0);
  }
  return s;
}

void MetricFamily::add(const std::vector<std::string>& label_values, double amount) {
  if (!(amount >= 0) || label_values.size() != label_names_.size()) return;
  std::lock_guard lock(mu_);
  seriesLocked(label_values).value += amount;
}

void MetricFamily::set(const std::vector<std::string>& label_values, double value) {
  if (label_values.size() != label_names_.size()) return;
  std::lock_guard lock(mu_);
  seriesLocked(label_values).value = value;
}

void MetricFamily::setToTime(const std::vector<std::string>& label_values, WallTime t) {
  set(label_values, std::chrono::duration<double>(t.time_since_epoch()).count());
}

void MetricFamily::observe(const std::vector<std::string>& label_values, double value) {
  if (label_values.size() != label_names_.size()) return;
  std::lock_guard lock(mu_);
  Series& s = seriesLocked(label_values);
  s.value += value;
  ++s.count;
  // Buckets are upper-inclusive: the first bound >= value.
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), value);
  if (it != buckets_.end()) ++s.bucket_counts[static_cast<size_t>(it - buckets_.begin())];
}

double MetricFamily::value(const std::vector<std::string>& label_values) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(label_values);
  return it == series_.end() ? 0 : it->second.value;
}

uint64_t MetricFamily::sampleCount(const std::vector<std::string>& label_values) const {
  std::lock_guard lock(mu_);
  auto it = series_.find(label_values);
  return it == series_.end() ? 0 : it->second.count;
}

double MetricFamily::sampleSum(const std::vector<std::string>& label_values) const { return value(label_values); }

void MetricFamily::expose(std::string& out) const {
  std::lock_guard lock(mu_);
  if (series_.empty()) return;
  appendHeader(out, name_, help_, type_);
  // client_golang sorts the label pairs of a series by name and the series by their values.
  std::vector<size_t> order(label_names_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return label_names_[a] < label_names_[b]; });
  std::vector<std::pair<std::vector<std::string_view>, const Series*>> sorted;
  for (const auto& [values, series] : series_) {
    std::vector<std::string_view> key;
    for (size_t i : order) key.push_back(values[i]);
    sorted.emplace_back(std::move(key), &series);
  }
  std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [values, series] : sorted) {
    std::vector<std::pair<std::string_view, std::string_view>> labels;
    for (size_t i = 0; i < order.size(); ++i) labels.emplace_back(label_names_[order[i]], values[i]);
    if (type_ != MetricType::kHistogram) {
      appendSample(out, name_, "", labels, "", "", series->value);
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t b = 0; b < buckets_.size(); ++b) {
      cumulative += series->bucket_counts[b];
      appendSample(out, name_, "_bucket", labels, "le", formatPrometheusFloat(buckets_[b]),
                   static_cast<double>(cumulative));
    }
    appendSample(out, name_, "_bucket", labels, "le", "+Inf", static_cast<double>(series->count));
    appendSample(out, name_, "_sum", labels, "", "", series->value);
    appendSample(out, name_, "_count", labels, "", "", static_cast<double>(series->count));
  }
}

// ---------------------------------------------------------------------------------------------
// MetricsRegistry

MetricFamily& MetricsRegistry::add(std::string name, std::string help, MetricType type,
                                   std::vector<std::string> label_names, std::vector<double> buckets) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) return *it->second;
  auto family = std::make_unique<MetricFamily>(name, std::move(help), type, std::move(label_names), std::move(buckets));
  MetricFamily& ref = *family;
  families_.emplace(std::move(name), std::move(family));
  return ref;
}

MetricFamily& MetricsRegistry::counter(std::string name, std::string help, std::vector<std::string> label_names) {
  return add(std::move(name), std::move(help), MetricType::kCounter, std::move(label_names), {});
}

MetricFamily& MetricsRegistry::gauge(std::string name, std::string help, std::vector<std::string> label_names) {
  return add(std::move(name), std::move(help), MetricType::kGauge, std::move(label_names), {});
}

MetricFamily& MetricsRegistry::histogram(std::string name, std::string help, std::vector<double> buckets,
                                         std::vector<std::string> label_names) {
  std::sort(buckets.begin(), buckets.end());
  return add(std::move(name), std::move(help), MetricType::kHistogram, std::move(label_names), std::move(buckets));
}

void MetricsRegistry::collector(std::string name, std::string help, MetricType type,
                                std::function<std::vector<CollectedSample>()> collect) {
  std::lock_guard lock(mu_);
  collectors_[std::move(name)] = Collector{std::move(help), type, std::move(collect)};
}

MetricFamily* MetricsRegistry::find(std::string_view name) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  return it == families_.end() ? nullptr : it->second.get();
}

std::string MetricsRegistry::expose() const {
  // Collectors run outside the lock (they may read the kernel).
  std::vector<std::pair<std::string, Collector>> collectors;
  std::vector<std::pair<std::string, const MetricFamily*>> families;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, c] : collectors_) collectors.emplace_back(name, c);
    for (const auto& [name, f] : families_) families.emplace_back(name, f.get());
  }
  std::map<std::string, std::string> parts;
  for (const auto& [name, f] : families) {
    std::string text;
    f->expose(text);
    if (!text.empty()) parts[name] = std::move(text);
  }
  for (const auto& [name, c] : collectors) {
    std::vector<CollectedSample> samples = c.collect ? c.collect() : std::vector<CollectedSample>{};
    if (samples.empty()) continue;
    std::string text;
    appendHeader(text, name, c.help, c.type);
    for (auto& s : samples) {
      std::sort(s.labels.begin(), s.labels.end());
      std::vector<std::pair<std::string_view, std::string_view>> labels(s.labels.begin(), s.labels.end());
      appendSample(text, name, "", labels, "", "", s.value);
    }
    parts[name] = std::move(text);
  }
  std::string out;
  for (const auto& [name, text] : parts) out += text;
  return out;
}

// ---------------------------------------------------------------------------------------------
// ProxyMetrics

namespace {

const std::vector<double>& syncBuckets() {
  static const std::vector<double> b = exponentialBuckets(0.001, 2, 15);
  return b;
}

// upstream: metrics.MergeBuckets starts with a 0 bucket, then 0.25s, 0.5s, 1s..59s, 60s..115s
// by 5s, 120s..300s by 30s.
std::vector<double> networkProgrammingBuckets() {
  std::vector<double> b{0};
  for (const auto& part : {linearBuckets(0.25, 0.25, 2), linearBuckets(1, 1, 59), linearBuckets(60, 5, 12),
                           linearBuckets(120, 30, 7)}) {
    b.insert(b.end(), part.begin(), part.end());
  }
  return b;
}

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

ProxyMetrics::ProxyMetrics(MetricsRegistry& registry, const MetricsProfile& profile)
    : sync_proxy_rules_duration(registry.histogram("kubeproxy_sync_proxy_rules_duration_seconds",
                                                   alpha("SyncProxyRules latency in seconds"), syncBuckets(),
                                                   {"ip_family"})),
      sync_proxy_rules_last_timestamp(registry.gauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds",
                                                     alpha("The last time proxy rules were successfully synced"),
                                                     {"ip_family"})),
      sync_proxy_rules_last_queued_timestamp(
          registry.gauge("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
                         alpha("The last time a sync of proxy rules was queued"), {"ip_family"})),
      network_programming_duration(registry.histogram("kubeproxy_network_programming_duration_seconds",
                                                      alpha("In Cluster Network Programming Latency in seconds"),
                                                      networkProgrammingBuckets(), {"ip_family"})),
      endpoint_changes_pending(registry.gauge("kubeproxy_sync_proxy_rules_endpoint_changes_pending",
                                              alpha("Pending proxy rules Endpoint changes"))),
      endpoint_changes_total(registry.counter("kubeproxy_sync_proxy_rules_endpoint_changes_total",
                                              alpha("Cumulative proxy rules Endpoint changes"))),
      service_changes_pending(registry.gauge("kubeproxy_sync_proxy_rules_service_changes_pending",
                                             alpha("Pending proxy rules Service changes"))),
      service_changes_total(registry.counter("kubeproxy_sync_proxy_rules_service_changes_total",
                                             alpha("Cumulative proxy rules Service changes"))),
      no_local_endpoints_total(registry.gauge("kubeproxy_sync_proxy_rules_no_local_endpoints_total",
                                              alpha("Number of services with a Local traffic policy and no endpoints"),
                                              {"ip_family", "traffic_policy"})),
      proxy_healthz_total(registry.counter("kubeproxy_proxy_healthz_total",
                                           alpha("Cumulative proxy healthz HTTP status"), {"code"})),
      proxy_livez_total(registry.counter("kubeproxy_proxy_livez_total", alpha("Cumulative proxy livez HTTP status"),
                                         {"code"})),
      conntrack_reconciler_sync_duration(
          registry.histogram("kubeproxy_conntrack_reconciler_sync_duration_seconds",
                             alpha("ReconcileConntrackFlowsLatency latency in seconds"), syncBuckets(),
                             {"ip_family"})),
      conntrack_reconciler_deleted_entries(
          registry.counter("kubeproxy_conntrack_reconciler_deleted_entries_total",
                           alpha("Cumulative conntrack flows deleted by conntrack reconciler"), {"ip_family"})),
      registry_(registry),
      profile_(profile) {
  if (profile.sync_duration_by_kind) {
    sync_full_proxy_rules_duration =
        &registry.histogram("kubeproxy_sync_full_proxy_rules_duration_seconds",
                            alpha("SyncProxyRules latency in seconds for full resyncs"), syncBuckets(), {"ip_family"});
    sync_partial_proxy_rules_duration = &registry.histogram(
        "kubeproxy_sync_partial_proxy_rules_duration_seconds",
        alpha("SyncProxyRules latency in seconds for partial resyncs"), syncBuckets(), {"ip_family"});
  }
  if (profile.iptables_partial_restore_failures) {
    iptables_partial_restore_failures =
        &registry.counter("kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total",
                          alpha("Cumulative proxy iptables partial restore failures"), {"ip_family"});
  }
  if (profile.iptables_rule_counts) {
    iptables_rules_total = &registry.gauge("kubeproxy_sync_proxy_rules_iptables_total",
                                           alpha("Total number of iptables rules owned by kube-proxy"),
                                           {"ip_family", "table"});
    iptables_rules_last = &registry.gauge("kubeproxy_sync_proxy_rules_iptables_last",
                                          alpha("Number of iptables rules written by kube-proxy in last sync"),
                                          {"ip_family", "table"});
  }
  if (profile.iptables_restore_failures) {
    iptables_restore_failures = &registry.counter("kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
                                                  alpha("Cumulative proxy iptables restore failures"), {"ip_family"});
  }
  if (profile.nftables_failures) {
    nftables_sync_failures = &registry.counter("kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
                                               alpha("Cumulative proxy nftables sync failures"), {"ip_family"});
    nftables_cleanup_failures = &registry.counter("kubeproxy_sync_proxy_rules_nftables_cleanup_failures_total",
                                                  alpha("Cumulative proxy nftables cleanup failures"), {"ip_family"});
  }
}

void ProxyMetrics::registerNfacctCollectors(NfacctReader reader) {
  if (!profile_.nfacct_counters || !reader) return;
  // upstream: one collector per nfacct counter; a failed read publishes nothing.
  struct Counter {
    const char* metric;
    const char* help;
    const char* nfacct;
  };
  for (const Counter& c : {Counter{"kubeproxy_iptables_ct_state_invalid_dropped_packets_total",
                                   "packets dropped by iptables to work around conntrack problems",
                                   "ct_state_invalid_dropped_pkts"},
                           Counter{"kubeproxy_iptables_localhost_nodeports_accepted_packets_total",
                                   "Number of packets accepted on nodeports of loopback interface",
                                   "localhost_nps_accepted_pkts"}}) {
    registry_.collector(c.metric, alpha(c.help), MetricType::kCounter,
                        [reader, counter = std::string(c.nfacct)]() -> std::vector<CollectedSample> {
                          auto packets = reader(counter);
                          if (!packets) return {};
                          return {CollectedSample{{}, static_cast<double>(*packets)}};
                        });
  }
}

void ProxyMetrics::syncQueued(IpFamily family, WallTime now) {
  sync_proxy_rules_last_queued_timestamp.setToTime({std::string(ipFamilyName(family))}, now);
}

void ProxyMetrics::syncSucceeded(IpFamily family, const SyncReport& report, const tracker::UpdateResult& changes,
                                 WallTime now) {
  const std::string fam(ipFamilyName(family));
  const double took = seconds(report.duration);
  sync_proxy_rules_duration.observe({fam}, took);
  if (MetricFamily* m = report.full_sync ? sync_full_proxy_rules_duration : sync_partial_proxy_rules_duration) {
    m->observe({fam}, took);
  }
  if (iptables_rules_total != nullptr) {
    for (const TableRuleCount& t : report.rule_counts) {
      iptables_rules_total->set({fam, t.table}, static_cast<double>(t.total));
      iptables_rules_last->set({fam, t.table}, static_cast<double>(t.last));
    }
  }
  for (const auto& [service, times] : changes.endpoints.last_change_trigger_times) {
    for (WallTime t : times) network_programming_duration.observe({fam}, seconds(now - t));
  }
  no_local_endpoints_total.set({fam, "internal"}, report.no_local_endpoints_internal);
  no_local_endpoints_total.set({fam, "external"}, report.no_local_endpoints_external);
  sync_proxy_rules_last_timestamp.setToTime({fam}, now);
  if (report.conntrack_reconciled) {
    conntrack_reconciler_sync_duration.observe({fam}, seconds(report.conntrack_duration));
    conntrack_reconciler_deleted_entries.add({fam}, static_cast<double>(report.conntrack_deleted));
  }
}

void ProxyMetrics::syncFailed(IpFamily family, bool partial, std::chrono::nanoseconds duration) {
  const std::string fam(ipFamilyName(family));
  // upstream records the durations in a defer, so failed syncs are observed too.
  sync_proxy_rules_duration.observe({fam}, seconds(duration));
  if (MetricFamily* m = partial ? sync_partial_proxy_rules_duration : sync_full_proxy_rules_duration) {
    m->observe({fam}, seconds(duration));
  }
  if (iptables_restore_failures != nullptr) iptables_restore_failures->inc({fam});
  if (partial && iptables_partial_restore_failures != nullptr) iptables_partial_restore_failures->inc({fam});
  if (nftables_sync_failures != nullptr) nftables_sync_failures->inc({fam});
}

void ProxyMetrics::serviceChange(size_t services_pending) {
  service_changes_total.inc();
  service_changes_pending.set({}, static_cast<double>(services_pending));
}

void ProxyMetrics::endpointSliceChange(bool change_pending) {
  endpoint_changes_total.inc();
  if (change_pending) endpoint_changes_pending.add({}, 1);
}

void ProxyMetrics::changesCheckedOut() {
  service_changes_pending.set({}, 0);
  endpoint_changes_pending.set({}, 0);
}

void ProxyMetrics::healthzAnswered(int code) { proxy_healthz_total.inc({std::to_string(code)}); }
void ProxyMetrics::livezAnswered(int code) { proxy_livez_total.inc({std::to_string(code)}); }

// ---------------------------------------------------------------------------------------------
// Process metrics

namespace {

struct ProcStat {
  double cpu_seconds = 0;
  double start_time = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
  bool ok = false;
};

ProcStat readProcStat() {
  ProcStat out;
  std::ifstream in("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may contain spaces) start at field 3.
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream fields(text.substr(close + 2));
  std::vector<std::string> f;
  for (std::string s; fields >> s;) f.push_back(s);
  if (f.size() < 22) return out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
  out.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  double boot = 0;
  std::ifstream stat("/proc/stat");
  for (std::string line; std::getline(stat, line);) {
    if (line.rfind("btime ", 0) == 0) boot = std::stod(line.substr(6));
  }
  out.start_time = boot + std::stod(f[19]) / ticks;
  out.virtual_bytes = std::stod(f[20]);
  out.resident_bytes = std::stod(f[21]) * page;
  out.ok = true;
  return out;
}

double openFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace

void registerProcessMetrics(MetricsRegistry& registry, std::string_view git_version) {
  using Sample = std::vector<CollectedSample>;
  auto stat = [](double ProcStat::*field) {
    return [field]() -> Sample {
      ProcStat s = readProcStat();
      if (!s.ok) return {};
      return {CollectedSample{{}, s.*field}};
    };
  };
  registry.collector("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                     MetricType::kCounter, stat(&ProcStat::cpu_seconds));
  registry.collector("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                     MetricType::kGauge, stat(&ProcStat::start_time));
  registry.collector("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::kGauge,
                     stat(&ProcStat::virtual_bytes));
  registry.collector("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge,
                     stat(&ProcStat::resident_bytes));
  registry.collector("process_open_fds", "Number of open file descriptors.", MetricType::kGauge,
                     []() -> Sample { return {CollectedSample{{}, openFds()}}; });
  registry.collector("process_max_fds", "Maximum number of open file descriptors.", MetricType::kGauge,
                     []() -> Sample {
                       rlimit r{};
                       if (getrlimit(RLIMIT_NOFILE, &r) != 0) return {};
                       return {CollectedSample{{}, static_cast<double>(r.rlim_cur)}};
                     });
  // component-base's build info, with what kproxy knows about itself.
  std::string major, minor;
  {
    std::string_view v = git_version;
    if (!v.empty() && v.front() == 'v') v.remove_prefix(1);
    const size_t dot = v.find('.');
    major = std::string(v.substr(0, dot));
    if (dot != std::string_view::npos) {
      std::string_view rest = v.substr(dot + 1);
      minor = std::string(rest.substr(0, rest.find_first_not_of("0123456789")));
    }
  }
  MetricFamily& info = registry.gauge(
      "kubernetes_build_info",
      alpha("A metric with a constant '1' value labeled by major, minor, git version, git commit, git tree state, "
            "build date, Go version, and compiler from which Kubernetes was built, and platform on which it is "
            "running."),
      {"build_date", "compiler", "git_commit", "git_tree_state", "git_version", "go_version", "major", "minor",
       "platform"});
#if defined(__aarch64__)
  const char* platform = "linux/arm64";
#else
  const char* platform = "linux/amd64";
#endif
  info.set({"", "gcc", "", "", std::string(git_version), "", major, minor, platform}, 1);
}

}  // namespace kproxy::proxy
