#include "src/watch/file_source.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>

#include "src/util/unique_handle.h"

namespace kproxy::watch {

FileObjectSource::FileObjectSource(std::vector<std::string> paths, std::string node_name, ObjectEventSink& sink,
                                   ErrorReporter report_error)
    : paths_(std::move(paths)), node_name_(std::move(node_name)), sink_(sink), report_error_(std::move(report_error)) {}

std::string FileObjectSource::fingerprint() const {
  std::string fp;
  for (const auto& p : paths_) {
    struct stat st {};
    if (stat(p.c_str(), &st) != 0) {
      fp += p + ":missing;";
      continue;
    }
    fp += p + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
          std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ";";
  }
  return fp;
}

bool FileObjectSource::poll() {
  std::string fp = fingerprint();
  if (synced_ && fp == last_fingerprint_) return false;
  last_fingerprint_ = fp;
  std::vector<api::ManifestFile> files;
  for (const auto& p : paths_) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      report_error_(p + ": cannot open; keeping the previous objects");
      return false;
    }
    files.push_back({p, std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())});
  }
  auto decoded = api::decodeManifests(files);
  for (const auto& e : decoded.errors) report_error_(e.message);
  if (decoded.syntax_error) {
    report_error_("manifests could not be parsed; keeping the previous objects until they are fixed");
    return false;
  }
  emitDifference(state_, decoded.state, sink_, node_name_);
  state_ = std::move(decoded.state);
  if (!synced_) {
    synced_ = true;
    sink_.onSynced(ObjectKind::kService);
    sink_.onSynced(ObjectKind::kEndpointSlice);
    sink_.onSynced(ObjectKind::kNode);
  }
  return true;
}

void FileObjectSource::run(std::stop_token stop, std::chrono::milliseconds interval) {
  // The folders are watched, not the files: editors and `mv` replace a file by renaming another
  // over it. Only completed writes count (IN_CLOSE_WRITE, IN_MOVED_TO), never IN_MODIFY, so a
  // half-written file is not read.
  UniqueFd watch(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  std::set<std::string> dirs;
  for (const auto& p : paths_) {
    std::filesystem::path parent = std::filesystem::path(p).parent_path();
    dirs.insert(parent.empty() ? "." : parent.string());
  }
  bool watching = static_cast<bool>(watch);
  for (const auto& d : dirs) {
    if (watching && inotify_add_watch(watch.get(), d.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE) < 0) {
      watching = false;
    }
  }
  if (!watching) report_error_("objects: inotify unavailable; checking the files every second");
  // Stop is noticed within this slice; a file event wakes the wait at once.
  constexpr int kSliceMs = 100;
  auto next_check = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    if (std::chrono::steady_clock::now() >= next_check) {
      poll();
      next_check = std::chrono::steady_clock::now() + interval;
    }
    if (!watching) {
      std::mutex mu;
      std::condition_variable_any cv;
      std::unique_lock lock(mu);
      cv.wait_for(lock, stop, std::chrono::milliseconds(kSliceMs), [] { return false; });
      continue;
    }
    pollfd pfd{watch.get(), POLLIN, 0};
    if (::poll(&pfd, 1, kSliceMs) > 0 && (pfd.revents & POLLIN)) {
      alignas(inotify_event) char buf[4096];
      while (read(watch.get(), buf, sizeof(buf)) > 0) {
      }
      next_check = std::chrono::steady_clock::now();  // poll() compares fingerprints: unrelated files cost a stat
    }
  }
}

}  // namespace kproxy::watch
