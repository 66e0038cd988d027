#include "src/api/objects.h"

namespace kproxy::api {

const char* protocolName(Protocol p) {
  switch (p) {
    case Protocol::kTCP:
      return "TCP";
    case Protocol::kUDP:
      return "UDP";
    case Protocol::kSCTP:
      return "SCTP";
  }
  return "TCP";
}

const char* protocolLowerName(Protocol p) {
  switch (p) {
    case Protocol::kTCP:
      return "tcp";
    case Protocol::kUDP:
      return "udp";
    case Protocol::kSCTP:
      return "sctp";
  }
  return "tcp";
}

}  // namespace kproxy::api
