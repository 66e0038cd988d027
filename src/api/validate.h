// Field rules for decoded objects: what neither upstream kube-proxy nor the API server would
// accept. Every field that can reach a rule, a chain or set name, a comment or a log line is
// checked with the API server's own rule (apimachinery's util/validation): namespaces DNS-1123
// labels, Service names DNS-1035 labels, EndpointSlice/Endpoints/Node/ServiceCIDR names DNS-1123
// subdomains, port names DNS-1123 labels, named targetPorts IANA service names, node names in
// endpoints and hints subdomains, zones and kept labels label values (keys qualified names),
// taints, and IPs, CIDRs, ports and protocols. Values are echoed quoted, control characters
// escaped, so that a message is always one line. Each message names the object and the field, e.g.
// "Service default/web: spec.ports[1].nodePort: 70000 not in 1-65535", preceded by
// "file:line: " when the object came from a file (ObjectMeta::source, field_lines).
// The daemon uses these per object (a bad object is skipped and reported, everything else synced);
// render treats any error as fatal.
#pragma once

#include <vector>

#include "src/api/objects.h"
#include "src/util/result.h"

namespace kproxy::api {

std::vector<Error> validateService(const Service& service);
std::vector<Error> validateEndpointSlice(const EndpointSlice& slice);
std::vector<Error> validateNode(const Node& node);

}  // namespace kproxy::api
