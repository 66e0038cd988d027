// `kproxy trace --rules FILE` (iptables mode): iptables-save text (counters dropped), parsed, the
// nat and filter rules compiled by the packet tracer (addresses, ports, multiport lists,
// probabilities, addrtype, interfaces, jumps and gotos), then a few packets traced through them.
//
// Input: the rules text, then (taken from its end) the traced packet's destination address, port
// and protocol, so that the fuzzer can aim packets at the addresses the rules name.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>
#include <vector>

#include "modes/common/restore_text.h"
#include "modes/iptables/packet_tracer.h"
#include "tests/fuzz/fuzz_common.h"

KPROXY_FUZZ_INIT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kproxy;
  FuzzedDataProvider provider(data, size);
  // From the end of the input (FuzzedDataProvider takes integers from the back).
  const uint32_t destination = provider.ConsumeIntegral<uint32_t>();
  const int port = provider.ConsumeIntegralInRange<int>(0, 65535);
  const uint8_t selector = provider.ConsumeIntegral<uint8_t>();
  const std::string rules = provider.ConsumeRemainingBytesAsString();

  auto parsed = restore::parseRestoreText(restore::withoutRuleCounters(rules));
  if (!parsed.ok()) return 0;
  const std::vector<IpAddress> local = {*IpAddress::parse("10.0.0.2"), *IpAddress::parse("fd00::2")};
  auto tracer = iptables::PacketTracer::create(*parsed, local);
  if (!tracer.ok()) return 0;
  static const char* const kProtocols[] = {"tcp", "udp", "sctp"};
  for (int i = 0; i < 2; ++i) {
    iptables::TracePacket packet;
    const bool from_node = (selector & 1) != 0;
    packet.source = *IpAddress::parse(i == 0 ? (from_node ? "10.0.0.2" : "203.0.113.9") : (from_node ? "fd00::2" : "2001:db8::9"));
    packet.destination = i == 0 ? IpAddress::fromV4(destination) : *IpAddress::parse("fd00::1");
    packet.destination_port = port;
    packet.protocol = kProtocols[(selector >> 1) % 3];
    if ((selector & 8) != 0) packet.in_interface = "eth0";
    auto result = tracer->trace(packet);
    (void)result.outputString();
    (void)result.chainNames();
    (void)result.verdict();
  }
  return 0;
}
