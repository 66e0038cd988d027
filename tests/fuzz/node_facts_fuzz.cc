// Node facts files (`kproxy render --node-facts`, src/config/node_facts.cc): YAML with
// localAddresses, randomFully, nfacctCounters, conntrackTCPBeLiberal; then the encoder (`kproxy
// facts`), whose output must decode to the same facts.
#include <string>

#include "src/config/node_facts.h"
#include "tests/fuzz/fuzz_common.h"

KPROXY_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kproxy::config;
  auto facts = decodeNodeFacts(kproxy::fuzz::text(data, size), "fuzz.yaml");
  if (!facts.ok()) return 0;
  const std::string encoded = encodeNodeFacts(*facts);
  auto again = decodeNodeFacts(encoded, "encoded.yaml");
  if (!again.ok()) {
    fprintf(stderr, "%s\n---\n%s\n", again.error().message.c_str(), encoded.c_str());
    kproxy::fuzz::broken("encodeNodeFacts' output does not decode");
  }
  if (encodeNodeFacts(*again) != encoded) kproxy::fuzz::broken("encode(decode(encode(f))) != encode(f)");
  return 0;
}
