// Result<T> and Error: errors as values across module boundaries (design.md convention 5).
// Shaped like std::expected (GCC 12 only ships it under -std=c++2b).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace kproxy {

// Error is a human-readable message that names what failed, e.g.
// "default/web: spec.ports[1].nodePort: 70000 not in 1-65535".
// `code` carries an errno-like value where the failure came from the kernel (0 otherwise).
struct Error {
  std::string message;
  int code = 0;

  Error() = default;
  explicit Error(std::string msg, int c = 0) : message(std::move(msg)), code(c) {}

  // Returns a copy with "context: " prepended, for adding the caller's view of what failed.
  [[nodiscard]] Error wrap(std::string_view context) const {
    return Error(std::string(context) + ": " + message, code);
  }
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status okStatus() { return Status(); }

}  // namespace kproxy
