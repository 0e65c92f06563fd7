#include "base/reclaimer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

namespace ranker {
namespace {

// Records the thread its destructor ran on.
struct Tracked {
  explicit Tracked(std::atomic<std::thread::id>* freed_on) : freed_on(freed_on) {}
  ~Tracked() { freed_on->store(std::this_thread::get_id()); }
  std::atomic<std::thread::id>* freed_on;
};

void WaitFreed(const Reclaimer& r, uint64_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (r.stats().freed < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(Reclaimer, TheLastDropHandsTheObjectToItsThread) {
  Reclaimer reclaimer("test-reclaim", 0);
  std::atomic<std::thread::id> freed_on{};
  std::shared_ptr<const Tracked> v =
      reclaimer.Adopt(std::shared_ptr<const Tracked>(std::make_shared<Tracked>(&freed_on)));
  std::shared_ptr<const Tracked> reader = v;  // a reader's copy
  v.reset();
  std::thread([r = std::move(reader)]() mutable { r.reset(); }).join();  // the last drop
  WaitFreed(reclaimer, 1);
  EXPECT_EQ(reclaimer.stats().freed, 1u);
  EXPECT_NE(freed_on.load(), std::thread::id{});
  EXPECT_NE(freed_on.load(), std::this_thread::get_id());
  EXPECT_GE(reclaimer.stats().seconds, 0.0);
}

TEST(Reclaimer, FreesWhatIsQueuedWhenDestroyedAndInlineAfter) {
  std::atomic<std::thread::id> first{}, second{};
  std::shared_ptr<const Tracked> late;
  {
    Reclaimer reclaimer("test-reclaim", 0);
    for (int i = 0; i < 100; ++i) {
      reclaimer.Adopt(std::shared_ptr<const Tracked>(std::make_shared<Tracked>(&first)));
    }
    late = reclaimer.Adopt(std::shared_ptr<const Tracked>(std::make_shared<Tracked>(&second)));
  }  // joins after freeing all 100
  EXPECT_NE(first.load(), std::thread::id{});
  EXPECT_EQ(second.load(), std::thread::id{});
  late.reset();  // the reclaimer is gone: freed here
  EXPECT_EQ(second.load(), std::this_thread::get_id());
}

}  // namespace
}  // namespace ranker
