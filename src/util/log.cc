#include "src/util/log.h"

#include <atomic>

namespace kproxy::log {
namespace {
std::atomic<int> g_verbosity{0};
}

void setVerbosity(int v) { g_verbosity = v; }
int verbosity() { return g_verbosity; }

}  // namespace kproxy::log
