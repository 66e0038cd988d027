// kube-proxy's command line (src/config/flags.cc): pflag syntax scanned by kproxy, then CLI11,
// then each flag's value parser (durations, CIDR lists, feature gates, ports, ...). The input is
// the argument vector, arguments separated by NUL bytes. When it parses: PrintFlags and the
// precedence between flags and a --config file (a fixed small file, or a read error).
#include <string>
#include <vector>

#include "src/config/flags.h"
#include "tests/fuzz/fuzz_common.h"

KPROXY_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kproxy::config;
  std::string_view input = kproxy::fuzz::text(data, size);
  std::vector<std::string> args;
  while (!input.empty()) {
    size_t nul = input.find('\0');
    args.emplace_back(input.substr(0, nul));
    input.remove_prefix(nul == std::string_view::npos ? input.size() : nul + 1);
    if (args.size() > 256) break;
  }
  auto flags = parseKubeProxyFlags(args);
  if (!flags.ok()) return 0;
  (void)printFlags(*flags);
  auto read = [](const std::string& path) -> kproxy::Result<std::string> {
    if (path.size() % 2 == 0) return kproxy::Error("cannot read " + path);
    return std::string(
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\n"
        "clusterCIDR: 10.0.0.0/8\n");
  };
  auto completed = completeConfiguration(*flags, read);
  if (completed.ok()) (void)validateConfiguration(completed->config);
  return 0;
}
