// FileObjectSource (`kproxy run --objects`): the first read lists everything and reports the
// kinds synced; a later change is emitted as the difference; a file that does not parse keeps the
// previous objects; and run() notices a completed write through inotify, without waiting for its
// periodic check.
#include "src/watch/file_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

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
