// The offline twin of a mode's proxier, for `kproxy render` and `kproxy trace`: one long-lived
// proxier without a kernel that syncs a sequence of snapshots the way the live proxier would,
// then prints what the last sync left programmed (in the mode's native tools' formats) or traces
// a packet through it. Pure: no clock, no kernel, no files.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "modes/common/trace.h"
#include "src/tracker/snapshot.h"
#include "src/util/ip.h"
#include "src/util/result.h"

namespace kproxy::modes {

// Where a render goes: named sections (one file each with --output-dir; on stdout each introduced
// by its header line when it has one), written in pieces (a large payload is never copied).
class RenderSink {
 public:
  virtual ~RenderSink() = default;
  virtual void section(std::string_view file_name, std::string_view stdout_header) = 0;
  virtual void write(std::string_view piece) = 0;
};

class OfflineProxier {
 public:
  virtual ~OfflineProxier() = default;
  // One sync. `full`: the live proxier would sync fully here (its first sync, this node's labels
  // changed, render --full-sync). Each sync is taken to start long enough after the previous one
  // that no rate limit or throttle of the mode is in the way.
  virtual void sync(const tracker::ProxySnapshot& snapshot, const tracker::UpdateResult& changes, bool full) = 0;
  // What the last sync left programmed.
  virtual void render(RenderSink& out) const = 0;
  // What the last sync sends to the kernel (render --transaction), for modes that send
  // transactions; others answer with an error.
  virtual Status renderTransaction(RenderSink&) const { return Error("--transaction: only in nftables mode"); }
  // Bytes render() writes (render --timings).
  virtual size_t renderedSize() const = 0;
  // A tracer of the programmed state; `local_addresses` are this node's (LOCAL address type,
  // fib ... type local). Errors say why the state cannot be traced.
  virtual Result<std::unique_ptr<tracing::Tracer>> tracer(const std::vector<IpAddress>& local_addresses) const = 0;
};

}  // namespace kproxy::modes
