// A read-only memory mapping of a whole file followed by zeroed padding, so that a parser that
// reads a few bytes past the end (simdjson) can work on the file in place: big cluster dumps are
// neither copied nor backed by fresh anonymous pages that the kernel must zero first.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "src/util/result.h"

namespace kproxy {

class MappedFile {
 public:
  // Maps `path` (a regular file) with at least `padding` readable zero bytes after its end.
  static Result<std::shared_ptr<const MappedFile>> open(const std::string& path, size_t padding);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  std::string_view bytes() const { return {static_cast<const char*>(base_), size_}; }

 private:
  MappedFile(void* base, size_t size, size_t mapped) : base_(base), size_(size), mapped_(mapped) {}
  void* base_;
  size_t size_;
  size_t mapped_;  // length of the whole region (file pages and padding pages)
};

}  // namespace kproxy
