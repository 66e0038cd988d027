// ServiceCIDR validation (the API server's ValidateServiceCIDR rules kube-proxy depends on) and
// the per-family view of ServiceCIDRs. Kept out of validate.cc on purpose: a small, separate
// unit for a new kind.
#include "src/api/service_cidr.h"

#include <algorithm>

#include "src/api/decode_internal.h"

namespace kproxy::api {
namespace internal {

void checkServiceCIDR(const ServiceCIDR& object, std::vector<FieldProblem>& out) {
  auto add = [&](std::string path, std::string message) {
    out.push_back(FieldProblem{std::move(path), std::move(message), 0});
  };
  if (object.meta.name.empty()) {
    add("metadata.name", "missing");
  } else if (std::string problem = dns1123SubdomainProblem(object.meta.name); !problem.empty()) {
    add("metadata.name", std::move(problem));
  }
  for (const auto& [key, value] : object.meta.labels) {
    std::string problem = labelKeyProblem(key);
    if (problem.empty()) problem = labelValueProblem(value);
    if (problem.empty()) continue;
    std::string path = "metadata.labels[";
    path += oneLine(key);
    path += ']';
    add(std::move(path), std::move(problem));
  }
  if (object.cidrs.empty()) add("spec.cidrs", "missing (one CIDR, or one of each IP family)");
  if (object.cidrs.size() > 2) add("spec.cidrs", "at most two CIDRs, one of each IP family, are allowed");
  std::vector<Cidr> parsed;
  for (size_t i = 0; i < object.cidrs.size(); ++i) {
    const std::string path = "spec.cidrs[" + std::to_string(i) + "]";
    const std::string& text = object.cidrs[i];
    auto cidr = Cidr::parse(text);
    if (!cidr.ok()) {
      add(path, quote(text) + " is not a valid CIDR (e.g. 10.96.0.0/16 or 2001:db8::/64)");
      continue;
    }
    // upstream (netutils strict CIDR parsing): only the canonical form, with no host bits set.
    if (text.find('.') != std::string::npos && text.find(':') != std::string::npos) {
      add(path, quote(text) + ": IPv4-mapped IPv6 CIDRs are not allowed");
      continue;
    }
    if (cidr->toString() != text) {
      add(path, quote(text) + " is not in canonical form (the network address with no host bits set, as " +
                    quote(cidr->toString()) + ")");
      continue;
    }
    parsed.push_back(*cidr);
  }
  if (parsed.size() == 2 && parsed[0].family() == parsed[1].family()) {
    add("spec.cidrs", "two CIDRs must be of different IP families");
  }
}

}  // namespace internal

std::vector<Cidr> serviceCidrsOf(const std::vector<std::shared_ptr<const ServiceCIDR>>& objects, IpFamily family) {
  std::vector<Cidr> out;
  for (const auto& object : objects) {
    for (const auto& text : object->cidrs) {
      auto cidr = Cidr::parse(text);
      if (cidr.ok() && cidr->family() == family) out.push_back(*cidr);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace kproxy::api
