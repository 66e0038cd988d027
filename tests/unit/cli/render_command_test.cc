// `kproxy render` end to end (in-process): success output, bad input (exit 2, nothing on stdout,
// exactly the expected error lines), and robustness against arbitrary bytes.
#include "src/cli/render_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

namespace kproxy::cli {
namespace {
namespace fs = std::filesystem;

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class RenderCommandTest : public ::testing::Test {
 protected:
  // Messages name files as given on the command line, relative to the repository root.
  void SetUp() override { ASSERT_EQ(chdir(KPROXY_SOURCE_DIR), 0); }
};

TEST_F(RenderCommandTest, RendersTheExampleCluster) {
  std::string out, err;
  RenderOptions options{.files = {"testdata/examples/cluster.yaml"}, .config_path = "testdata/examples/config.yaml"};
  ASSERT_EQ(runRender(options, out, err), 0) << err;
  EXPECT_EQ(out.rfind("*filter\n", 0), 0u);
  EXPECT_NE(out.find("\nCOMMIT\n*nat\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 7), "COMMIT\n");
  // The real proxier's mark text.
  EXPECT_NE(out.find("--or-mark 0x00004000"), std::string::npos);
}

TEST_F(RenderCommandTest, BadManifestsExitTwoWithExactMessagesAndNoOutput) {
  int cases = 0;
  for (const auto& entry : fs::directory_iterator("testdata/badinput")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".yaml" || name.find(".config.yaml") != std::string::npos) continue;
    ++cases;
    SCOPED_TRACE(name);
    std::string out, err;
    RenderOptions options{.files = {"testdata/badinput/" + name}, .hostname_override = "node-1"};
    EXPECT_EQ(runRender(options, out, err), 2);
    EXPECT_EQ(out, "");
    fs::path expected = entry.path();
    expected.replace_extension(".stderr");
    EXPECT_EQ(err, readFile(expected));
  }
  EXPECT_GE(cases, 12);
}

TEST_F(RenderCommandTest, BadConfigurationsExitTwoWithExactMessagesAndNoOutput) {
  int cases = 0;
  for (const auto& entry : fs::directory_iterator("testdata/badinput")) {
    const std::string name = entry.path().filename().string();
    const std::string suffix = ".config.yaml";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    ++cases;
    SCOPED_TRACE(name);
    std::string out, err;
    RenderOptions options{.files = {"testdata/examples/cluster.yaml"}, .config_path = "testdata/badinput/" + name};
    EXPECT_EQ(runRender(options, out, err), 2);
    EXPECT_EQ(out, "");
    std::string stem = name.substr(0, name.size() - suffix.size());
    EXPECT_EQ(err, readFile("testdata/badinput/" + stem + ".config.stderr"));
  }
  EXPECT_GE(cases, 6);
}

TEST_F(RenderCommandTest, BadOptions) {
  struct Case {
    std::string name;
    RenderOptions options;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"no files", {}, "error: render: at least one -f FILE is required\n"},
      {"missing file", {.files = {"testdata/no-such-file.yaml"}}, "error: testdata/no-such-file.yaml: cannot open"},
      {"bad family", {.files = {"testdata/examples/cluster.yaml"}, .ip_family = "ipv5"},
       "error: --ip-family: \"ipv5\" is not ipv4 or ipv6\n"},
      {"bad mode", {.files = {"testdata/examples/cluster.yaml"}, .proxy_mode = "userspace"},
       "error: --proxy-mode: \"userspace\" is not one of iptables, ipvs, nftables\n"},
      {"blank hostname", {.files = {"testdata/examples/cluster.yaml"}, .hostname_override = "  "},
       "error: --hostname-override: empty hostname-override is invalid\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string out, err;
    EXPECT_EQ(runRender(c.options, out, err), 2);
    EXPECT_EQ(out, "");
    EXPECT_EQ(err.rfind(c.message, 0), 0u) << err;
  }
}

TEST_F(RenderCommandTest, ProblemsOfEveryFileAreReportedTogether) {
  std::string out, err;
  RenderOptions options{.files = {"testdata/examples/cluster.yaml"}, .hostname_override = "node-1"};
  const auto dir = fs::temp_directory_path() / ("kproxy-render-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "a.yaml") << "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: x}\n"
                                   "spec: {clusterIP: 1.2.3.999, ports: [{port: 80}]}\n";
  std::ofstream(dir / "b.yaml") << "apiVersion: v1\nkind: Service\nmetadata: {name: b, namespace: x}\n"
                                   "spec: {clusterIP: 1.2.3.4, ports: [{port: 80, protocol: ICMP}]}\n";
  options.from = {(dir / "a.yaml").string()};
  options.files = {(dir / "b.yaml").string()};
  EXPECT_EQ(runRender(options, out, err), 2);
  EXPECT_EQ(out, "");
  EXPECT_NE(err.find("a.yaml:4: Service x/a: spec.clusterIP"), std::string::npos) << err;
  EXPECT_NE(err.find("b.yaml:4: Service x/b: spec.ports[0].protocol"), std::string::npos) << err;
  fs::remove_all(dir);
}

// Whatever the bytes: exit 0 with a payload, or exit 2 with nothing on stdout. Never a crash.
TEST_F(RenderCommandTest, ArbitraryBytesNeverCrash) {
  const std::string seed_text = readFile("testdata/examples/cluster.yaml");
  ASSERT_FALSE(seed_text.empty());
  const auto dir = fs::temp_directory_path() / ("kproxy-fuzz-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]:,-\"' \n\t#&*!|>%@`0123456789.abcxyz/\\\x01\xff";
  for (int i = 0; i < 300; ++i) {
    std::string text = seed_text;
    int edits = 1 + static_cast<int>(rng() % 8);
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % text.size();
      switch (rng() % 4) {
        case 0: text[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(pos, rng() % 40); break;
        case 2: text.insert(pos, 1 + rng() % 20, alphabet[rng() % alphabet.size()]); break;
        default: text = text.substr(0, pos); break;
      }
      if (text.empty()) text = "x";
    }
    fs::path file = dir / "fuzz.yaml";
    std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
    std::string out, err;
    RenderOptions options{.files = {file.string()}, .config_path = "testdata/examples/config.yaml"};
    int code = runRender(options, out, err);
    ASSERT_TRUE(code == 0 || code == 2) << "mutation " << i;
    if (code == 2) {
      EXPECT_EQ(out, "") << "mutation " << i;
      EXPECT_NE(err.find("error: "), std::string::npos) << "mutation " << i;
    } else {
      EXPECT_EQ(out.rfind("*filter\n", 0), 0u) << "mutation " << i;
    }
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace kproxy::cli
