// Returning freed heap memory to the operating system.
#pragma once

namespace ranker {

// Hands the allocator's free pages back to the operating system (glibc's
// malloc_trim(0)). glibc keeps memory that a thread freed in that thread's
// arena (64 MB heaps) and in the middle of the main heap, where it counts in
// the RSS until something reuses it: a restore's buffers, a snapshot
// export's, events decoded on one thread and freed on another. At 1M rows
// under load that was ~22% of `ranker serve`'s RSS (BENCHMARKS.md, "Memory:
// freed but kept"). Takes each arena's lock in turn while it walks that
// arena's free chunks: call it off the learner and request threads. Returns
// the wall time it took, in milliseconds; a no-op (0) without glibc.
double TrimHeap();

}  // namespace ranker
