// Manifests through the YAML walker (src/api/decode_yaml.cc): YAML streams of objects, Lists,
// legacy Endpoints, ServiceCIDRs, with validation. Input that decodeManifests would hand to the
// JSON walker (first byte '{' or '[') gets a "---" line in front, so that this target stays on the
// YAML side (where "{...}" is a flow mapping).
#include <string>

#include "src/api/decode.h"
#include "tests/fuzz/fuzz_common.h"

KPROXY_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = kproxy::fuzz::text(data, size);
  kproxy::api::ManifestFile file;
  file.name = "fuzz.yaml";
  size_t first = input.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && (input[first] == '{' || input[first] == '[')) file.bytes = "---\n";
  file.bytes.append(input);
  auto result = kproxy::api::decodeManifests({file});
  // Every message is one line that names the file (multi-line messages would break the CLI's
  // error report and could smuggle text into logs).
  for (const auto& e : result.errors) {
    if (e.message.find('\n') != std::string::npos) kproxy::fuzz::broken("error message spans lines");
  }
  return 0;
}
