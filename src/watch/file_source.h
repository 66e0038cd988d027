// FileObjectSource: an informer over manifest files (`kproxy run --objects FILE`): reads them at
// start, then re-reads them when they change and emits the difference as object events. Changes
// are noticed at once through inotify (a file closed after writing, or renamed into place); a
// slow fingerprint check (size, mtime, inode) catches what inotify cannot see. A file
// that cannot be parsed at all keeps the previous state (a half-written file must not delete every
// service); objects with errors are reported and left out, everything else is applied.
#pragma once

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "src/api/decode.h"
#include "src/watch/object_events.h"

namespace kproxy::watch {

class FileObjectSource {
 public:
  using ErrorReporter = std::function<void(const std::string&)>;
  FileObjectSource(std::vector<std::string> paths, std::string node_name, ObjectEventSink& sink,
                   ErrorReporter report_error);

  // Reads the files if they changed since the last poll; emits events. Returns true when
  // something was read (changed or first time).
  bool poll();
  // Watches the files until stopped: inotify events trigger a poll at once, and a poll runs at
  // least every `interval` anyway.
  void run(std::stop_token stop, std::chrono::milliseconds interval = std::chrono::seconds(1));

 private:
  std::string fingerprint() const;

  std::vector<std::string> paths_;
  std::string node_name_;
  ObjectEventSink& sink_;
  ErrorReporter report_error_;
  std::string last_fingerprint_;
  api::ClusterState state_;
  bool synced_ = false;
};

}  // namespace kproxy::watch
