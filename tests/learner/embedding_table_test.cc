#include "learner/embedding_table.h"

#include <gtest/gtest.h>

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

TEST(EmbeddingTable, RowsSurviveGrowthAcrossChunks) {
  EmbeddingTable t(2, 2, 0, 1, 0.1);
  t.Mutable(1)[0] = 123;
  const Real* first = t.Find(1);
  for (uint64_t k = 2; k < 10000; ++k) t.Mutable(k);
  EXPECT_EQ(t.Find(1), first);  // rows never move
  EXPECT_EQ(t.Find(1)[0], 123);
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

}  // namespace
}  // namespace ranker::learner
