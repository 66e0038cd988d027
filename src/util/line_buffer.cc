#include "src/util/line_buffer.h"

#include <charconv>

namespace kproxy {

LineBuffer& LineBuffer::decimal(long value) {
  if (discard_) return *this;
  separate();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  (void)ec;
  bytes_.append(buf, end);
  return *this;
}

}  // namespace kproxy
