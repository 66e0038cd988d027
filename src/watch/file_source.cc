#include "src/watch/file_source.h"

#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>

#include "src/util/unique_handle.h"

namespace kproxy::watch {

namespace {

Result<api::ManifestFile> readManifest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(path + ": cannot open; keeping the previous objects");
  return api::ManifestFile{.name = path, .bytes = std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())};
}

void append(api::ClusterState& to, const api::ClusterState& from) {
  to.services.insert(to.services.end(), from.services.begin(), from.services.end());
  to.endpoint_slices.insert(to.endpoint_slices.end(), from.endpoint_slices.begin(), from.endpoint_slices.end());
  to.nodes.insert(to.nodes.end(), from.nodes.begin(), from.nodes.end());
  to.service_cidrs.insert(to.service_cidrs.end(), from.service_cidrs.begin(), from.service_cidrs.end());
}

}  // namespace

FileObjectSource::FileObjectSource(std::vector<std::string> paths, std::string node_name, ObjectEventSink& sink,
                                   ErrorReporter report_error)
    : paths_(std::move(paths)),
      node_name_(std::move(node_name)),
      sink_(sink),
      report_error_(std::move(report_error)),
      files_(paths_.size()) {}

std::string FileObjectSource::fingerprint(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return "missing";
  return std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

bool FileObjectSource::decodeTogether() {
  std::vector<api::ManifestFile> files;
  for (const auto& p : paths_) {
    auto file = readManifest(p);
    if (!file.ok()) {
      report_error_(file.error().message);
      return false;
    }
    files.push_back(std::move(*file));
  }
  auto decoded = api::decodeManifests(files);
  for (const auto& e : decoded.errors) report_error_(e.message);
  if (decoded.syntax_error) {
    report_error_("manifests could not be parsed; keeping the previous objects until they are fixed");
    return false;
  }
  emitDifference(state_, decoded.state, sink_, node_name_);
  state_ = std::move(decoded.state);
  // The per-file results are stale now; the next change decodes everything again unless no
  // file holds legacy Endpoints any more.
  for (auto& f : files_) f.decoded.reset();
  return true;
}

bool FileObjectSource::poll() {
  bool any_new = !synced_;
  std::vector<size_t> changed;  // read again: new fingerprint, or no good decode kept
  for (size_t i = 0; i < paths_.size(); ++i) {
    std::string print = fingerprint(paths_[i]);
    if (print != files_[i].fingerprint) any_new = true;
    if (print != files_[i].fingerprint || !files_[i].decoded) changed.push_back(i);
    files_[i].fingerprint = std::move(print);
  }
  if (!any_new) return false;
  // On failure the changed files keep no decode, so that the next change reads them again.
  auto keep_previous = [&] {
    for (size_t i : changed) files_[i].decoded.reset();
    return false;
  };

  // Decode the changed files one by one.
  std::vector<std::optional<api::DecodeResult>> fresh(paths_.size());
  bool legacy = false;
  for (size_t i : changed) {
    auto file = readManifest(paths_[i]);
    if (!file.ok()) {
      report_error_(file.error().message);
      return keep_previous();
    }
    std::vector<api::ManifestFile> one;
    one.push_back(std::move(*file));
    fresh[i] = api::decodeManifests(one);
    legacy = legacy || fresh[i]->legacy_endpoints;
  }
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (!fresh[i] && files_[i].decoded) legacy = legacy || files_[i].decoded->legacy_endpoints;
  }
  if (legacy && paths_.size() > 1) {
    if (!decodeTogether()) return keep_previous();
  } else {
    bool syntax_error = false;
    for (size_t i : changed) {
      for (const auto& e : fresh[i]->errors) report_error_(e.message);
      syntax_error = syntax_error || fresh[i]->syntax_error;
    }
    if (syntax_error) {
      report_error_("manifests could not be parsed; keeping the previous objects until they are fixed");
      return keep_previous();
    }
    for (size_t i : changed) files_[i].decoded = std::move(fresh[i]);
    api::ClusterState next;
    for (const auto& f : files_) append(next, f.decoded->state);
    emitDifference(state_, next, sink_, node_name_);
    state_ = std::move(next);
  }
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
