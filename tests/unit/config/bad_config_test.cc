// testdata/badinput/<case>.config.yaml against <case>.config.stderr: the exact lines
// `kproxy render --config testdata/badinput/<case>.config.yaml` prints. A file-level decode error
// is one line "error: <message>", the message starting with the path as given; validation errors
// are one line each, "error: <path>: <message>".
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "src/config/kube_proxy_configuration.h"

namespace kproxy::config {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSuffix = ".config.yaml";

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// What render prints for a configuration file named `arg` on its command line.
std::string renderErrors(const std::string& bytes, const std::string& arg) {
  auto decoded = decodeConfiguration(bytes, arg);
  if (!decoded.ok()) return "error: " + decoded.error().message + "\n";
  std::string out;
  for (const auto& w : decoded->warnings) out += "warning: " + w + "\n";
  for (const auto& e : validateConfiguration(decoded->config)) out += "error: " + arg + ": " + e.message + "\n";
  return out;
}

TEST(BadConfigTest, EachCaseFailsWithItsExpectedLines) {
  const fs::path dir = fs::path(KPROXY_SOURCE_DIR) / "testdata" / "badinput";
  std::vector<std::string> cases;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.size() > kSuffix.size() && name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0) {
      cases.push_back(name.substr(0, name.size() - kSuffix.size()));
    }
  }
  std::sort(cases.begin(), cases.end());
  EXPECT_GE(cases.size(), 8u);
  for (const auto& name : cases) {
    SCOPED_TRACE(name);
    const std::string arg = "testdata/badinput/" + name + ".config.yaml";
    const fs::path expected_path = dir / (name + ".config.stderr");
    ASSERT_TRUE(fs::exists(expected_path)) << expected_path << " is missing";
    const std::string expected = readFile(expected_path);
    EXPECT_FALSE(expected.empty());
    EXPECT_EQ(renderErrors(readFile(dir / (name + ".config.yaml")), arg), expected);
  }
}

}  // namespace
}  // namespace kproxy::config
