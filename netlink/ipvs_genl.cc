#include "netlink/ipvs_genl.h"

#include <arpa/inet.h>
#include <linux/ip_vs.h>
#include <netlink/attr.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "netlink/errors.h"
#include "netlink/nl_batch.h"
#include "src/util/safe_text.h"

extern char** environ;

namespace kproxy::netlink {
namespace {

// Upstream (moby/ipvs) waits 3 s for an answer; software-emulated test VMs need longer.
constexpr int kTimeoutSeconds = 30;
constexpr size_t kRequestBytes = 512;

uint16_t afOf(const IpAddress& ip) { return ip.isV4() ? AF_INET : AF_INET6; }

// `modprobe ip_vs` (upstream's library runs `modprobe -va ip_vs` once). Its failure is not an
// error by itself: the module may be built in, or missing, which resolving the family shows.
void loadIpvsModule() {
  const char* paths[] = {"/sbin/modprobe", "/usr/sbin/modprobe"};
  for (const char* path : paths) {
    if (access(path, X_OK) != 0) continue;
    char arg0[] = "modprobe", arg1[] = "-q", arg2[] = "ip_vs";
    char* argv[] = {arg0, arg1, arg2, nullptr};
    pid_t pid;
    if (posix_spawn(&pid, path, nullptr, nullptr, argv, environ) == 0) {
      int status;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    return;
  }
}

// Puts the service's key (family, protocol, address, port), and with `full` its attributes,
// inside IPVS_CMD_ATTR_SERVICE.
int putService(nl_msg* msg, const IpvsService& s, bool full) {
  nlattr* nest = nla_nest_start(msg, IPVS_CMD_ATTR_SERVICE);
  if (nest == nullptr) return -NLE_NOMEM;
  if (nla_put_u16(msg, IPVS_SVC_ATTR_AF, afOf(s.address)) < 0) return -NLE_NOMEM;
  if (nla_put_u16(msg, IPVS_SVC_ATTR_PROTOCOL, s.protocol) < 0) return -NLE_NOMEM;
  if (nla_put(msg, IPVS_SVC_ATTR_ADDR, s.address.byteLength(), s.address.bytes()) < 0) return -NLE_NOMEM;
  // kernel: the port is in network byte order.
  if (nla_put_u16(msg, IPVS_SVC_ATTR_PORT, htons(s.port)) < 0) return -NLE_NOMEM;
  if (full) {
    // A scheduler name with a NUL would be cut short, one too long cut by the kernel: refused.
    if (!checkAttributeText("ipvs: scheduler", s.scheduler, IP_VS_SCHEDNAME_MAXLEN).ok()) return -NLE_INVAL;
    if (nla_put_string(msg, IPVS_SVC_ATTR_SCHED_NAME, s.scheduler.c_str()) < 0) return -NLE_NOMEM;
    // Never send the hashed flag: ip_vs_add_service would refuse to hash the service.
    ip_vs_flags flags{.flags = s.flags & ~kIpvsFlagHashed, .mask = 0xFFFFFFFF};
    if (nla_put(msg, IPVS_SVC_ATTR_FLAGS, sizeof(flags), &flags) < 0) return -NLE_NOMEM;
    if (nla_put_u32(msg, IPVS_SVC_ATTR_TIMEOUT, s.timeout) < 0) return -NLE_NOMEM;
    if (nla_put_u32(msg, IPVS_SVC_ATTR_NETMASK, s.netmask) < 0) return -NLE_NOMEM;
  }
  nla_nest_end(msg, nest);
  return 0;
}

int putDestination(nl_msg* msg, const IpvsDestination& d, bool full) {
  nlattr* nest = nla_nest_start(msg, IPVS_CMD_ATTR_DEST);
  if (nest == nullptr) return -NLE_NOMEM;
  if (nla_put(msg, IPVS_DEST_ATTR_ADDR, d.address.byteLength(), d.address.bytes()) < 0) return -NLE_NOMEM;
  if (nla_put_u16(msg, IPVS_DEST_ATTR_PORT, htons(d.port)) < 0) return -NLE_NOMEM;
  if (full) {
    if (nla_put_u32(msg, IPVS_DEST_ATTR_FWD_METHOD, d.forward_method) < 0) return -NLE_NOMEM;
    if (nla_put_u32(msg, IPVS_DEST_ATTR_WEIGHT, d.weight) < 0) return -NLE_NOMEM;
    if (nla_put_u32(msg, IPVS_DEST_ATTR_U_THRESH, d.upper_threshold) < 0) return -NLE_NOMEM;
    if (nla_put_u32(msg, IPVS_DEST_ATTR_L_THRESH, d.lower_threshold) < 0) return -NLE_NOMEM;
  }
  nla_nest_end(msg, nest);
  return 0;
}

IpAddress addressOf(const nlattr* attr, uint16_t af) {
  const IpFamily family = af == AF_INET6 ? IpFamily::kIPv6 : IpFamily::kIPv4;
  uint8_t bytes[16] = {};
  const int want = family == IpFamily::kIPv4 ? 4 : 16;
  std::memcpy(bytes, nla_data(attr), std::min(want, nla_len(attr)));
  return IpAddress::fromBytes(family, bytes);
}

// The genl payload's top-level attributes.
bool parseTop(const nlmsghdr* hdr, nlattr** tb) {
  return genlmsg_parse(const_cast<nlmsghdr*>(hdr), 0, tb, IPVS_CMD_ATTR_MAX, nullptr) >= 0;
}

bool parseService(nlattr* nest, IpvsService& out) {
  nlattr* a[IPVS_SVC_ATTR_MAX + 1] = {};
  if (nla_parse_nested(a, IPVS_SVC_ATTR_MAX, nest, nullptr) < 0) return false;
  if (a[IPVS_SVC_ATTR_AF] == nullptr || a[IPVS_SVC_ATTR_ADDR] == nullptr) return false;  // fwmark services
  const uint16_t af = nla_get_u16(a[IPVS_SVC_ATTR_AF]);
  out.address = addressOf(a[IPVS_SVC_ATTR_ADDR], af);
  if (a[IPVS_SVC_ATTR_PROTOCOL]) out.protocol = nla_get_u16(a[IPVS_SVC_ATTR_PROTOCOL]);
  if (a[IPVS_SVC_ATTR_PORT]) out.port = ntohs(nla_get_u16(a[IPVS_SVC_ATTR_PORT]));
  if (a[IPVS_SVC_ATTR_SCHED_NAME]) out.scheduler = nla_get_string(a[IPVS_SVC_ATTR_SCHED_NAME]);
  if (a[IPVS_SVC_ATTR_FLAGS] && nla_len(a[IPVS_SVC_ATTR_FLAGS]) >= static_cast<int>(sizeof(ip_vs_flags))) {
    ip_vs_flags flags;
    std::memcpy(&flags, nla_data(a[IPVS_SVC_ATTR_FLAGS]), sizeof(flags));
    out.flags = flags.flags;
  }
  if (a[IPVS_SVC_ATTR_TIMEOUT]) out.timeout = nla_get_u32(a[IPVS_SVC_ATTR_TIMEOUT]);
  if (a[IPVS_SVC_ATTR_NETMASK]) out.netmask = nla_get_u32(a[IPVS_SVC_ATTR_NETMASK]);
  return true;
}

bool parseDestination(nlattr* nest, uint16_t service_af, IpvsDestination& out) {
  nlattr* a[IPVS_DEST_ATTR_MAX + 1] = {};
  if (nla_parse_nested(a, IPVS_DEST_ATTR_MAX, nest, nullptr) < 0) return false;
  if (a[IPVS_DEST_ATTR_ADDR] == nullptr) return false;
  // kernel >= 4.3 reports the destination's own family (it may differ with tunnelling).
  const uint16_t af = a[IPVS_DEST_ATTR_ADDR_FAMILY] ? nla_get_u16(a[IPVS_DEST_ATTR_ADDR_FAMILY]) : service_af;
  out.address = addressOf(a[IPVS_DEST_ATTR_ADDR], af);
  if (a[IPVS_DEST_ATTR_PORT]) out.port = ntohs(nla_get_u16(a[IPVS_DEST_ATTR_PORT]));
  if (a[IPVS_DEST_ATTR_FWD_METHOD]) out.forward_method = nla_get_u32(a[IPVS_DEST_ATTR_FWD_METHOD]) & IP_VS_CONN_F_FWD_MASK;
  if (a[IPVS_DEST_ATTR_WEIGHT]) out.weight = nla_get_u32(a[IPVS_DEST_ATTR_WEIGHT]);
  if (a[IPVS_DEST_ATTR_U_THRESH]) out.upper_threshold = nla_get_u32(a[IPVS_DEST_ATTR_U_THRESH]);
  if (a[IPVS_DEST_ATTR_L_THRESH]) out.lower_threshold = nla_get_u32(a[IPVS_DEST_ATTR_L_THRESH]);
  if (a[IPVS_DEST_ATTR_ACTIVE_CONNS]) out.active_connections = nla_get_u32(a[IPVS_DEST_ATTR_ACTIVE_CONNS]);
  if (a[IPVS_DEST_ATTR_INACT_CONNS]) out.inactive_connections = nla_get_u32(a[IPVS_DEST_ATTR_INACT_CONNS]);
  if (a[IPVS_DEST_ATTR_PERSIST_CONNS]) out.persistent_connections = nla_get_u32(a[IPVS_DEST_ATTR_PERSIST_CONNS]);
  return true;
}

uint8_t commandOf(IpvsCommand c) {
  switch (c) {
    case IpvsCommand::kNewService:
      return IPVS_CMD_NEW_SERVICE;
    case IpvsCommand::kSetService:
      return IPVS_CMD_SET_SERVICE;
    case IpvsCommand::kDelService:
      return IPVS_CMD_DEL_SERVICE;
    case IpvsCommand::kNewDest:
      return IPVS_CMD_NEW_DEST;
    case IpvsCommand::kSetDest:
      return IPVS_CMD_SET_DEST;
    case IpvsCommand::kDelDest:
      return IPVS_CMD_DEL_DEST;
  }
  return IPVS_CMD_UNSPEC;
}

// What failed, named as design.md convention 5 asks:
// "ipvs: add real server 10.180.0.5:8080 to 10.96.0.10:53/UDP".
std::string describe(const IpvsOperation& op) {
  const std::string svc = op.service.toString();
  const std::string dst = op.destination.toString();
  switch (op.command) {
    case IpvsCommand::kNewService:
      return "ipvs: add virtual server " + svc + " (scheduler " + op.service.scheduler + ")";
    case IpvsCommand::kSetService:
      return "ipvs: update virtual server " + svc;
    case IpvsCommand::kDelService:
      return "ipvs: delete virtual server " + svc;
    case IpvsCommand::kNewDest:
      return "ipvs: add real server " + dst + " to " + svc;
    case IpvsCommand::kSetDest:
      return "ipvs: set weight " + std::to_string(op.destination.weight) + " of real server " + dst + " of " + svc;
    case IpvsCommand::kDelDest:
      return "ipvs: delete real server " + dst + " from " + svc;
  }
  return "ipvs";
}

// The kernel's bare errno, with IPVS's meaning where it has one.
std::string explain(const IpvsOperation& op, int err) {
  std::string out = errnoText(err);
  if (err == ESRCH) out += ": no such virtual server";
  if (err == ENOENT && (op.command == IpvsCommand::kNewService || op.command == IpvsCommand::kSetService)) {
    out += ": unknown scheduler \"" + op.service.scheduler + "\" (no module ip_vs_" + op.service.scheduler + ")";
  } else if (err == ENOENT) {
    out += ": no such real server";
  }
  if (err == EEXIST) out += ": already exists";
  return out;
}

}  // namespace

Result<std::unique_ptr<GenlIpvsClient>> GenlIpvsClient::open(bool load_module) {
  NlSocket sock(nl_socket_alloc());
  if (!sock) return Error("ipvs: cannot allocate a netlink socket", ENOMEM);
  if (int err = genl_connect(sock.get()); err < 0) return nlError("ipvs: connect generic netlink", err);
  int family = genl_ctrl_resolve(sock.get(), IPVS_GENL_NAME);
  if (family < 0 && load_module) {
    loadIpvsModule();
    family = genl_ctrl_resolve(sock.get(), IPVS_GENL_NAME);
  }
  if (family < 0) {
    return Error("ipvs: generic netlink family \"IPVS\" not found; is the ip_vs kernel module loaded?", ENOENT);
  }
  prepareBatchSocket(sock.get(), kTimeoutSeconds);
  return std::unique_ptr<GenlIpvsClient>(new GenlIpvsClient(std::move(sock), family));
}

NlMsg GenlIpvsClient::newRequest(uint8_t cmd) const {
  NlMsg msg(nlmsg_alloc_size(kRequestBytes));
  if (!msg) return msg;
  if (genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family_, 0, 0, cmd, IPVS_GENL_VERSION) == nullptr) {
    return NlMsg();
  }
  return msg;
}

Result<std::vector<IpvsService>> GenlIpvsClient::listServicesLocked() {
  NlMsg msg = newRequest(IPVS_CMD_GET_SERVICE);
  if (!msg) return Error("ipvs: list virtual servers: cannot build the request", ENOMEM);
  std::vector<IpvsService> out;
  auto status = runDump(
      sock_.get(), seq_, msg.get(), "ipvs: list virtual servers",
      [&](const nlmsghdr* hdr) {
        nlattr* tb[IPVS_CMD_ATTR_MAX + 1] = {};
        if (!parseTop(hdr, tb) || tb[IPVS_CMD_ATTR_SERVICE] == nullptr) return EPROTO;
        IpvsService s;
        if (parseService(tb[IPVS_CMD_ATTR_SERVICE], s)) out.push_back(std::move(s));
        return 0;
      },
      [&] { out.clear(); });
  if (!status.ok()) return status.error();
  return out;
}

Result<std::vector<IpvsService>> GenlIpvsClient::listServices() {
  std::lock_guard lock(mu_);
  return listServicesLocked();
}

Result<IpvsService> GenlIpvsClient::getService(const IpvsService& key) {
  std::lock_guard lock(mu_);
  return getServiceLocked(key);
}

Result<IpvsService> GenlIpvsClient::getServiceLocked(const IpvsService& key) {
  NlMsg msg = newRequest(IPVS_CMD_GET_SERVICE);
  if (!msg || putService(msg.get(), key, false) < 0) return Error("ipvs: get virtual server: cannot build the request", ENOMEM);
  std::optional<IpvsService> found;
  auto status = runGet(sock_.get(), seq_, msg.get(), "ipvs: get virtual server " + key.toString(), [&](const nlmsghdr* hdr) {
    nlattr* tb[IPVS_CMD_ATTR_MAX + 1] = {};
    if (!parseTop(hdr, tb) || tb[IPVS_CMD_ATTR_SERVICE] == nullptr) return EPROTO;
    IpvsService s;
    if (parseService(tb[IPVS_CMD_ATTR_SERVICE], s)) found = std::move(s);
    return 0;
  });
  if (!status.ok()) return status.error();
  if (!found) return errnoError("ipvs: get virtual server " + key.toString(), ESRCH);
  return *found;
}

Result<std::vector<IpvsDestination>> GenlIpvsClient::listDestinationsLocked(const IpvsService& service) {
  NlMsg msg = newRequest(IPVS_CMD_GET_DEST);
  if (!msg || putService(msg.get(), service, false) < 0) {
    return Error("ipvs: list real servers: cannot build the request", ENOMEM);
  }
  std::vector<IpvsDestination> out;
  const uint16_t af = afOf(service.address);
  auto status = runDump(
      sock_.get(), seq_, msg.get(), "ipvs: list real servers of " + service.toString(),
      [&](const nlmsghdr* hdr) {
        nlattr* tb[IPVS_CMD_ATTR_MAX + 1] = {};
        if (!parseTop(hdr, tb) || tb[IPVS_CMD_ATTR_DEST] == nullptr) return EPROTO;
        IpvsDestination d;
        if (parseDestination(tb[IPVS_CMD_ATTR_DEST], af, d)) out.push_back(std::move(d));
        return 0;
      },
      [&] { out.clear(); });
  if (!status.ok()) return status.error();
  // kernel: a destination dump of a missing service is an empty dump, not an error; tell the two
  // apart (only for empty answers).
  if (out.empty()) {
    if (auto exists = getServiceLocked(service); !exists.ok()) return exists.error();
  }
  return out;
}

Result<std::vector<IpvsDestination>> GenlIpvsClient::listDestinations(const IpvsService& service) {
  std::lock_guard lock(mu_);
  return listDestinationsLocked(service);
}

Result<std::vector<IpvsServiceWithDestinations>> GenlIpvsClient::listAll() {
  std::lock_guard lock(mu_);
  auto services = listServicesLocked();
  if (!services.ok()) return services.error();
  std::vector<IpvsServiceWithDestinations> out;
  out.reserve(services->size());
  for (auto& s : *services) {
    auto dests = listDestinationsLocked(s);
    if (!dests.ok()) {
      // Deleted between the two dumps: it is not there any more.
      if (dests.error().code == ESRCH) continue;
      return dests.error();
    }
    out.push_back({std::move(s), std::move(*dests)});
  }
  return out;
}

std::vector<Status> GenlIpvsClient::execute(const std::vector<IpvsOperation>& operations) {
  std::lock_guard lock(mu_);
  std::vector<Status> out(operations.size());
  AckedBatch batch;
  std::vector<size_t> sent;  // index in `operations` of each request of the batch
  sent.reserve(operations.size());
  for (size_t i = 0; i < operations.size(); ++i) {
    const IpvsOperation& op = operations[i];
    NlMsg msg = newRequest(commandOf(op.command));
    const bool dest = op.command == IpvsCommand::kNewDest || op.command == IpvsCommand::kSetDest ||
                      op.command == IpvsCommand::kDelDest;
    const bool full_service = op.command == IpvsCommand::kNewService || op.command == IpvsCommand::kSetService;
    bool built = msg && putService(msg.get(), op.service, full_service) == 0;
    if (built && dest) built = putDestination(msg.get(), op.destination, op.command != IpvsCommand::kDelDest) == 0;
    if (!built) {
      out[i] = Error(describe(op) + ": cannot build the request", ENOMEM);
      continue;
    }
    batch.append(msg.get());
    sent.push_back(i);
  }
  const std::vector<int> errs = batch.send(sock_.get(), seq_);
  for (size_t k = 0; k < sent.size(); ++k) {
    const int err = errs[k];
    if (err != 0) out[sent[k]] = Error(describe(operations[sent[k]]) + ": " + explain(operations[sent[k]], err), err);
  }
  return out;
}

Result<IpvsTimeouts> GenlIpvsClient::getTimeouts() {
  std::lock_guard lock(mu_);
  NlMsg msg = newRequest(IPVS_CMD_GET_CONFIG);
  if (!msg) return Error("ipvs: get timeouts: cannot build the request", ENOMEM);
  IpvsTimeouts out;
  auto status = runGet(sock_.get(), seq_, msg.get(), "ipvs: get timeouts", [&](const nlmsghdr* hdr) {
    nlattr* tb[IPVS_CMD_ATTR_MAX + 1] = {};
    if (!parseTop(hdr, tb)) return EPROTO;
    if (tb[IPVS_CMD_ATTR_TIMEOUT_TCP]) out.tcp = nla_get_u32(tb[IPVS_CMD_ATTR_TIMEOUT_TCP]);
    if (tb[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN]) out.tcp_fin = nla_get_u32(tb[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN]);
    if (tb[IPVS_CMD_ATTR_TIMEOUT_UDP]) out.udp = nla_get_u32(tb[IPVS_CMD_ATTR_TIMEOUT_UDP]);
    return 0;
  });
  if (!status.ok()) return status.error();
  return out;
}

Status GenlIpvsClient::setTimeouts(const IpvsTimeouts& timeouts) {
  std::lock_guard lock(mu_);
  NlMsg msg = newRequest(IPVS_CMD_SET_CONFIG);
  if (!msg || nla_put_u32(msg.get(), IPVS_CMD_ATTR_TIMEOUT_TCP, timeouts.tcp) < 0 ||
      nla_put_u32(msg.get(), IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, timeouts.tcp_fin) < 0 ||
      nla_put_u32(msg.get(), IPVS_CMD_ATTR_TIMEOUT_UDP, timeouts.udp) < 0) {
    return Error("ipvs: set timeouts: cannot build the request", ENOMEM);
  }
  AckedBatch batch;
  batch.append(msg.get());
  if (int err = batch.send(sock_.get(), seq_)[0]; err != 0) return errnoError("ipvs: set timeouts", err);
  return okStatus();
}

Status GenlIpvsClient::flush() {
  std::lock_guard lock(mu_);
  NlMsg msg = newRequest(IPVS_CMD_FLUSH);
  if (!msg) return Error("ipvs: flush: cannot build the request", ENOMEM);
  AckedBatch batch;
  batch.append(msg.get());
  if (int err = batch.send(sock_.get(), seq_)[0]; err != 0) return errnoError("ipvs: flush", err);
  return okStatus();
}

}  // namespace kproxy::netlink
