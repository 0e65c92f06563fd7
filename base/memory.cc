#include "base/memory.h"

#include <chrono>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace ranker {

double TrimHeap() {
#if defined(__GLIBC__)
  const auto start = std::chrono::steady_clock::now();
  malloc_trim(0);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
#else
  return 0;
#endif
}

}  // namespace ranker
