// Giving freed heap memory back to the kernel. glibc keeps freed memory in its arenas for reuse,
// and its adaptive mmap threshold (raised up to 32 MB each time a large mmapped block is freed)
// soon puts even multi-megabyte buffers into the arenas: the daemon's API list pages and full
// syncs, tens of megabytes of short-lived buffers, would otherwise stay resident.
//
// Measured at 10k services x 10 endpoints (bench/README.md, before later memory savings): a
// fixed 256 KiB mmap threshold and one arena (GLIBC_TUNABLES=glibc.malloc.mmap_threshold=262144:
// glibc.malloc.arena_max=1) took `kproxy run` from ~165 MB to ~145 MB resident, but every partial
// sync then maps and faults in its buffers afresh (+50-100 ms a sync), so kproxy leaves that
// choice to the operator.
#pragma once

namespace kproxy {

// Returns the whole free pages of every malloc arena to the kernel (malloc_trim). Takes a few
// milliseconds on a large heap: call it after a burst of large temporary allocations, not in a
// hot loop.
void returnFreeHeapToKernel();

}  // namespace kproxy
