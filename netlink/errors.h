// Kernel errors as values (design.md conventions 5 and 6): errno values, libnl's NLE_* codes and
// libipset's report texts become an Error whose message names the operation and the errno
// ("ipvs: add real server 10.180.0.1:80 to 10.96.0.10:53/UDP: ESRCH (No such process)") and
// whose code is the errno. isAlreadyExists / isNotFound say when an add or a delete found the
// kernel already in the wanted state, which counts as success.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "src/util/result.h"

namespace kproxy::netlink {

// The errno helpers are inline: appliers and fakes use them without linking the C libraries
// (kproxy_netlink_api is header-only); the libnl and libipset ones live in errors.cc.

// "ESRCH (No such process)"; "errno 1234 (...)" for numbers without a name.
inline std::string errnoText(int err) {
  const char* name = strerrorname_np(err);
  std::string out = name != nullptr ? name : "errno " + std::to_string(err);
  return out + " (" + std::strerror(err) + ")";
}

// Error "context: ESRCH (No such process)" with code = err (a positive errno).
inline Error errnoError(std::string_view context, int err) {
  return Error(std::string(context) + ": " + errnoText(err), err);
}

// libnl returns -NLE_* codes, which lose the errno (ESRCH and ENOENT are both NLE_OBJ_NOTFOUND).
// The errno that best stands for an NLE_* code (positive or negative).
int nleToErrno(int nle);
// Error "context: <nl_geterror text>" with code = nleToErrno(nle).
Error nlError(std::string_view context, int nle);

// libipset reports failures as text ("The set with the given name does not exist"); the errno
// that text stands for (ENOENT, EEXIST, EBUSY, ...), EINVAL for an unknown text.
int ipsetTextToErrno(std::string_view report);
// Error "context: <report without trailing newline>" with code = ipsetTextToErrno(report).
Error ipsetError(std::string_view context, std::string_view report);

// EEXIST: the object an add wanted to create is there.
inline bool isAlreadyExists(const Error& error) { return error.code == EEXIST; }

// What a delete wanted to remove is not there.
inline bool isNotFound(const Error& error) {
  switch (error.code) {
    case ENOENT:
    case ESRCH:          // kernel: IPVS answers ESRCH when the virtual server itself is missing
    case ENXIO:          // upstream ignores it when it unbinds an address
    case EADDRNOTAVAIL:  // kernel: inet_rtm_deladdr / inet6_addr_del of an address the link lacks
    case ENODEV:         // the link is gone
      return true;
    default:
      return false;
  }
}

// The same status with "already exists" turned into success (for adds).
inline Status ignoreAlreadyExists(Status status) {
  if (!status.ok() && isAlreadyExists(status.error())) return okStatus();
  return status;
}
// The same status with "not found" turned into success (for deletes).
inline Status ignoreNotFound(Status status) {
  if (!status.ok() && isNotFound(status.error())) return okStatus();
  return status;
}

}  // namespace kproxy::netlink
