#include "netlink/errors.h"

#include <netlink/errno.h>
#include <netlink/netlink.h>

#include <cerrno>

namespace kproxy::netlink {

int nleToErrno(int nle) {
  switch (nle < 0 ? -nle : nle) {
    case NLE_SUCCESS:
      return 0;
    case NLE_INTR:
      return EINTR;
    case NLE_BAD_SOCK:
      return EBADF;
    case NLE_AGAIN:
      return EAGAIN;
    case NLE_NOMEM:
      return ENOMEM;
    case NLE_EXIST:
      return EEXIST;
    case NLE_INVAL:
      return EINVAL;
    case NLE_RANGE:
      return ERANGE;
    case NLE_MSGSIZE:
      return EMSGSIZE;
    case NLE_OPNOTSUPP:
      return EOPNOTSUPP;
    case NLE_AF_NOSUPPORT:
      return EAFNOSUPPORT;
    case NLE_OBJ_NOTFOUND:
      return ENOENT;
    case NLE_NOADDR:
      return EADDRNOTAVAIL;
    case NLE_BUSY:
      return EBUSY;
    case NLE_NOACCESS:
      return EACCES;
    case NLE_PERM:
      return EPERM;
    case NLE_NODEV:
      return ENODEV;
    case NLE_PROTO_MISMATCH:
      return EPROTONOSUPPORT;
    case NLE_MSG_TRUNC:
    case NLE_MSG_OVERFLOW:
      return ENOBUFS;
    default:
      return EIO;
  }
}

Error nlError(std::string_view context, int nle) {
  return Error(std::string(context) + ": " + nl_geterror(nle < 0 ? nle : -nle), nleToErrno(nle));
}

int ipsetTextToErrno(std::string_view report) {
  // libipset's texts (lib/errcode.c, lib/session.c of ipset 7.17) for the kernel's errnos.
  struct Known {
    std::string_view text;
    int err;
  };
  static constexpr Known kKnown[] = {
      {"does not exist", ENOENT},
      {"it's not added", ENOENT},
      {"is NOT in set", ENOENT},
      {"already exists", EEXIST},
      {"it's already added", EEXIST},
      {"in use by a kernel component", EBUSY},
      {"is in use", EBUSY},
      {"referenced", EBUSY},
      {"Cannot open session to kernel", EPROTONOSUPPORT},
      {"Kernel support protocol versions", EPROTONOSUPPORT},
      {"Kernel error received: set type not supported", EOPNOTSUPP},
      {"set type not supported", EOPNOTSUPP},
      {"Operation not permitted", EPERM},
      {"hash is full", ENOSPC},
      {"set is full", ENOSPC},
  };
  for (const auto& k : kKnown) {
    if (report.find(k.text) != std::string_view::npos) return k.err;
  }
  return EINVAL;
}

Error ipsetError(std::string_view context, std::string_view report) {
  while (!report.empty() && (report.back() == '\n' || report.back() == ' ')) report.remove_suffix(1);
  if (report.empty()) report = "unknown libipset error";
  return Error(std::string(context) + ": " + std::string(report), ipsetTextToErrno(report));
}

}  // namespace kproxy::netlink
