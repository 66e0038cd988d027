// Page faults dominate the cost of building tens of megabytes of rules on virtual machines
// (measured here: 4.5 µs per 4 KiB fault, so touching 40 MB costs 180 ms). glibc (>= 2.35) can
// back its heap with transparent huge pages when the tunable glibc.malloc.hugetlb=1 is set, which
// must happen before the process starts; this re-executes the program once with it.
#pragma once

namespace kproxy {

// Returns only when no re-exec happened (already set, opted out with KPROXY_NO_HUGE_PAGES=1, or
// exec failed); otherwise the process image is replaced with the same argv.
void reexecWithHugePageMalloc(char** argv);

}  // namespace kproxy
