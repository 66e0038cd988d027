#include "src/util/subprocess.h"

#include <gtest/gtest.h>
#include <unistd.h>

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

// The whole input is there before the child starts (a file, not a pipe being filled), so a child
// outlives a parent killed mid-write with its input intact; and it runs in its own process group.
TEST(RunProcess, InputIsCompleteBeforeTheChildStartsAndTheChildHasItsOwnGroup) {
  std::string big(3 << 20, 'x');
  auto r = runProcessPieces({"sh", "-c", "stat -L -c %s /dev/stdin; cut -d' ' -f5 /proc/$$/stat"},
                            {big, "yz"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->exit_code, 0) << r->err;
  const size_t nl = r->out.find('\n');
  ASSERT_NE(nl, std::string::npos) << r->out;
  EXPECT_EQ(r->out.substr(0, nl), std::to_string(big.size() + 2));
  const long child_group = std::stol(r->out.substr(nl + 1));
  EXPECT_NE(child_group, static_cast<long>(getpgrp()));
}

TEST(RunProcess, MissingBinaryAndTimeoutAreErrors) {
  EXPECT_FALSE(runProcess({"/nonexistent/kproxy-test-binary"}).ok());
  auto r = runProcess({"sleep", "5"}, "", {.timeout = std::chrono::milliseconds(100)});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("timed out"), std::string::npos);
}

}  // namespace
}  // namespace kproxy
