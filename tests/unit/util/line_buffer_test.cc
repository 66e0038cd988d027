#include "src/util/line_buffer.h"

#include <gtest/gtest.h>

namespace kproxy {
namespace {

TEST(LineBuffer, JoinsWordsWithSpacesAndCountsLines) {
  LineBuffer buf;
  buf.words("-A", "KUBE-SERVICES").joined("\"", "ns/svc", " cluster IP\"").word("--dport").decimal(80).endLine();
  buf.word("-d").ip(*IpAddress::parse("fd00::1")).endLine();
  buf.line("COMMIT");
  EXPECT_EQ(buf.bytes(), "-A KUBE-SERVICES \"ns/svc cluster IP\" --dport 80\n-d fd00::1\nCOMMIT\n");
  EXPECT_EQ(buf.lines(), 3u);
  buf.reset();
  EXPECT_EQ(buf.bytes(), "");
  EXPECT_EQ(buf.lines(), 0u);
}

TEST(LineBuffer, DiscardingBufferOnlyCounts) {
  LineBuffer buf(/*discard=*/true);
  buf.words("-A", "X").endLine();
  buf.line("-A Y");
  EXPECT_EQ(buf.bytes(), "");
  EXPECT_EQ(buf.lines(), 2u);
}

}  // namespace
}  // namespace kproxy
