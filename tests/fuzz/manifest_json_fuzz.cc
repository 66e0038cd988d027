// Manifests through the JSON walker (src/api/decode_json.cc, simdjson On-Demand): an object, a
// List, a typed list (ServiceList) or an array of objects. Input that decodeManifests would read
// as YAML is rejected (-1: not kept in the corpus).
#include <string>

#include "src/api/decode.h"
#include "tests/fuzz/fuzz_common.h"

KPROXY_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = kproxy::fuzz::text(data, size);
  size_t first = input.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (input[first] != '{' && input[first] != '[')) return -1;
  kproxy::api::ManifestFile file;
  file.name = "fuzz.json";
  // Exactly the input, with no spare capacity: the decoder must copy it into a padded buffer
  // rather than read past the end (ASan would see that). Large strings get capacity == size.
  file.bytes.assign(input);
  file.bytes.shrink_to_fit();
  auto result = kproxy::api::decodeManifests({file});
  for (const auto& e : result.errors) {
    if (e.message.find('\n') != std::string::npos) kproxy::fuzz::broken("error message spans lines");
  }
  // The same bytes with spare room after them are decoded in place; the outcome must not differ.
  kproxy::api::ManifestFile padded;
  padded.name = "fuzz.json";
  padded.bytes.reserve(input.size() + kproxy::api::kManifestPadding);
  padded.bytes.assign(input);
  auto again = kproxy::api::decodeManifests({padded});
  if (again.errors.size() != result.errors.size() ||
      again.state.services.size() != result.state.services.size() ||
      again.state.endpoint_slices.size() != result.state.endpoint_slices.size()) {
    kproxy::fuzz::broken("padded and unpadded input decode differently");
  }
  return 0;
}
