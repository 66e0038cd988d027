// ServiceCIDR objects (networking.k8s.io/v1) as kube-proxy uses them: the ranges of one IP
// family, from every ServiceCIDR of a cluster state (upstream OnServiceCIDRsChanged, which each
// proxier filters by its family).
#pragma once

#include <vector>

#include "src/api/objects.h"
#include "src/util/ip.h"

namespace kproxy::api {

// The distinct spec.cidrs of `family` over all `objects`, sorted. Entries that do not parse are
// left out (validation reports them when the objects are decoded).
std::vector<Cidr> serviceCidrsOf(const std::vector<std::shared_ptr<const ServiceCIDR>>& objects, IpFamily family);

}  // namespace kproxy::api
