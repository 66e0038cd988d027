// kube-proxy's command line (upstream cmd/kube-proxy/app/options.go and component-base's logging
// flags; spec ipvs-and-runtime.md §3.1): every Linux flag with upstream's name, default and
// pflag's syntax (--name=value, --name value, bare booleans, -v N / -v=N / -vN, repeated
// list flags appending, "--" ending the flags), registered on CLI11, plus kproxy's own --objects.
//
// Precedence is upstream's Options.Complete: without --config the flags are the configuration;
// with --config the file replaces it, and only --hostname-override, the logging flags given on
// the command line, --master, --cleanup, --init-only, --write-config-to and --config still apply.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "src/config/kube_proxy_configuration.h"
#include "src/util/result.h"

namespace CLI {
class App;
}

namespace kproxy::config {

// What the command line said.
struct KubeProxyFlags {
  // upstream Options fields that are not configuration fields.
  std::string config_file;
  std::string write_config_to;
  bool cleanup = false;
  bool init_only = false;
  std::string master;
  std::string hostname_override;
  int32_t healthz_port = 10256;  // deprecated --healthz-port
  int32_t metrics_port = 10249;  // deprecated --metrics-port
  // Placeholders for flags that do not map onto one field (upstream processV1Alpha1Flags);
  // their defaults are the internal configuration's, i.e. iptables' 30s / 1s.
  Duration iptables_sync_period = std::chrono::seconds(30);
  Duration iptables_min_sync_period = std::chrono::seconds(1);
  Duration ipvs_sync_period = std::chrono::seconds(30);
  Duration ipvs_min_sync_period = std::chrono::seconds(1);
  std::string cluster_cidrs;
  std::string version;  // --version: "" (not given), "true", "false" or "raw"
  bool help = false;

  // kproxy's extensions.
  std::vector<std::string> objects;  // --objects FILE: take objects from manifests, not the API

  // The configuration the flags build: defaults, then every configuration flag given.
  KubeProxyConfiguration config;
  // The long names of the flags given on the command line (pflag's Changed).
  std::set<std::string> changed;
  // The text of each flag's value, for PrintFlags ("FLAG: --name=\"value\"").
  std::vector<std::pair<std::string, std::string>> values;
  // Deprecation notices for deprecated flags that were used.
  std::vector<std::string> warnings;

  bool given(const std::string& name) const { return changed.count(name) != 0; }
};

// Parses the arguments after the verb (or after argv[0] when called as kube-proxy). Errors read
// like pflag's, with a hint for unknown flags: "unknown flag: --proxymode (did you mean
// --proxy-mode?)", "invalid argument \"x\" for \"--kube-api-qps\" flag: ...".
Result<KubeProxyFlags> parseKubeProxyFlags(const std::vector<std::string>& args);

// The usage text for --help.
std::string kubeProxyUsage();

// Registers every flag on a CLI11 app (kproxy's flag table: names, defaults, help). Each value
// given is handed to `on_value(long_name, value)` in command-line order.
void registerKubeProxyFlags(CLI::App& app, std::function<void(const std::string&, const std::string&)> on_value);

// The known flag nearest to `name` (edit distance), for "did you mean" hints.
std::string nearestFlag(const std::string& name);

// The effective configuration (upstream Options.Complete, before Validate).
struct CompletedConfiguration {
  KubeProxyConfiguration config;
  std::vector<std::string> warnings;  // lenient decoding, deprecated flags
};
using FileReader = std::function<Result<std::string>(const std::string& path)>;
// Errors: the file cannot be read or decoded, "empty hostname-override is invalid".
Result<CompletedConfiguration> completeConfiguration(const KubeProxyFlags& flags, const FileReader& read_file);

// cliflag.PrintFlags: one "FLAG: --name=\"value\"" line per flag, sorted by name.
std::vector<std::string> printFlags(const KubeProxyFlags& flags);

// upstream addressFromDeprecatedFlags: port 0 disables the server, else the port is appended
// when the address has none.
std::string addressFromDeprecatedFlags(const std::string& address, int32_t port);

}  // namespace kproxy::config
