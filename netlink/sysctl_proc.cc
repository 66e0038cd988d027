#include <cerrno>
#include <cstring>
#include <fstream>

#include "netlink/sysctl.h"

namespace kproxy::netlink {
namespace {

class ProcSysctl final : public Sysctl {
 public:
  explicit ProcSysctl(std::string root) : root_(std::move(root)) {}

  Result<long> get(std::string_view name) override {
    std::ifstream in(path(name));
    long value = 0;
    if (!(in >> value)) return Error("sysctl " + std::string(name) + ": cannot read " + path(name), errno);
    return value;
  }

  Status set(std::string_view name, long value) override {
    std::ofstream out(path(name));
    if (!out) return Error("sysctl " + std::string(name) + ": cannot open " + path(name) + ": " + std::strerror(errno), errno);
    out << value << "\n";
    out.flush();
    if (!out) return Error("sysctl " + std::string(name) + ": cannot write " + std::to_string(value) + ": " + std::strerror(errno), errno);
    return okStatus();
  }

 private:
  std::string path(std::string_view name) const { return root_ + "/" + std::string(name); }
  std::string root_;
};

}  // namespace

std::unique_ptr<Sysctl> newProcSysctl(std::string root) { return std::make_unique<ProcSysctl>(std::move(root)); }

}  // namespace kproxy::netlink
