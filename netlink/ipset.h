// IpSetClient: the kernel's IP sets as IPVS mode uses them (spec ipvs-and-runtime.md §1.5):
// created with their type and family options (`ipset create NAME TYPE ... -exist`), members
// added and deleted in place (`-exist`), tested and listed, sets swapped, flushed and destroyed
// (cleanup).
//
// Member text is what `ipset add` takes and `ipset save` prints: "10.96.0.10,tcp:80",
// "10.244.1.5,tcp:8080,10.244.1.5", "1.2.3.4,tcp:80,10.0.0.0/8", "30080". Errors carry the errno
// libipset's report stands for (netlink/errors.h: ENOENT for a missing set, EEXIST for a set
// created with other parameters, EBUSY for a set still referenced by a rule).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::netlink {

// A set's create parameters.
struct IpSetSpec {
  std::string name;
  std::string type;  // "hash:ip", "hash:ip,port", "hash:ip,port,ip", "hash:ip,port,net", "bitmap:port"
  IpFamily family = IpFamily::kIPv4;  // hash types ("family inet|inet6"); bitmap types have none
  int hash_size = 1024;               // hash types
  int max_elem = 65536;               // hash types
  std::string port_range = "0-65535";  // bitmap:port ("range FROM-TO")

  bool isHash() const { return type.rfind("hash:", 0) == 0; }
  // "create NAME TYPE family inet hashsize 1024 maxelem 65536", "create NAME bitmap:port range
  // 0-65535": `ipset save`'s line without the kernel's bucketsize/initval.
  std::string createLine() const;
  bool operator==(const IpSetSpec&) const = default;
};

struct IpSetContent {
  IpSetSpec spec;
  std::vector<std::string> members;  // as the kernel lists them (hash order)
};

class IpSetClient {
 public:
  virtual ~IpSetClient() = default;

  // `ipset create ... -exist`: success when a set of that name and the same parameters exists;
  // a set of that name with other parameters is EEXIST.
  virtual Status create(const IpSetSpec& spec) = 0;
  // `ipset destroy NAME`: a missing set is ENOENT, a set still referenced is EBUSY.
  virtual Status destroy(std::string_view name) = 0;
  virtual Status flush(std::string_view name) = 0;
  // `ipset swap A B`: both must exist and have the same type.
  virtual Status swap(std::string_view a, std::string_view b) = 0;

  // `ipset add NAME MEMBER -exist` for each member, in as few kernel messages as libipset
  // allows; one Status per member, in order.
  virtual std::vector<Status> addMembers(std::string_view set, const std::vector<std::string>& members) = 0;
  // `ipset del NAME MEMBER -exist` for each member (an absent member is success).
  virtual std::vector<Status> deleteMembers(std::string_view set, const std::vector<std::string>& members) = 0;
  // `ipset test NAME MEMBER`: whether the member is in the set (ENOENT when the set is missing).
  virtual Result<bool> test(std::string_view set, std::string_view member) = 0;

  // The set's parameters and members (ENOENT when it does not exist).
  virtual Result<IpSetContent> list(std::string_view name) = 0;
  // Every set's name, in kernel order.
  virtual Result<std::vector<std::string>> listNames() = 0;

  Status add(std::string_view set, const std::string& member) { return addMembers(set, {member}).front(); }
  Status del(std::string_view set, const std::string& member) { return deleteMembers(set, {member}).front(); }
};

inline std::string IpSetSpec::createLine() const {
  std::string out = "create " + name + " " + type;
  if (isHash()) {
    out += std::string(" family ") + (family == IpFamily::kIPv4 ? "inet" : "inet6") + " hashsize " +
           std::to_string(hash_size) + " maxelem " + std::to_string(max_elem);
  } else {
    out += " range " + port_range;
  }
  return out;
}

}  // namespace kproxy::netlink
