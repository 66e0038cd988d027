#include "src/util/safe_text.h"

namespace kproxy {
namespace {

bool keeps(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '/' || c == ':' || c == ',' || c == '[' || c == ']';
}

}  // namespace

bool isSafeWord(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) return false;
  for (char c : text) {
    if (!keeps(c)) return false;
  }
  return true;
}

std::string safeWord(std::string_view text, size_t max_bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() < max_bytes ? text.size() : max_bytes);
  for (char c : text) {
    const size_t need = keeps(c) ? 1 : 3;
    if (out.size() + need > max_bytes) break;
    if (need == 1) {
      out.push_back(c);
    } else {
      const auto u = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

const std::string& safeWord(const std::string& text, std::string& scratch, size_t max_bytes) {
  if (isSafeWord(text, max_bytes)) return text;
  scratch = safeWord(std::string_view(text), max_bytes);
  return scratch;
}

Status checkAttributeText(std::string_view what, std::string_view value, size_t max_bytes) {
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      std::string message(what);
      message += ": ";
      message += safeWord(value, 64);
      message += " contains a control character (NUL, newline, ...); not sent";
      return Error(std::move(message));
    }
  }
  if (value.size() + 1 > max_bytes) {
    std::string message(what);
    message += ": ";
    message += safeWord(value, 64);
    message += " is longer than ";
    message += std::to_string(max_bytes - 1);
    message += " bytes; not sent";
    return Error(std::move(message));
  }
  return okStatus();
}

}  // namespace kproxy
