// kubeconfig files (src/watch/kubeconfig.cc): contexts, clusters and users looked up by name,
// *-data fields in base64, the rejected exec/auth-provider plugins. Relative file names resolve
// against a folder that does not exist, so nothing outside is read.
#include <string>

#include "src/watch/kubeconfig.h"
#include "tests/fuzz/fuzz_common.h"

KPROXY_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(kproxy::fuzz::text(data, size));
  (void)kproxy::watch::parseKubeconfig(input, "/nonexistent/kproxy-fuzz");
  (void)kproxy::watch::decodeBase64(input);
  return 0;
}
