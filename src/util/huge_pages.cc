#include "src/util/huge_pages.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

namespace kproxy {

void reexecWithHugePageMalloc(char** argv) {
  if (const char* opt_out = std::getenv("KPROXY_NO_HUGE_PAGES"); opt_out != nullptr && *opt_out != '\0') return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.hugetlb") != nullptr) return;
  std::string value = tunables != nullptr && *tunables != '\0' ? std::string(tunables) + ":" : std::string();
  value += "glibc.malloc.hugetlb=1";
  if (setenv("GLIBC_TUNABLES", value.c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
  // exec failed (no /proc, say): carry on without huge pages.
}

}  // namespace kproxy
