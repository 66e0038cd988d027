// LineBuffer: an append-only, reusable text buffer that counts lines, for renderers that write
// hundreds of thousands of rules per sync without temporary strings (design.md convention 7;
// upstream's LineBuffer / discardLineBuffer). A discarding buffer counts lines but keeps no bytes:
// the iptables planner writes the chains of unchanged services into one during a partial sync, so
// the rule-count metrics still see them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "src/util/ip.h"

namespace kproxy {

class LineBuffer {
 public:
  explicit LineBuffer(bool discard = false) : discard_(discard) {}

  void reset() {
    bytes_.clear();
    lines_ = 0;
    at_line_start_ = true;
  }
  void reserve(size_t n) {
    if (!discard_) bytes_.reserve(n);
  }

  // Appends one word, preceded by a space unless it starts the line.
  LineBuffer& word(std::string_view w) {
    if (discard_) return *this;
    separate();
    bytes_.append(w);
    return *this;
  }
  // Appends several words.
  template <typename... Ws>
  LineBuffer& words(const Ws&... ws) {
    (word(ws), ...);
    return *this;
  }
  // Appends pieces that together form one word (no spaces between them), e.g. a quoted comment.
  template <typename... Ps>
  LineBuffer& joined(const Ps&... pieces) {
    if (discard_) return *this;
    separate();
    (bytes_.append(std::string_view(pieces)), ...);
    return *this;
  }
  LineBuffer& decimal(long value);
  LineBuffer& ip(const IpAddress& address) {
    if (discard_) return *this;
    separate();
    address.appendTo(bytes_);
    return *this;
  }
  // Appends text that continues the current word (no separator).
  LineBuffer& raw(std::string_view text) {
    if (!discard_) bytes_.append(text);
    return *this;
  }
  void endLine() {
    if (!discard_) bytes_.push_back('\n');
    at_line_start_ = true;
    ++lines_;
  }
  // Appends a complete line (without its newline).
  void line(std::string_view text) {
    if (!discard_) bytes_.append(text);
    endLine();
  }

  size_t lines() const { return lines_; }
  const std::string& bytes() const { return bytes_; }
  // Hands the bytes over (the buffer is left empty).
  std::string release() {
    std::string out = std::move(bytes_);
    reset();
    return out;
  }
  bool discarding() const { return discard_; }

 private:
  void separate() {
    if (!at_line_start_) bytes_.push_back(' ');
    at_line_start_ = false;
  }

  std::string bytes_;
  size_t lines_ = 0;
  bool at_line_start_ = true;
  bool discard_;
};

}  // namespace kproxy
