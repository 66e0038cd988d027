#include "netlink/ipset_lib.h"

#include <libipset/args.h>
#include <libipset/parse.h>
#include <libipset/session.h>
#include <libipset/types.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>

#include "netlink/errors.h"
#include "src/util/safe_text.h"

namespace kproxy::netlink {
namespace {

// libipset's type table and set cache are process-wide.
std::mutex& libraryMutex() {
  static std::mutex mu;
  return mu;
}

int captureOutput(ipset_session* /*session*/, void* p, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[512];
  va_list copy;
  va_copy(copy, ap);
  int n = std::vsnprintf(small, sizeof(small), fmt, copy);
  va_end(copy);
  auto* client = static_cast<LibIpSetClient*>(p);
  if (n >= 0 && static_cast<size_t>(n) < sizeof(small)) {
    client->appendOutput(small, static_cast<size_t>(n));
  } else if (n >= 0) {
    std::string big(static_cast<size_t>(n) + 1, '\0');
    std::vsnprintf(big.data(), big.size(), fmt, ap);
    client->appendOutput(big.data(), static_cast<size_t>(n));
  }
  va_end(ap);
  return n;
}

// Parses one create option with the parser the `ipset` tool uses for that keyword.
int parseKeyword(ipset_session* session, ipset_keywords keyword, const std::string& value) {
  const ipset_arg* arg = ipset_keyword(keyword);
  if (arg == nullptr || arg->parse == nullptr) return -1;
  return arg->parse(session, arg->opt, value.c_str());
}

// "Error in line 12: ..." -> 12.
std::optional<uint32_t> errorLine(std::string_view report) {
  constexpr std::string_view kPrefix = "Error in line ";
  auto pos = report.find(kPrefix);
  if (pos == std::string_view::npos) return std::nullopt;
  uint32_t line = 0;
  bool any = false;
  for (size_t i = pos + kPrefix.size(); i < report.size() && report[i] >= '0' && report[i] <= '9'; ++i) {
    line = line * 10 + static_cast<uint32_t>(report[i] - '0');
    any = true;
  }
  if (!any) return std::nullopt;
  return line;
}

std::string_view stripLinePrefix(std::string_view report) {
  if (report.rfind("Error in line ", 0) == 0) {
    auto colon = report.find(": ");
    if (colon != std::string_view::npos) report.remove_prefix(colon + 2);
  }
  return report;
}

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<LibIpSetClient>> LibIpSetClient::open() {
  std::lock_guard lock(libraryMutex());
  static std::once_flag types_loaded;
  std::call_once(types_loaded, [] { ipset_load_types(); });
  std::unique_ptr<LibIpSetClient> client(new LibIpSetClient());
  client->session_.reset(ipset_session_init(captureOutput, client.get()));
  if (!client->session_) return Error("ipset: cannot create a libipset session", ENOMEM);
  return client;
}

ipset_session* LibIpSetClient::begin(bool exist) {
  if (reset_needed_) {
    // A failed command can leave libipset 7.17's session half-way through it (kernel: a failed
    // save of a missing set made the next destroy report "Internal protocol error" instead of
    // "does not exist"); a fresh session answers the next command on its own.
    if (ipset_session* fresh = ipset_session_init(captureOutput, this)) {
      session_.reset(fresh);
      // ipset_session_fini() also empties libipset's process-wide type list (ipset_cache_fini).
      ipset_load_types();
    }
    reset_needed_ = false;
  }
  ipset_session* s = session_.get();
  ipset_session_report_reset(s);
  ipset_data_reset(ipset_session_data(s));
  if (exist) {
    ipset_envopt_set(s, IPSET_ENV_EXIST);
  } else {
    ipset_envopt_unset(s, IPSET_ENV_EXIST);
  }
  ipset_envopt_unset(s, IPSET_ENV_LIST_SETNAME);
  ipset_session_output(s, IPSET_LIST_NONE);
  output_.clear();
  return s;
}

namespace {

// Member text (an address, "addr,proto:port", a CIDR): far below this in any real set.
constexpr size_t kMaxMemberText = 256;

Status checkSetName(std::string_view name) { return checkAttributeText("ipset: set name", name, IPSET_MAXNAMELEN); }

}  // namespace

Error LibIpSetClient::failure(std::string_view context) const {
  reset_needed_ = true;
  const char* msg = ipset_session_report_msg(session_.get());
  return ipsetError(context, msg != nullptr ? stripLinePrefix(msg) : "");
}

Status LibIpSetClient::create(const IpSetSpec& spec) {
  std::lock_guard lock(libraryMutex());
  ipset_session* s = session_.get();
  const std::string what = "ipset: " + spec.createLine() + " -exist";
  if (Status ok = checkSetName(spec.name); !ok.ok()) return ok;
  s = begin(true);
  if (ipset_parse_setname(s, IPSET_SETNAME, spec.name.c_str()) < 0 ||
      ipset_parse_typename(s, IPSET_OPT_TYPENAME, spec.type.c_str()) < 0) {
    return failure(what);
  }
  if (ipset_type_get(s, IPSET_CMD_CREATE) == nullptr) return failure(what);
  if (spec.isHash()) {
    if (parseKeyword(s, IPSET_ARG_FAMILY, spec.family == IpFamily::kIPv4 ? "inet" : "inet6") < 0 ||
        parseKeyword(s, IPSET_ARG_HASHSIZE, std::to_string(spec.hash_size)) < 0 ||
        parseKeyword(s, IPSET_ARG_MAXELEM, std::to_string(spec.max_elem)) < 0) {
      return failure(what);
    }
  } else if (!spec.port_range.empty()) {
    if (parseKeyword(s, IPSET_ARG_PORTRANGE, spec.port_range) < 0) return failure(what);
  }
  if (ipset_cmd(s, IPSET_CMD_CREATE, 0) < 0) return failure(what);
  return okStatus();
}

Status LibIpSetClient::destroy(std::string_view name) {
  std::lock_guard lock(libraryMutex());
  ipset_session* s = session_.get();
  const std::string n(name);
  if (Status ok = checkSetName(n); !ok.ok()) return ok;
  s = begin(false);
  if (ipset_parse_setname(s, IPSET_SETNAME, n.c_str()) < 0 || ipset_cmd(s, IPSET_CMD_DESTROY, 0) < 0) {
    return failure("ipset: destroy " + n);
  }
  return okStatus();
}

Status LibIpSetClient::flush(std::string_view name) {
  std::lock_guard lock(libraryMutex());
  ipset_session* s = session_.get();
  const std::string n(name);
  if (Status ok = checkSetName(n); !ok.ok()) return ok;
  s = begin(false);
  if (ipset_parse_setname(s, IPSET_SETNAME, n.c_str()) < 0 || ipset_cmd(s, IPSET_CMD_FLUSH, 0) < 0) {
    return failure("ipset: flush " + n);
  }
  return okStatus();
}

Status LibIpSetClient::swap(std::string_view a, std::string_view b) {
  std::lock_guard lock(libraryMutex());
  ipset_session* s = session_.get();
  const std::string from(a), to(b);
  if (Status ok = checkSetName(from); !ok.ok()) return ok;
  if (Status ok = checkSetName(to); !ok.ok()) return ok;
  s = begin(false);
  if (ipset_parse_setname(s, IPSET_SETNAME, from.c_str()) < 0 ||
      ipset_parse_setname(s, IPSET_OPT_SETNAME2, to.c_str()) < 0 || ipset_cmd(s, IPSET_CMD_SWAP, 0) < 0) {
    return failure("ipset: swap " + from + " " + to);
  }
  return okStatus();
}

std::optional<size_t> LibIpSetClient::batch(const std::string& set, const std::vector<std::string>& members,
                                            size_t from, bool add, std::vector<Status>& out) {
  ipset_session* s = session_.get();
  const enum ipset_cmd cmd = add ? IPSET_CMD_ADD : IPSET_CMD_DEL;
  const std::string verb = add ? "ipset: add " : "ipset: del ";
  s = begin(true);
  for (size_t i = from; i < members.size(); ++i) {
    // Line numbers are 1-based positions within this batch.
    const uint32_t line = static_cast<uint32_t>(i - from + 1);
    bool ok = ipset_parse_setname(s, IPSET_SETNAME, set.c_str()) >= 0;
    const ipset_type* type = ok ? ipset_type_get(s, cmd) : nullptr;
    if (type == nullptr) {
      // The set itself is unusable (missing): every member fails the same way.
      const Error e = failure(verb + set);
      for (size_t k = from; k < members.size(); ++k) out[k] = e.wrap(members[k]);
      // Drop what was buffered but never sent.
      ipset_commit(s);
      return members.size();
    }
    if (ipset_parse_elem(s, type->last_elem_optional, members[i].c_str()) < 0) {
      // A member libipset cannot parse: it alone fails; flush the batch so far and go on after it.
      out[i] = failure(verb + set + " " + members[i]);
      ipset_session_report_reset(s);
      ipset_data_reset(ipset_session_data(s));
      if (ipset_commit(s) < 0) break;
      return i + 1;
    }
    if (ipset_cmd(s, cmd, line) < 0) break;
  }
  if (ipset_session_report_msg(s) == nullptr || *ipset_session_report_msg(s) == '\0') {
    if (ipset_commit(s) >= 0) return members.size();
  }
  // A kernel error: the message names the failing line; members before it were applied, those
  // after it in the same message were not.
  const char* report = ipset_session_report_msg(s);
  auto line = errorLine(report != nullptr ? report : "");
  if (!line || *line == 0 || from + *line - 1 >= members.size()) return std::nullopt;
  const size_t failed = from + *line - 1;
  out[failed] = failure(verb + set + " " + members[failed]);
  return failed + 1;
}

std::vector<Status> LibIpSetClient::changeMembers(std::string_view set, const std::vector<std::string>& members,
                                                  bool add) {
  std::vector<Status> out(members.size());
  if (members.empty()) return out;
  // The writer's own guard: a name or member with a NUL would be cut short by libipset's C
  // strings, and a control character has no place in either.
  if (Status name_ok = checkSetName(set); !name_ok.ok()) {
    for (auto& o : out) o = name_ok.error();
    return out;
  }
  bool all_ok = true;
  for (const auto& m : members) all_ok = all_ok && checkAttributeText("ipset: member", m, kMaxMemberText).ok();
  if (!all_ok) {
    std::vector<std::string> good;
    std::vector<size_t> where;
    for (size_t i = 0; i < members.size(); ++i) {
      if (Status ok = checkAttributeText("ipset: member", members[i], kMaxMemberText); !ok.ok()) {
        out[i] = ok.error();
      } else {
        good.push_back(members[i]);
        where.push_back(i);
      }
    }
    std::vector<Status> good_out = changeMembers(set, good, add);
    for (size_t k = 0; k < where.size(); ++k) out[where[k]] = std::move(good_out[k]);
    return out;
  }
  std::lock_guard lock(libraryMutex());
  const std::string name(set);
  // A set destroyed and re-created behind libipset's back would leave a stale type in its cache;
  // one HEADER request per call reads it afresh.
  ipset_cache_del(name.c_str());
  size_t from = 0;
  while (from < members.size()) {
    auto next = batch(name, members, from, add, out);
    if (!next) {
      // No line number: one member at a time (restore mode off), each with its own answer.
      ipset_session* s = session_.get();
      const enum ipset_cmd cmd = add ? IPSET_CMD_ADD : IPSET_CMD_DEL;
      for (size_t i = from; i < members.size(); ++i) {
        s = begin(true);
        const ipset_type* type = nullptr;
        if (ipset_parse_setname(s, IPSET_SETNAME, name.c_str()) < 0 || (type = ipset_type_get(s, cmd)) == nullptr ||
            ipset_parse_elem(s, type->last_elem_optional, members[i].c_str()) < 0 || ipset_cmd(s, cmd, 0) < 0) {
          out[i] = failure((add ? "ipset: add " : "ipset: del ") + name + " " + members[i]);
        }
      }
      break;
    }
    from = *next;
  }
  return out;
}

std::vector<Status> LibIpSetClient::addMembers(std::string_view set, const std::vector<std::string>& members) {
  return changeMembers(set, members, true);
}

std::vector<Status> LibIpSetClient::deleteMembers(std::string_view set, const std::vector<std::string>& members) {
  return changeMembers(set, members, false);
}

Result<bool> LibIpSetClient::test(std::string_view set, std::string_view member) {
  std::lock_guard lock(libraryMutex());
  ipset_session* s = session_.get();
  const std::string name(set), m(member);
  const std::string what = "ipset: test " + name + " " + m;
  if (Status ok = checkSetName(name); !ok.ok()) return ok.error();
  if (Status ok = checkAttributeText("ipset: member", m, kMaxMemberText); !ok.ok()) return ok.error();
  s = begin(false);
  ipset_cache_del(name.c_str());
  if (ipset_parse_setname(s, IPSET_SETNAME, name.c_str()) < 0) return failure(what);
  const ipset_type* type = ipset_type_get(s, IPSET_CMD_TEST);
  if (type == nullptr) return failure(what);
  if (ipset_parse_elem(s, type->last_elem_optional, m.c_str()) < 0) return failure(what);
  if (ipset_cmd(s, IPSET_CMD_TEST, 0) >= 0) return true;
  const char* report = ipset_session_report_msg(s);
  // kernel: IPSET_ERR_EXIST on a test means "not in the set".
  if (report != nullptr && std::strstr(report, "is NOT in set") != nullptr) return false;
  return failure(what);
}

Result<std::string> LibIpSetClient::saveLocked(const std::string& name) {
  ipset_session* s = session_.get();
  s = begin(false);
  ipset_session_output(s, IPSET_LIST_SAVE);
  if (!name.empty() && ipset_parse_setname(s, IPSET_SETNAME, name.c_str()) < 0) return failure("ipset: save " + name);
  if (ipset_cmd(s, IPSET_CMD_SAVE, 0) < 0) return failure("ipset: save " + name);
  std::string out = std::move(output_);
  output_.clear();
  return out;
}

Result<std::string> LibIpSetClient::save(std::string_view name) {
  std::lock_guard lock(libraryMutex());
  return saveLocked(std::string(name));
}

Result<IpSetContent> LibIpSetClient::list(std::string_view name) {
  std::lock_guard lock(libraryMutex());
  auto text = saveLocked(std::string(name));
  if (!text.ok()) return text.error();
  auto sets = parseIpsetSave(*text);
  for (auto& set : sets) {
    if (set.spec.name == name) return std::move(set);
  }
  return errnoError("ipset: list " + std::string(name), ENOENT);
}

Result<std::vector<std::string>> LibIpSetClient::listNames() {
  std::lock_guard lock(libraryMutex());
  ipset_session* s = session_.get();
  s = begin(false);
  ipset_envopt_set(s, IPSET_ENV_LIST_SETNAME);
  ipset_session_output(s, IPSET_LIST_PLAIN);
  if (ipset_cmd(s, IPSET_CMD_LIST, 0) < 0) return failure("ipset: list -n");
  ipset_envopt_unset(s, IPSET_ENV_LIST_SETNAME);
  std::vector<std::string> names;
  size_t pos = 0;
  while (pos < output_.size()) {
    size_t nl = output_.find('\n', pos);
    if (nl == std::string::npos) nl = output_.size();
    if (nl > pos) names.push_back(output_.substr(pos, nl - pos));
    pos = nl + 1;
  }
  output_.clear();
  return names;
}

std::vector<IpSetContent> parseIpsetSave(std::string_view text) {
  std::vector<IpSetContent> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const auto w = words(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (w.size() >= 3 && w[0] == "create") {
      IpSetContent set;
      set.spec.name = std::string(w[1]);
      set.spec.type = std::string(w[2]);
      for (size_t i = 3; i + 1 < w.size(); ++i) {
        if (w[i] == "family") {
          set.spec.family = w[i + 1] == "inet6" ? IpFamily::kIPv6 : IpFamily::kIPv4;
          ++i;
        } else if (w[i] == "hashsize") {
          set.spec.hash_size = std::stoi(std::string(w[++i]));
        } else if (w[i] == "maxelem") {
          set.spec.max_elem = std::stoi(std::string(w[++i]));
        } else if (w[i] == "range") {
          set.spec.port_range = std::string(w[++i]);
        }
      }
      out.push_back(std::move(set));
    } else if (w.size() >= 3 && w[0] == "add") {
      for (auto it = out.rbegin(); it != out.rend(); ++it) {
        if (it->spec.name == w[1]) {
          it->members.emplace_back(w[2]);
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace kproxy::netlink
