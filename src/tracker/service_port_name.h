// ServicePortName: the key of one service port, (namespace, name, port name, protocol), as
// upstream's proxy.ServicePortName.
#pragma once

#include <compare>
#include <string>

#include "src/api/objects.h"

namespace kproxy::tracker {

struct ServicePortName {
  api::NamespacedName service;
  std::string port;  // the port's name, "" for an unnamed port
  api::Protocol protocol = api::Protocol::kTCP;

  // Upstream's String(): "ns/name:port", or "ns/name" for an unnamed port (no protocol).
  std::string toString() const {
    std::string out = service.toString();
    if (!port.empty()) {
      out.push_back(':');
      out += port;
    }
    return out;
  }

  auto operator<=>(const ServicePortName&) const = default;
  bool operator==(const ServicePortName&) const = default;
};

}  // namespace kproxy::tracker
