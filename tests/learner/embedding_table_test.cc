#include "learner/embedding_table.h"

#include <gtest/gtest.h>

#include <unordered_map>
#include <unordered_set>

#include "base/random.h"

namespace ranker::learner {
namespace {

TEST(EmbeddingTable, InitialRowsAreAPureFunctionOfKeyAndSeed) {
  const EmbeddingTable a(4, 4, 0.1f, 1, 0.05), b(4, 4, 0.1f, 1, 0.05), c(4, 4, 0.1f, 2, 0.05);
  Real x[4], y[4], z[4], other[4];
  a.InitialWeights(42, x);
  b.InitialWeights(42, y);
  c.InitialWeights(42, z);
  a.InitialWeights(43, other);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(x[i], y[i]);
    EXPECT_LE(std::abs(x[i]), 0.05f);
  }
  EXPECT_NE(x[0], z[0]);
  EXPECT_NE(x[0], other[0]);
}

TEST(EmbeddingTable, LookupDoesNotInsertAndMatchesTheRowLaterCreated) {
  EmbeddingTable t(3, 3, 0.1f, 7, 0.5);
  Real served[3];
  t.Lookup(99, served);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.Find(99), nullptr);
  const std::span<Real> row = t.Mutable(99);
  ASSERT_EQ(row.size(), 6u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(row[i], served[i]);
  for (int i = 3; i < 6; ++i) EXPECT_EQ(row[i], 0.1f);  // optimizer state init
  EXPECT_EQ(t.size(), 1u);
}

TEST(EmbeddingTable, TracksDirtyRowsUntilCleared) {
  EmbeddingTable t(2, 2, 0, 1, 0.1);
  t.Mutable(5);
  t.Mutable(6);
  t.Mutable(5);
  EXPECT_EQ(t.dirty_keys(), (std::vector<uint64_t>{5, 6}));
  t.ClearDirty();
  EXPECT_TRUE(t.dirty_keys().empty());
  t.Mutable(6)[0] = 3;
  EXPECT_EQ(t.dirty_keys(), (std::vector<uint64_t>{6}));
}

TEST(EmbeddingTable, RowsSurviveGrowthAcrossTrieSplits) {
  EmbeddingTable t(2, 2, 0, 1, 0.1);
  t.Mutable(1)[0] = 123;
  for (uint64_t k = 2; k < 10000; ++k) t.Mutable(k)[1] = static_cast<Real>(k);
  EXPECT_EQ(t.Find(1)[0], 123);
  for (uint64_t k = 2; k < 10000; ++k) ASSERT_EQ(t.Find(k)[1], static_cast<Real>(k));
  EXPECT_GT(t.TrieStats().max_depth, 1);
  EXPECT_EQ(t.size(), 9999u);
}

TEST(EmbeddingTable, DigestAndImageIgnoreInsertionOrder) {
  EmbeddingTable a(2, 2, 0, 1, 0.1), b(2, 2, 0, 1, 0.1);
  for (uint64_t k : {3, 1, 2}) a.Mutable(k)[1] = static_cast<Real>(k);
  for (uint64_t k : {2, 3, 1}) b.Mutable(k)[1] = static_cast<Real>(k);
  Digest64 da, db;
  a.Digest(&da);
  b.Digest(&db);
  EXPECT_EQ(da.value(), db.value());
  std::string ia, ib;
  a.Serialize(&ia);
  b.Serialize(&ib);
  EXPECT_EQ(ia, ib);
  EmbeddingTable c(2, 2, 0, 1, 0.1);
  Decoder in(ia, "table");
  ASSERT_TRUE(c.Deserialize(&in).ok());
  EXPECT_TRUE(in.done());
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.Find(3)[1], 3);
  b.Mutable(2)[0] += 1;
  Digest64 db2;
  b.Digest(&db2);
  EXPECT_NE(db2.value(), da.value());
}

TEST(EmbeddingTable, CorruptImagesFailCleanly) {
  EmbeddingTable a(2, 2, 0, 1, 0.1);
  a.Mutable(1);
  std::string image;
  a.Serialize(&image);
  EmbeddingTable other_width(3, 3, 0, 1, 0.1);
  Decoder in(image, "table");
  EXPECT_EQ(other_width.Deserialize(&in).code(), Status::Code::kCorruption);
  EmbeddingTable b(2, 2, 0, 1, 0.1);
  Decoder truncated(std::string_view(image).substr(0, image.size() - 3), "table");
  EXPECT_EQ(b.Deserialize(&truncated).code(), Status::Code::kCorruption);
}

