// EmbeddingTable's dirty channels: each channel's dirty period is its own.
#include <gtest/gtest.h>

#include <algorithm>

#include "learner/embedding_table.h"

namespace ranker::learner {
namespace {

std::vector<uint64_t> Sorted(std::vector<uint64_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(EmbeddingChannels, ClearingOneChannelLeavesTheOtherDirty) {
  EmbeddingTable t(2, 2, 0, 1, 0.1);
  t.Mutable(5);
  t.Mutable(6);
  t.ClearDirty(0);
  EXPECT_TRUE(t.dirty_keys(0).empty());
  EXPECT_EQ(t.dirty_keys(1), (std::vector<uint64_t>{5, 6}));
  t.Mutable(6);  // dirty again on 0; already dirty on 1 (not listed twice)
  EXPECT_EQ(t.dirty_keys(0), (std::vector<uint64_t>{6}));
  EXPECT_EQ(t.dirty_keys(1), (std::vector<uint64_t>{5, 6}));
  t.ClearDirty(1);
  EXPECT_TRUE(t.dirty_keys(1).empty());
  EXPECT_EQ(t.dirty_keys(0), (std::vector<uint64_t>{6}));
  t.Mutable(5);
  EXPECT_EQ(t.dirty_keys(0), (std::vector<uint64_t>{6, 5}));
  EXPECT_EQ(t.dirty_keys(1), (std::vector<uint64_t>{5}));
}

// What a publication carried (ranker_model_publish_rows): distinct rows
// folded since the previous call, however many steps wrote each one.
TEST(EmbeddingChannels, ChangedRowCountIsDistinctRowsSinceTheLastCall) {
  EmbeddingTable t(2, 2, 0, 1, 0.1, RowPolicy{.ttl_ms = 10});
  for (int step = 0; step < 3; ++step) {  // rows 5 and 6 written in three steps
    t.Mutable(5, 0);
    t.Mutable(6, 0);
    t.FoldDigest();
  }
  t.Mutable(7, 0);
  t.FoldDigest();
  EXPECT_EQ(t.TakeChangedRowCount(), 3u);
  EXPECT_EQ(t.TakeChangedRowCount(), 0u);  // a new period
  t.Mutable(6, 0);
  t.Mutable(6, 0);
  EXPECT_EQ(t.TakeChangedRowCount(), 0u) << "counted once folded";
  t.FoldDigest();
  EXPECT_EQ(t.TakeChangedRowCount(), 1u);
  t.Mutable(9, 100);
  t.EndStep({.probation = {}, .newest_ts_ms = 100});  // 5, 6, 7 expire; 9 written
  t.Mutable(9, 100);
  t.FoldDigest();
  EXPECT_EQ(t.TakeChangedRowCount(), 4u) << "removed rows count as changed";
  // The dirty channels are not disturbed by the count's marks.
  EXPECT_EQ(t.dirty_keys(0), (std::vector<uint64_t>{9}));
}

TEST(EmbeddingChannels, RemovalsAreTrackedPerChannel) {
  EmbeddingTable t(2, 2, 0, 1, 0.1, RowPolicy{.ttl_ms = 10});
  t.Mutable(7, 0);
  t.Mutable(8, 0);
  t.ClearDirty(0);
  t.EndStep({.probation = {}, .newest_ts_ms = 100});  // both expire
  EXPECT_EQ(Sorted(t.removed_keys(0)), (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(Sorted(t.removed_keys(1)), (std::vector<uint64_t>{7, 8}));
  EXPECT_TRUE(t.dirty_keys(1).empty());  // expired rows leave the dirty lists
  t.ClearDirty(1);
  EXPECT_TRUE(t.removed_keys(1).empty());
  EXPECT_EQ(t.removed_keys(0).size(), 2u);
  t.Mutable(7, 100);  // created again: dirty, no longer removed, on both
  EXPECT_EQ(t.removed_keys(0), (std::vector<uint64_t>{8}));
  EXPECT_EQ(t.dirty_keys(0), (std::vector<uint64_t>{7}));
  EXPECT_EQ(t.dirty_keys(1), (std::vector<uint64_t>{7}));
}

TEST(EmbeddingChannels, SwapRemovalKeepsEachRowsChannelBits) {
  EmbeddingTable t(2, 2, 0, 1, 0.1, RowPolicy{.ttl_ms = 10});
  t.Mutable(1, 0);    // row 0, will expire
  t.Mutable(2, 100);  // row 1, moves into row 0
  t.ClearDirty(1);
  t.Mutable(2, 100);
  t.ClearDirty(0);
  EXPECT_EQ(t.dirty_keys(0).size(), 0u);
  t.EndStep({.probation = {}, .newest_ts_ms = 100});
  ASSERT_NE(t.Find(2), nullptr);
  t.Mutable(2, 100);  // clean on 0 (listed now), already dirty on 1 (not again)
  EXPECT_EQ(t.dirty_keys(0), (std::vector<uint64_t>{2}));
  EXPECT_EQ(t.dirty_keys(1), (std::vector<uint64_t>{2}));
}

}  // namespace
}  // namespace ranker::learner
