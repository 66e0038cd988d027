// Every testdata/badinput/<case>.yaml decodes to exactly the error lines of <case>.stderr, as
// `kproxy render -f testdata/badinput/<case>.yaml` prints them ("error: <message>").
// (<case>.config.yaml files are bad configurations, tested with the config decoder.)
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "src/api/decode.h"

namespace kproxy::api {
namespace {

namespace fs = std::filesystem;

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string unifiedDiff(const std::vector<std::string>& want, const std::vector<std::string>& got) {
  std::string out;
  for (const auto& line : want) {
    if (std::find(got.begin(), got.end(), line) == got.end()) out += "-" + line + "\n";
  }
  for (const auto& line : got) {
    if (std::find(want.begin(), want.end(), line) == want.end()) out += "+" + line + "\n";
  }
  return out.empty() ? "(same lines, different order)\n" : out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(BadInput, EveryCase) {
  const fs::path dir = fs::path(KPROXY_SOURCE_DIR) / "testdata" / "badinput";
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    bool config = name.size() > 12 && name.substr(name.size() - 12) == ".config.yaml";
    if (entry.path().extension() == ".yaml" && !config) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  ASSERT_GE(cases.size(), 12u);
  for (const fs::path& path : cases) {
    const std::string name = "testdata/badinput/" + path.filename().string();
    SCOPED_TRACE(name);
    fs::path stderr_path = path;
    stderr_path.replace_extension(".stderr");
    ASSERT_TRUE(fs::exists(stderr_path)) << stderr_path;
    DecodeResult result = decodeManifests({ManifestFile{name, readFile(path)}});
    std::vector<std::string> got;
    for (const Error& e : result.errors) got.push_back("error: " + e.message);
    std::vector<std::string> want = lines(readFile(stderr_path));
    EXPECT_FALSE(want.empty()) << "a bad-input case must expect at least one error";
    EXPECT_EQ(got, want) << unifiedDiff(want, got);
  }
}

}  // namespace
}  // namespace kproxy::api
