// KubeProxyConfiguration files (src/config/kube_proxy_configuration.cc): YAML or JSON, strict then
// lenient decoding, durations, feature gates; then validation, and --write-config-to's encoder,
// whose output must decode again to the same document.
#include <string>

#include "src/config/kube_proxy_configuration.h"
#include "tests/fuzz/fuzz_common.h"

KPROXY_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kproxy::config;
  auto decoded = decodeConfiguration(kproxy::fuzz::text(data, size), "fuzz.yaml");
  if (!decoded.ok()) return 0;
  (void)validateConfiguration(decoded->config);
  KubeProxyConfiguration moded = decoded->config;
  applyModeDefaults(moded);
  // What kproxy writes, it reads back as the same configuration.
  const std::string encoded = encodeConfiguration(decoded->config);
  auto again = decodeConfiguration(encoded, "encoded.yaml");
  if (!again.ok()) {
    fprintf(stderr, "%s\n---\n%s\n", again.error().message.c_str(), encoded.c_str());
    kproxy::fuzz::broken("encodeConfiguration's output does not decode");
  }
  if (encodeConfiguration(again->config) != encoded) {
    kproxy::fuzz::broken("encode(decode(encode(c))) != encode(c)");
  }
  return 0;
}
