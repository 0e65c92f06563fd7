// TrimHeap hands memory that a thread freed back to the operating system.
#include "base/memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <thread>
#include <vector>

namespace ranker {
namespace {

[[maybe_unused]] double RssMb() {
  std::ifstream in("/proc/self/statm");
  long pages = 0, resident = 0;
  in >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define RANKER_SANITIZED_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RANKER_SANITIZED_HEAP 1
#endif
#endif

TEST(TrimHeap, ReturnsWhatAnotherThreadFreed) {
#if defined(RANKER_SANITIZED_HEAP) || !defined(__GLIBC__)
  GTEST_SKIP() << "the sanitizers' allocator, or not glibc: malloc_trim does not apply";
#else
  // 96 MB in 1 KB blocks, every other one kept: the freed half stays in the
  // thread's arena, interleaved with live blocks, so no heap top to shrink.
  std::vector<std::unique_ptr<char[]> > kept;
  std::thread([&] {
    std::vector<std::unique_ptr<char[]> > blocks;
    for (int i = 0; i < 96 * 1024; ++i) {
      blocks.emplace_back(new char[1000]);
      for (int j = 0; j < 1000; j += 64) blocks.back()[j] = static_cast<char>(i + j);
    }
    // Keep one block in 16: the freed runs between them span whole pages.
    for (size_t i = 0; i < blocks.size(); i += 16) kept.push_back(std::move(blocks[i]));
  }).join();
  const double before = RssMb();
  const double ms = TrimHeap();
  const double after = RssMb();
  EXPECT_GE(ms, 0.0);
  EXPECT_GT(before - after, 40.0) << "RSS " << before << " MB -> " << after << " MB";
  EXPECT_EQ(kept.size(), 96u * 1024 / 16);
  EXPECT_EQ(kept[5][64], static_cast<char>(5 * 16 + 64));  // the kept blocks are intact
#endif
}

}  // namespace
}  // namespace ranker
