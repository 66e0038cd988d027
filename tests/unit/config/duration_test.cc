// parseDuration / formatDuration against Go's own tables (src/time/time_test.go:
// parseDurationTests, parseDurationErrorTests, durationTests).
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "src/config/kube_proxy_configuration.h"

namespace kproxy::config {
namespace {

constexpr int64_t kNs = 1;
constexpr int64_t kUs = 1000 * kNs;
constexpr int64_t kMs = 1000 * kUs;
constexpr int64_t kS = 1000 * kMs;
constexpr int64_t kMin = 60 * kS;
constexpr int64_t kH = 60 * kMin;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinValue = std::numeric_limits<int64_t>::min();

TEST(ParseDurationTest, AcceptsWhatGoAccepts) {
  struct Case {
    std::string text;
    int64_t expected_ns;
  };
  const Case cases[] = {
      {"0", 0},
      {"5s", 5 * kS},
      {"30s", 30 * kS},
      {"1478s", 1478 * kS},
      {"-5s", -5 * kS},
      {"+5s", 5 * kS},
      {"-0", 0},
      {"+0", 0},
      {"5.0s", 5 * kS},
      {"5.6s", 5 * kS + 600 * kMs},
      {"5.s", 5 * kS},
      {".5s", 500 * kMs},
      {"1.0s", 1 * kS},
      {"1.00s", 1 * kS},
      {"1.004s", 1 * kS + 4 * kMs},
      {"1.0040s", 1 * kS + 4 * kMs},
      {"100.00100s", 100 * kS + 1 * kMs},
      {"10ns", 10 * kNs},
      {"11us", 11 * kUs},
      {"12\xC2\xB5s", 12 * kUs},  // U+00B5 micro sign
      {"12\xCE\xBCs", 12 * kUs},  // U+03BC Greek mu
      {"13ms", 13 * kMs},
      {"14s", 14 * kS},
      {"15m", 15 * kMin},
      {"16h", 16 * kH},
      {"3h30m", 3 * kH + 30 * kMin},
      {"10.5s4m", 4 * kMin + 10 * kS + 500 * kMs},
      {"-2m3.4s", -(2 * kMin + 3 * kS + 400 * kMs)},
      {"1h2m3s4ms5us6ns", 1 * kH + 2 * kMin + 3 * kS + 4 * kMs + 5 * kUs + 6 * kNs},
      {"39h9m14.425s", 39 * kH + 9 * kMin + 14 * kS + 425 * kMs},
      {"52763797000ns", 52763797000 * kNs},
      {"0.3333333333333333333h", 20 * kMin},
      {"9007199254740993ns", (int64_t{1} << 53) + 1},
      {"9223372036854775807ns", kMax},
      {"9223372036854775.807us", kMax},
      {"9223372036s854ms775us807ns", kMax},
      {"-9223372036854775808ns", kMinValue},
      {"-9223372036854775.808us", kMinValue},
      {"-9223372036s854ms775us808ns", kMinValue},
      {"-2562047h47m16.854775808s", kMinValue},
      {"0.100000000000000000000h", 6 * kMin},
      {"0.830103483285477580700h", 49 * kMin + 48 * kS + 372539827 * kNs},
      // The shapes kube-proxy configurations use.
      {"1m0s", kMin},
      {"24h0m0s", 24 * kH},
      {"1.5h", 90 * kMin},
      {"300ms", 300 * kMs},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.text);
    auto d = parseDuration(tc.text);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(d->count(), tc.expected_ns);
  }
}

TEST(ParseDurationTest, RejectsWhatGoRejectsWithGosMessage) {
  struct Case {
    std::string text;
    std::string expected_error;
  };
  const Case cases[] = {
      {"", R"(time: invalid duration "")"},
      {"3", R"(time: missing unit in duration "3")"},
      {"-", R"(time: invalid duration "-")"},
      {"s", R"(time: invalid duration "s")"},
      {".", R"(time: invalid duration ".")"},
      {"-.", R"(time: invalid duration "-.")"},
      {".s", R"(time: invalid duration ".s")"},
      {"+.s", R"(time: invalid duration "+.s")"},
      {"1d", R"(time: unknown unit "d" in duration "1d")"},
      {"\x85\x85", R"(time: invalid duration "\x85\x85")"},
      {"\xff"
       "ff",
       R"(time: invalid duration "\xffff")"},
      {"hello \xff"
       "ff world",
       R"(time: invalid duration "hello \xffff world")"},
      {"\xEF\xBF\xBD", R"(time: invalid duration "\xef\xbf\xbd")"},
      {"9223372036854775810ns", R"(time: invalid duration "9223372036854775810ns")"},
      {"9223372036854775808ns", R"(time: invalid duration "9223372036854775808ns")"},
      {"-9223372036854775809ns", R"(time: invalid duration "-9223372036854775809ns")"},
      {"9223372036854776us", R"(time: invalid duration "9223372036854776us")"},
      {"3000000h", R"(time: invalid duration "3000000h")"},
      {"9223372036854775.808us", R"(time: invalid duration "9223372036854775.808us")"},
      {"9223372036854ms775us808ns", R"(time: invalid duration "9223372036854ms775us808ns")"},
      {"1s ", R"(time: unknown unit "s " in duration "1s ")"},
      {" 1s", R"(time: invalid duration " 1s")"},
      {"1\"s", R"(time: unknown unit "\"s" in duration "1\"s")"},
      {"1S", R"(time: unknown unit "S" in duration "1S")"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.text);
    auto d = parseDuration(tc.text);
    ASSERT_FALSE(d.ok()) << d->count();
    EXPECT_EQ(d.error().message, tc.expected_error);
  }
}

TEST(FormatDurationTest, PrintsLikeGoDurationString) {
  struct Case {
    int64_t ns;
    std::string expected;
  };
  const Case cases[] = {
      {0, "0s"},
      {1 * kNs, "1ns"},
      {1100 * kNs, "1.1\xC2\xB5s"},
      {2200 * kUs, "2.2ms"},
      {3300 * kMs, "3.3s"},
      {4 * kMin + 5 * kS, "4m5s"},
      {4 * kMin + 5001 * kMs, "4m5.001s"},
      {5 * kH + 6 * kMin + 7001 * kMs, "5h6m7.001s"},
      {8 * kMin + 1 * kNs, "8m0.000000001s"},
      {kMax, "2562047h47m16.854775807s"},
      {kMinValue, "-2562047h47m16.854775808s"},
      {30 * kS, "30s"},
      {kMin, "1m0s"},
      {90 * kS, "1m30s"},
      {15 * kMin, "15m0s"},
      {kH, "1h0m0s"},
      {24 * kH, "24h0m0s"},
      {90 * kMin, "1h30m0s"},
      {500 * kMs, "500ms"},
      {-1 * kS, "-1s"},
      {-1500 * kUs, "-1.5ms"},
      {999 * kNs, "999ns"},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.expected);
    EXPECT_EQ(formatDuration(Duration(tc.ns)), tc.expected);
  }
}

TEST(FormatDurationTest, RoundTripsThroughParse) {
  const int64_t values[] = {0, 1, 999, 1000, 1001, 123456789, kS, 61 * kS, kH + 1, kMax, kMinValue, -kS - 1};
  for (int64_t v : values) {
    SCOPED_TRACE(v);
    auto parsed = parseDuration(formatDuration(Duration(v)));
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->count(), v);
  }
}

}  // namespace
}  // namespace kproxy::config
