// Go's time.ParseDuration and time.Duration.String(), reproduced byte for byte: configuration
// files carry Go duration text, and --write-config-to must print it the way kube-proxy does.
#include <cstdint>
#include <string>
#include <string_view>

#include "src/config/kube_proxy_configuration.h"

namespace kproxy::config {
namespace {

constexpr uint64_t kNanosecond = 1;
constexpr uint64_t kMicrosecond = 1000 * kNanosecond;
constexpr uint64_t kMillisecond = 1000 * kMicrosecond;
constexpr uint64_t kSecond = 1000 * kMillisecond;
constexpr uint64_t kMinute = 60 * kSecond;
constexpr uint64_t kHour = 60 * kMinute;
constexpr uint64_t kTwoTo63 = uint64_t{1} << 63;

// go: time.quote. Not strconv.Quote: every byte outside printable ASCII becomes \xNN, and only
// '"' and '\' are backslash-escaped.
std::string goTimeQuote(std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c >= 0x80 || c < ' ') {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
  return out;
}

// go: time.leadingInt. Consumes [0-9]*; false on overflow past 1<<63.
bool leadingInt(std::string_view& s, uint64_t& x) {
  x = 0;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') break;
    if (x > kTwoTo63 / 10) return false;
    x = x * 10 + static_cast<uint64_t>(c - '0');
    if (x > kTwoTo63) return false;
  }
  s.remove_prefix(i);
  return true;
}

// go: time.leadingFraction. Consumes [0-9]*; stops gaining precision on overflow, never fails.
void leadingFraction(std::string_view& s, uint64_t& x, double& scale) {
  x = 0;
  scale = 1;
  bool overflow = false;
  size_t i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c < '0' || c > '9') break;
    if (overflow) continue;
    if (x > (kTwoTo63 - 1) / 10) {
      overflow = true;
      continue;
    }
    uint64_t y = x * 10 + static_cast<uint64_t>(c - '0');
    if (y > kTwoTo63) {
      overflow = true;
      continue;
    }
    x = y;
    scale *= 10;
  }
  s.remove_prefix(i);
}

uint64_t unitValue(std::string_view u) {
  if (u == "ns") return kNanosecond;
  if (u == "us") return kMicrosecond;
  if (u == "\xC2\xB5s") return kMicrosecond;  // U+00B5 micro sign
  if (u == "\xCE\xBCs") return kMicrosecond;  // U+03BC Greek small letter mu
  if (u == "ms") return kMillisecond;
  if (u == "s") return kSecond;
  if (u == "m") return kMinute;
  if (u == "h") return kHour;
  return 0;
}

// go: time.fmtFrac. Writes the fraction v/10**prec before `w`, without trailing zeros (and
// without the point when the fraction is zero); returns v/10**prec.
uint64_t fmtFrac(char* buf, int& w, uint64_t v, int prec) {
  bool print = false;
  for (int i = 0; i < prec; ++i) {
    uint64_t digit = v % 10;
    print = print || digit != 0;
    if (print) buf[--w] = static_cast<char>('0' + digit);
    v /= 10;
  }
  if (print) buf[--w] = '.';
  return v;
}

// go: time.fmtInt.
void fmtInt(char* buf, int& w, uint64_t v) {
  if (v == 0) {
    buf[--w] = '0';
    return;
  }
  while (v > 0) {
    buf[--w] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

}  // namespace

Result<Duration> parseDuration(std::string_view text) {
  // [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+
  const std::string_view orig = text;
  std::string_view s = text;
  auto invalid = [&] { return Error("time: invalid duration " + goTimeQuote(orig)); };
  uint64_t d = 0;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  // go: special case, a bare "0" needs no unit.
  if (s == "0") return Duration(0);
  if (s.empty()) return invalid();
  while (!s.empty()) {
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return invalid();
    size_t before = s.size();
    uint64_t v = 0;
    if (!leadingInt(s, v)) return invalid();
    bool pre = before != s.size();
    uint64_t f = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t before_fraction = s.size();
      leadingFraction(s, f, scale);
      post = before_fraction != s.size();
    }
    if (!pre && !post) return invalid();  // no digits, e.g. ".s" or "-.s"
    size_t i = 0;
    while (i < s.size() && !(s[i] == '.' || (s[i] >= '0' && s[i] <= '9'))) ++i;
    if (i == 0) return Error("time: missing unit in duration " + goTimeQuote(orig));
    std::string_view u = s.substr(0, i);
    s.remove_prefix(i);
    uint64_t unit = unitValue(u);
    if (unit == 0) {
      return Error("time: unknown unit " + goTimeQuote(u) + " in duration " + goTimeQuote(orig));
    }
    if (v > kTwoTo63 / unit) return invalid();
    v *= unit;
    if (f > 0) {
      // go: float64 keeps fractions of hours nanosecond-accurate.
      v += static_cast<uint64_t>(static_cast<double>(f) * (static_cast<double>(unit) / scale));
      if (v > kTwoTo63) return invalid();
    }
    d += v;
    if (d > kTwoTo63) return invalid();
  }
  if (neg) return Duration(static_cast<int64_t>(0 - d));  // d == 1<<63 wraps to INT64_MIN, as in Go
  if (d > kTwoTo63 - 1) return invalid();
  return Duration(static_cast<int64_t>(d));
}

std::string formatDuration(Duration duration) {
  // Largest value: "-2562047h47m16.854775808s".
  char buf[32];
  int w = sizeof(buf);
  int64_t count = duration.count();
  bool neg = count < 0;
  uint64_t u = static_cast<uint64_t>(count);
  if (neg) u = 0 - u;
  if (u < kSecond) {
    // Below one second Go switches to smaller units: "1.5ms", "800µs", "42ns".
    int prec = 0;
    buf[--w] = 's';
    if (u == 0) {
      buf[--w] = '0';
      return std::string(buf + w, sizeof(buf) - w);
    } else if (u < kMicrosecond) {
      prec = 0;
      buf[--w] = 'n';
    } else if (u < kMillisecond) {
      prec = 3;
      buf[--w] = '\xB5';  // U+00B5 micro sign, as Go prints it
      buf[--w] = '\xC2';
    } else {
      prec = 6;
      buf[--w] = 'm';
    }
    u = fmtFrac(buf, w, u, prec);
    fmtInt(buf, w, u);
  } else {
    buf[--w] = 's';
    u = fmtFrac(buf, w, u, 9);
    fmtInt(buf, w, u % 60);  // seconds
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      fmtInt(buf, w, u % 60);
      u /= 60;
      // go: stops at hours, because days can have different lengths.
      if (u > 0) {
        buf[--w] = 'h';
        fmtInt(buf, w, u);
      }
    }
  }
  if (neg) buf[--w] = '-';
  return std::string(buf + w, sizeof(buf) - w);
}

}  // namespace kproxy::config
