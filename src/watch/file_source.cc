#include "src/watch/file_source.h"

#include <sys/stat.h>

#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>

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
  std::mutex mu;
  std::condition_variable_any cv;
  while (!stop.stop_requested()) {
    poll();
    std::unique_lock lock(mu);
    cv.wait_for(lock, stop, interval, [] { return false; });
  }
}

}  // namespace kproxy::watch
