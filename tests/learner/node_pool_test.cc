// NodePool: blocks are distinct and writable while held, freed blocks are
// reused (the footprint stays at the high-water mark), and blocks freed on
// another thread come back to the allocating one in batches.
#include "learner/node_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace ranker::learner {
namespace {

TEST(NodePool, BlocksAreDistinctAlignedAndRoundedTo16) {
  NodePool pool(136);
  EXPECT_EQ(pool.block_bytes(), 144u);
  std::set<char*> seen;
  std::vector<char*> held;
  for (int i = 0; i < 5000; ++i) {
    auto* p = static_cast<char*>(pool.Allocate());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u);
    std::memset(p, i & 0xff, pool.block_bytes());
    EXPECT_TRUE(seen.insert(p).second) << "block handed out twice";
    held.push_back(p);
  }
  for (size_t i = 0; i < held.size(); ++i) {
    ASSERT_EQ(static_cast<unsigned char>(held[i][pool.block_bytes() - 1]), i & 0xff);
  }
  for (char* p : held) pool.Free(p);
}

TEST(NodePool, FreedBlocksAreReusedAcrossThreads) {
  if (!NodePool::Pooling()) GTEST_SKIP() << "the pool steps aside under AddressSanitizer";
  NodePool pool(136);
  constexpr int kBlocks = 20000;
  for (int round = 0; round < 5; ++round) {
    std::vector<void*> blocks;
    for (int i = 0; i < kBlocks; ++i) blocks.push_back(pool.Allocate());
    // Freed on another thread, as an era's end frees a writer's nodes.
    std::thread reclaim([&] {
      for (void* p : blocks) pool.Free(p);
    });
    reclaim.join();
  }
  // Five rounds of 20k blocks, each freed before the next: the footprint is
  // one round's (plus the batches in flight), not five.
  const size_t one_round = kBlocks * pool.block_bytes();
  EXPECT_GE(pool.SlabBytes(), one_round);
  EXPECT_LT(pool.SlabBytes(), one_round + one_round / 2);
}

}  // namespace
}  // namespace ranker::learner
