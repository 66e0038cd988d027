#include "modes/ipvs/cleanup.h"

#include <cerrno>

#include "modes/ipvs/planner.h"
#include "netlink/errors.h"
#include "netlink/iptables_cleanup.h"

namespace kproxy::ipvs {

void cleanupIpvsMode(netlink::IptablesRestore& iptables, netlink::IpvsClient* ipvs, netlink::LinkClient* links,
                     netlink::IpSetClient* ipsets, const std::vector<IpFamily>& families,
                     std::vector<std::string>* errors) {
  if (ipvs != nullptr) {
    if (auto s = ipvs->flush(); !s.ok()) errors->push_back(s.error().message);
  }
  if (links != nullptr) {
    if (auto s = links->deleteDummyLink(kDummyDevice); !s.ok() && !netlink::isNotFound(s.error())) {
      errors->push_back(s.error().message);
    }
  }
  for (IpFamily family : families) {
    for (const auto& jump : ipvsChainJumps()) {
      netlink::deleteRuleEveryCopy(
          iptables, family, jump.table, jump.from,
          {"-m", "comment", "--comment", std::string(jump.comment), "-j", std::string(jump.to)}, errors);
    }
    for (const char* table : {"nat", "filter"}) {
      netlink::deleteOwnedChains(
          iptables, family, table,
          [table](std::string_view name) {
            for (const auto& owned : ipvsChains()) {
              if (owned.table == table && owned.chain == name) return true;
            }
            return false;
          },
          errors);
    }
  }
  if (ipsets != nullptr) {
    for (IpFamily family : families) {
      for (const auto& info : ipSetTable()) {
        const std::string name = ipSetName(info.name, family);
        if (auto s = ipsets->destroy(name); !s.ok() && s.error().code != ENOENT) errors->push_back(s.error().message);
      }
    }
  }
}

}  // namespace kproxy::ipvs