// Expiry removes rows from the middle of leaves and whole subtrees of the
// trie; a std::unordered_map oracle of every live row checks that no row is
// lost, duplicated or mixed up over many inserts and removals, and that
// sweeps (now O(expired), from a heap) remove exactly the rows last seen
// before clock - ttl, as the old full scan did.
TEST(EmbeddingTable, ExpiryKeepsEveryLiveRowAgainstAnOracle) {
  constexpr int64_t kTtl = 40;
  EmbeddingTable t(2, 2, 0, 1, 0.1, RowPolicy{.ttl_ms = kTtl});
  struct Live {
    Real value;
    int64_t last_seen;
  };
  std::unordered_map<uint64_t, Live> oracle;
  std::unordered_set<uint64_t> removed_since_clear;
  Rng rng(11);
  uint64_t removed_total = 0;
  for (int64_t now = 0; now < 3000; ++now) {
    for (int i = 0; i < 8; ++i) {
      // Half the keys share their low 16 bits: long probe runs.
      const uint64_t r = rng.Below(4000);
      const uint64_t key = r % 2 ? Mix64(r) : (Mix64(r) << 16) | 0x2a;
      const Real value = static_cast<Real>(rng.Below(1000000));
      t.Mutable(key, now)[1] = value;
      oracle[key] = {value, now};
      removed_since_clear.erase(key);
    }
    t.EndStep({.probation = {}, .newest_ts_ms = now});
    for (auto it = oracle.begin(); it != oracle.end();) {
      const Real* row = t.Find(it->first);
      if (row == nullptr) {
        ASSERT_LT(it->second.last_seen, now - kTtl) << "a live row was lost";
        removed_since_clear.insert(it->first);
        ++removed_total;
        it = oracle.erase(it);
        continue;
      }
      ASSERT_EQ(row[1], it->second.value);
      ASSERT_EQ(t.LastSeen(it->first), it->second.last_seen);
      // Swept at least every ttl/4 of event time.
      ASSERT_GE(it->second.last_seen, now - kTtl - kTtl / 4 - 1);
      ++it;
    }
    ASSERT_EQ(t.size(), oracle.size());
    if (now % 97 == 0) {
      const std::vector<uint64_t>& removed = t.removed_keys();
      ASSERT_EQ(std::unordered_set<uint64_t>(removed.begin(), removed.end()), removed_since_clear);
      ASSERT_EQ(removed.size(), removed_since_clear.size());
      for (uint64_t k : t.dirty_keys()) ASSERT_TRUE(oracle.contains(k));
      t.ClearDirty();
      removed_since_clear.clear();
    }
  }
  EXPECT_EQ(t.evicted_rows(), removed_total);
  EXPECT_GT(removed_total, 10000u);
  EXPECT_EQ(t.Find(Mix64(123456789)), nullptr);
}

TEST(EmbeddingTable, ARemovedKeyCreatedAgainIsOnlyDirty) {
  EmbeddingTable t(2, 2, 0, 1, 0.1, RowPolicy{.ttl_ms = 10});
  t.Mutable(7, 0);
  t.Mutable(8, 0);
  t.ClearDirty();
  t.EndStep({.probation = {}, .newest_ts_ms = 100});
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.removed_keys().size(), 2u);
  t.Mutable(7, 100);
  EXPECT_EQ(t.removed_keys(), (std::vector<uint64_t>{8}));
  EXPECT_EQ(t.dirty_keys(), (std::vector<uint64_t>{7}));
  Real initial[2];
  t.InitialWeights(7, initial);
  EXPECT_EQ(t.Find(7)[0], initial[0]);  // starts over
}

TEST(EmbeddingTable, ExportedRowsCarryTheirLastSeenTime) {
  EmbeddingTable a(2, 2, 0, 1, 0.1, RowPolicy{.ttl_ms = 10});
  a.Mutable(5, 1234)[0] = 9;
  std::string bytes;
  ASSERT_TRUE(a.ExportRow(5, &bytes));
  EXPECT_FALSE(a.ExportRow(6, &bytes));
  EmbeddingTable b(2, 2, 0, 1, 0.1, RowPolicy{.ttl_ms = 10});
  ASSERT_TRUE(b.ImportRow(5, bytes).ok());
  EXPECT_EQ(b.LastSeen(5), 1234);
  EXPECT_EQ(b.Find(5)[0], 9);
  EXPECT_TRUE(b.dirty_keys().empty());
  EXPECT_EQ(b.ImportRow(5, std::string_view(bytes).substr(1)).code(), Status::Code::kCorruption);
}

TEST(EmbeddingTable, MetaStateRoundTripsAndEntersTheDigest) {
  const RowPolicy policy{.admit_after = 3, .admit_sketch_bytes = 4096, .ttl_ms = 10};
  EmbeddingTable a(2, 2, 0, 1, 0.1, policy);
  a.Mutable(1, 0);
  a.EndStep({.probation = {{2, 1}}, .newest_ts_ms = 50});  // expires key 1
  std::string meta;
  a.SerializeMeta(&meta);
  EmbeddingTable b(2, 2, 0, 1, 0.1, policy);
  Digest64 before;
  b.Digest(&before);
  Decoder in(meta, "meta");
  ASSERT_TRUE(b.DeserializeMeta(&in).ok());
  EXPECT_TRUE(in.done());
  EXPECT_EQ(b.clock_ms(), 50);
  EXPECT_EQ(b.evicted_rows(), 1u);
  EXPECT_EQ(b.admitted_rows(), 1u);
  EXPECT_EQ(b.rejected_sightings(), 1u);
  EXPECT_TRUE(b.Admits(2, 2));
  EXPECT_FALSE(b.Admits(2, 1));
  Digest64 da, db;
  a.Digest(&da);
  b.Digest(&db);
  EXPECT_EQ(da.value(), db.value());
  EXPECT_NE(db.value(), before.value());
  // A sketch of another size cannot be restored into this one.
  EmbeddingTable other(2, 2, 0, 1, 0.1, RowPolicy{.admit_after = 3, .admit_sketch_bytes = 8192});
  Decoder again(meta, "meta");
  EXPECT_EQ(other.DeserializeMeta(&again).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace ranker::learner
