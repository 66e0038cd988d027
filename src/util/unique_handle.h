// Owner types for C handles (design.md convention 4): UniqueHandle<T, Release> frees a C pointer
// with its library's release function; UniqueFd closes a file descriptor.
#pragma once

#include <unistd.h>

#include <memory>
#include <utility>

namespace kproxy {

template <typename T, auto Release>
struct HandleDeleter {
  void operator()(T* p) const {
    if (p != nullptr) Release(p);
  }
};

template <typename T, auto Release>
using UniqueHandle = std::unique_ptr<T, HandleDeleter<T, Release>>;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace kproxy
