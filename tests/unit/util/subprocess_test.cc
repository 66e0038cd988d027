#include "src/util/subprocess.h"

#include <gtest/gtest.h>

namespace kproxy {
namespace {

TEST(RunProcess, CapturesOutputAndExitCode) {
  auto r = runProcess({"sh", "-c", "cat; echo err >&2; exit 3"}, "hello");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "hello");
  EXPECT_EQ(r->err, "err\n");
}

TEST(RunProcess, LargeInputAndOutputDoNotDeadlock) {
  std::string big(8 << 20, 'x');
  auto r = runProcess({"cat"}, big);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->out.size(), big.size());
}

TEST(RunProcess, ChildIgnoringInputDoesNotKillUs) {
  std::string big(1 << 20, 'x');
  auto r = runProcess({"true"}, big);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
}

TEST(RunProcess, MissingBinaryAndTimeoutAreErrors) {
  EXPECT_FALSE(runProcess({"/nonexistent/kproxy-test-binary"}).ok());
  auto r = runProcess({"sleep", "5"}, "", {.timeout = std::chrono::milliseconds(100)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos);
}

}  // namespace
}  // namespace kproxy
