#include "src/util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "src/util/unique_handle.h"

namespace kproxy {

Result<std::shared_ptr<const MappedFile>> MappedFile::open(const std::string& path, size_t padding) {
  auto fail = [&](const char* what) { return Error(path + ": " + what + ": " + std::strerror(errno)); };
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail("cannot open");
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return fail("stat");
  if (!S_ISREG(st.st_mode)) return Error(path + ": not a regular file");
  const size_t size = static_cast<size_t>(st.st_size);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t mapped = (size + padding + page - 1) / page * page;
  // First an anonymous zero region for file and padding, then the file over its start: the pages
  // past the file's last one stay anonymous zeros (reading them never faults with SIGBUS).
  void* base = mmap(nullptr, mapped, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) return fail("mmap");
  if (size > 0) {
    void* at = mmap(base, size, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_POPULATE, fd.get(), 0);
    if (at == MAP_FAILED) {
      const int saved = errno;
      munmap(base, mapped);
      errno = saved;
      return fail("mmap");
    }
  }
  return std::shared_ptr<const MappedFile>(new MappedFile(base, size, mapped));
}

MappedFile::~MappedFile() { munmap(base_, mapped_); }

}  // namespace kproxy
