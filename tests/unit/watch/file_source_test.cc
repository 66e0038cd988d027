// FileObjectSource (`kproxy run --objects`): the first read lists everything and reports the
// kinds synced; a later change is emitted as the difference; a file that does not parse keeps the
// previous objects; only the files that changed are read again; legacy Endpoints are mirrored
// only when no file has a slice of their service; and run() notices a completed write through
// inotify, without waiting for its periodic check.
#include "src/watch/file_source.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/unit/watch/recording_sink.h"

namespace kproxy::watch {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A Service whose port is its resourceVersion, so each version differs in content (identical
// content is no event).
std::string service(const std::string& name, const std::string& rv) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: ns, resourceVersion: \"" + rv +
         "\"}\nspec:\n  clusterIP: 172.30.0.1\n  ports: [{name: p, port: " + std::to_string(80 + std::stoi(rv)) +
         ", protocol: TCP}]\n";
}

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("kproxy-file-source-" + std::to_string(getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "objects.yaml").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Writes through a temporary file renamed into place, as editors and config tools do.
  void replace(const std::string& text) {
    const fs::path tmp = dir_ / ".objects.tmp";
    std::ofstream(tmp) << text;
    fs::rename(tmp, path_);
  }

  fs::path dir_;
  std::string path_;
  testing::RecordingSink sink_;
  std::vector<std::string> errors_;
};

TEST_F(FileSourceTest, EmitsTheDifferenceAndKeepsTheLastGoodState) {
  replace(service("a", "1"));
  FileObjectSource source({path_}, "node-a", sink_, [this](const std::string& e) { errors_.push_back(e); });
  ASSERT_TRUE(source.poll());
  EXPECT_EQ(sink_.take(), (std::vector<std::string>{"add Service ns/a rv=1", "synced Service", "synced EndpointSlice",
                                                    "synced Node"}));
  EXPECT_FALSE(source.poll()) << "unchanged";
  replace(service("b", "2"));
  ASSERT_TRUE(source.poll());
  EXPECT_EQ(sink_.take(), (std::vector<std::string>{"add Service ns/b rv=2", "delete Service ns/a rv=1"}));
  replace("apiVersion: v1\nkind: Service\nmetadata: {name: [unclosed\n");
  EXPECT_FALSE(source.poll());
  EXPECT_TRUE(sink_.take().empty()) << "a file that does not parse deletes nothing";
  EXPECT_FALSE(errors_.empty());
  EXPECT_TRUE(sink_.problems().empty());
}

TEST_F(FileSourceTest, OnlyTheChangedFileIsReadAgain) {
  const std::string big = (dir_ / "big.yaml").string();
  std::ofstream(big) << service("big", "1");
  replace(service("small", "1"));
  FileObjectSource source({big, path_}, "node-a", sink_, [this](const std::string& e) { errors_.push_back(e); });
  ASSERT_TRUE(source.poll());
  sink_.take();

  // The big file's bytes change behind the fingerprint's back (same inode, size and mtime): a
  // source that read it again would see the new port and emit an update.
  struct stat before {};
  ASSERT_EQ(stat(big.c_str(), &before), 0);
  {
    std::fstream f(big, std::ios::in | std::ios::out);
    std::string text = service("big", "2");
    ASSERT_EQ(text.size(), static_cast<size_t>(before.st_size));
    f << text;
  }
  const timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, big.c_str(), times, 0), 0);

  replace(service("small", "2"));
  ASSERT_TRUE(source.poll());
  EXPECT_EQ(sink_.take(), (std::vector<std::string>{"update Service ns/small rv=2"}))
      << "only the small file was decoded again";

  // Once the big file really changes, it is read.
  std::ofstream(big, std::ios::trunc) << service("big", "3");
  ASSERT_TRUE(source.poll());
  EXPECT_EQ(sink_.take(), (std::vector<std::string>{"update Service ns/big rv=3"}));
  EXPECT_TRUE(errors_.empty()) << ::testing::PrintToString(errors_);
}

TEST_F(FileSourceTest, LegacyEndpointsAreMirroredOnlyWithoutASliceInAnyFile) {
  const std::string slices = (dir_ / "slices.yaml").string();
  std::ofstream(slices) << "";
  replace(service("web", "1") +
          "---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: web, namespace: ns}\n"
          "subsets: [{addresses: [{ip: 10.1.0.1}], ports: [{name: p, port: 8080, protocol: TCP}]}]\n");
  FileObjectSource source({path_, slices}, "node-a", sink_, [this](const std::string& e) { errors_.push_back(e); });
  ASSERT_TRUE(source.poll());
  auto first = sink_.take();
  EXPECT_NE(std::find(first.begin(), first.end(), "add EndpointSlice ns/web-mirror-1 rv="), first.end())
      << ::testing::PrintToString(first);

  // A slice of the service in the other file: the Endpoints are not mirrored any more.
  std::ofstream(slices, std::ios::trunc)
      << "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: web-abc, namespace: ns, labels: "
         "{kubernetes.io/service-name: web}}\naddressType: IPv4\nendpoints: [{addresses: [10.1.0.2]}]\n"
         "ports: [{name: p, port: 8080, protocol: TCP}]\n";
  ASSERT_TRUE(source.poll());
  auto second = sink_.take();
  EXPECT_NE(std::find(second.begin(), second.end(), "delete EndpointSlice ns/web-mirror-1 rv="), second.end())
      << ::testing::PrintToString(second);
  EXPECT_NE(std::find(second.begin(), second.end(), "add EndpointSlice ns/web-abc rv="), second.end())
      << ::testing::PrintToString(second);
  EXPECT_TRUE(errors_.empty()) << ::testing::PrintToString(errors_);
}

TEST_F(FileSourceTest, RunNoticesAWriteAtOnce) {
  replace(service("a", "1"));
  FileObjectSource source({path_}, "node-a", sink_, [this](const std::string& e) { errors_.push_back(e); });
  // The periodic check is an hour away: only inotify can bring the change in.
  std::jthread runner([&](std::stop_token stop) { source.run(stop, std::chrono::hours(1)); });
  auto waitFor = [&](const std::string& line) {
    for (int i = 0; i < 200; ++i) {  // generous: a loaded CI machine
      for (const auto& l : sink_.lines())
        if (l == line) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  };
  ASSERT_TRUE(waitFor("add Service ns/a rv=1"));
  replace(service("a", "2"));
  EXPECT_TRUE(waitFor("update Service ns/a rv=2")) << ::testing::PrintToString(sink_.lines());
  // A plain rewrite (open, truncate, write, close) counts too.
  std::ofstream(path_, std::ios::trunc) << service("a", "3");
  EXPECT_TRUE(waitFor("update Service ns/a rv=3")) << ::testing::PrintToString(sink_.lines());
  EXPECT_TRUE(errors_.empty()) << ::testing::PrintToString(errors_);
}

}  // namespace
}  // namespace kproxy::watch
