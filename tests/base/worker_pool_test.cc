#include "base/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <thread>
#include <vector>

namespace ranker {
namespace {

TEST(WorkerPool, RunsEveryIndexOnceAcrossConcurrentCallers) {
  WorkerPool pool(2, "test-pool");
  constexpr int kCallers = 4, kLoops = 50, kN = 37;
  std::vector<std::vector<std::atomic<int>>> hits(kCallers);
  for (auto& h : hits) h = std::vector<std::atomic<int>>(kN);
  std::vector<std::thread> callers;
  for (int c = 0; c < kCallers; ++c) {
    callers.emplace_back([&, c] {
      for (int loop = 0; loop < kLoops; ++loop) {
        pool.ParallelFor(kN, [&](int i) { hits[c][i].fetch_add(1); });
      }
    });
  }
  for (std::thread& t : callers) t.join();
  for (const auto& h : hits) {
    for (int i = 0; i < kN; ++i) EXPECT_EQ(h[i].load(), kLoops) << i;
  }
}

TEST(WorkerPool, HelpersShareTheLoop) {
  WorkerPool pool(1, "test-pool");
  std::mutex mu;
  std::set<std::thread::id> threads;
  // Each index waits a little, so the helper has time to claim some.
  pool.ParallelFor(16, [&](int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    std::lock_guard<std::mutex> lock(mu);
    threads.insert(std::this_thread::get_id());
  });
  EXPECT_EQ(threads.size(), 2u);
  EXPECT_TRUE(threads.count(std::this_thread::get_id()));
}

// A caller never waits for a helper that is busy elsewhere: with the only
// helper stuck in another loop, a second loop still finishes, on its caller.
TEST(WorkerPool, ACallerFinishesAloneWhenTheHelpersAreBusy) {
  WorkerPool pool(1, "test-pool");
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  // Two indices that block: the first caller runs one, the helper the other.
  std::atomic<int> stuck{0};
  std::thread first([&] {
    pool.ParallelFor(2, [&](int) {
      stuck.fetch_add(1);
      released.wait();
    });
  });
  while (stuck.load() < 2) std::this_thread::yield();
  int ran = 0;
  pool.ParallelFor(8, [&](int) { ++ran; });  // would hang if it waited for the helper
  EXPECT_EQ(ran, 8);
  release.set_value();
  first.join();
}

TEST(WorkerPool, WithoutHelpersRunsInlineInOrder) {
  WorkerPool pool(0, "test-pool");
  std::vector<int> order;
  pool.ParallelFor(5, [&](int i) { order.push_back(i); });
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_EQ(pool.helpers(), 0);
}

}  // namespace
}  // namespace ranker
