// LibIpSetClient: IpSetClient over libipset 7.17 (Debian 12), the library the `ipset` tool is
// built on: one ipset_session (ipset_session_init's two-argument form: an output function and
// its argument) whose printed output (`ipset save` format) and error reports are captured, not
// written to stdout/stderr. Adds and deletes run in libipset's restore mode, so the members of
// one set go to the kernel many per message, as `ipset restore` sends them; a failing member is
// found by the line number the kernel reports and the rest of the batch is sent again.
//
// libipset keeps process-wide state (its set-type table and a cache of set names and types), so
// every LibIpSetClient of a process shares one mutex.
#pragma once

#include <memory>
#include <string>

#include "netlink/handles.h"
#include "netlink/ipset.h"

namespace kproxy::netlink {

class LibIpSetClient final : public IpSetClient {
 public:
  static Result<std::unique_ptr<LibIpSetClient>> open();

  // netlink::IpSetClient
  Status create(const IpSetSpec& spec) override;
  Status destroy(std::string_view name) override;
  Status flush(std::string_view name) override;
  Status swap(std::string_view a, std::string_view b) override;
  std::vector<Status> addMembers(std::string_view set, const std::vector<std::string>& members) override;
  std::vector<Status> deleteMembers(std::string_view set, const std::vector<std::string>& members) override;
  Result<bool> test(std::string_view set, std::string_view member) override;
  Result<IpSetContent> list(std::string_view name) override;
  Result<std::vector<std::string>> listNames() override;

  // `ipset save` output of one set ("" = every set), as the kernel reports it.
  Result<std::string> save(std::string_view name = "");

  // libipset's output function: appends to the capture buffer.
  void appendOutput(const char* text, size_t len) { output_.append(text, len); }

 private:
  LibIpSetClient() = default;

  // Prepares the session for one command: report and data cleared, -exist as asked.
  // Returns the session to use (a fresh one after a failure: pointers taken before are stale).
  ipset_session* begin(bool exist);
  Error failure(std::string_view context) const;
  std::vector<Status> changeMembers(std::string_view set, const std::vector<std::string>& members, bool add);
  // One restore-mode batch of members[from..]; fills `out`; returns the index at which a retry
  // must start (members.size() when done), or nullopt when the batch failed without telling where.
  std::optional<size_t> batch(const std::string& set, const std::vector<std::string>& members, size_t from, bool add,
                              std::vector<Status>& out);
  Result<std::string> saveLocked(const std::string& name);

  IpsetSession session_;
  std::string output_;
  mutable bool reset_needed_ = false;  // the last command failed: begin() opens a fresh session
};

// Parses `ipset save` text: every set with its parameters and members (kernel-only parameters
// such as bucketsize and initval are dropped).
std::vector<IpSetContent> parseIpsetSave(std::string_view text);

}  // namespace kproxy::netlink
