#include "src/util/heap.h"

#include <malloc.h>

namespace kproxy {

void returnFreeHeapToKernel() { malloc_trim(0); }

}  // namespace kproxy
