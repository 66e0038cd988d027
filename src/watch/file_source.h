// FileObjectSource: an informer over manifest files (`kproxy run --objects FILE`): reads them at
// start, then re-reads them when they change and emits the difference as object events. Changes
// are noticed at once through inotify (a file closed after writing, or renamed into place); a
// slow fingerprint check (size, mtime, inode) catches what inotify cannot see. Only the files that
// changed are read and decoded again (a one-endpoint edit of a small file must not re-decode a
// 50 MB cluster dump beside it); the others' objects are kept from their last decode. A file that
// cannot be parsed at all keeps its previous objects (a half-written file must not delete every
// service); objects with errors are reported and left out, everything else is applied.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
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
  // One per path: what the file looked like when last read, and what it decoded to.
  struct FileState {
    std::string fingerprint;
    std::optional<api::DecodeResult> decoded;  // nullopt until it was read without a syntax error
  };
  static std::string fingerprint(const std::string& path);
  // Decodes every file together (legacy Endpoints: mirroring looks at every file's slices).
  bool decodeTogether();

  std::vector<std::string> paths_;
  std::string node_name_;
  ObjectEventSink& sink_;
  ErrorReporter report_error_;
  std::vector<FileState> files_;
  api::ClusterState state_;
  bool synced_ = false;
};

}  // namespace kproxy::watch
