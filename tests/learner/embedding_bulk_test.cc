// EmbeddingTable::BulkImport and RowTrie::Builder (a snapshot restore's bulk
// load) against the row-by-row path: the same rows, lookups, digest, trie
// shape and expiry; bad rows and repeated keys rejected with a named error.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "base/hash.h"
#include "base/random.h"
#include "learner/embedding_table.h"
#include "learner/row_trie.h"

namespace ranker::learner {
namespace {

using Rows = std::vector<std::pair<uint64_t, std::string>>;

RowPolicy Ttl(int64_t ttl_ms) {
  RowPolicy p;
  p.ttl_ms = ttl_ms;
  return p;
}

EmbeddingTable NewTable(const RowPolicy& policy = {}) {
  return EmbeddingTable(4, 4, 0.1f, 7, 0.05, policy);
}

// n rows with distinct random keys, trained a little so their values and
// last-seen times differ, exported in ascending key order (a snapshot's).
Rows SomeRows(size_t n, uint64_t seed) {
  EmbeddingTable source = NewTable();
  Rng rng(seed);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t key = rng.NextU64();
    const std::span<Real> row = source.Mutable(key, static_cast<int64_t>(rng.Below(1000)));
    for (Real& v : row) v += static_cast<Real>(rng.Uniform());
  }
  Rows rows;
  for (uint64_t key : source.SortedKeys()) {
    std::string bytes;
    EXPECT_TRUE(source.ExportRow(key, &bytes));
    rows.emplace_back(key, std::move(bytes));
  }
  return rows;
}

uint64_t DigestOf(const EmbeddingTable& t) {
  Digest64 d;
  t.Digest(&d);
  return d.value();
}

std::vector<uint64_t> TrieOrder(const EmbeddingTable& t) {
  std::vector<uint64_t> keys;
  t.ForEachKey([&](uint64_t key) { keys.push_back(key); });
  return keys;
}

void ExpectSameTable(const EmbeddingTable& a, const EmbeddingTable& b, const Rows& rows) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(DigestOf(a), DigestOf(b));
  const RowTrie::Stats sa = a.TrieStats(), sb = b.TrieStats();
  EXPECT_EQ(sa.inner_nodes, sb.inner_nodes);
  EXPECT_EQ(sa.leaves, sb.leaves);
  EXPECT_EQ(sa.bytes, sb.bytes);
  EXPECT_EQ(sa.max_depth, sb.max_depth);
  const size_t stride = static_cast<size_t>(a.dim() + a.state_width());
  for (const auto& [key, bytes] : rows) {
    const Real* ra = a.Find(key);
    const Real* rb = b.Find(key);
    ASSERT_NE(ra, nullptr);
    ASSERT_NE(rb, nullptr);
    ASSERT_TRUE(std::equal(ra, ra + stride, rb)) << key;
    EXPECT_EQ(a.LastSeen(key), b.LastSeen(key));
    EXPECT_EQ(a.RowHash(key), b.RowHash(key));
    std::string back;
    ASSERT_TRUE(b.ExportRow(key, &back));
    EXPECT_EQ(back, bytes);
  }
  Real la[4], lb[4];
  a.Lookup(12345, la);  // no row: its initial weights in both
  b.Lookup(12345, lb);
  EXPECT_TRUE(std::equal(la, la + 4, lb));
}

TEST(EmbeddingBulkImport, GivesTheTableThatRowByRowImportGives) {
  for (size_t n : {0, 1, 16, 17, 300, 20000}) {
    SCOPED_TRACE(n);
    const Rows rows = SomeRows(n, n + 1);
    EmbeddingTable one_by_one = NewTable(), bulk = NewTable();
    for (const auto& [key, bytes] : rows) ASSERT_TRUE(one_by_one.ImportRow(key, bytes).ok());
    EmbeddingTable::BulkImport import(&bulk);
    for (const auto& [key, bytes] : rows) ASSERT_TRUE(import.Add(key, bytes).ok());
    EXPECT_EQ(import.size(), n);
    ASSERT_TRUE(import.Finish().ok());
    ExpectSameTable(one_by_one, bulk, rows);
    // Keys streamed ascending: the same trie, row for row.
    EXPECT_EQ(TrieOrder(one_by_one), TrieOrder(bulk));
    EXPECT_TRUE(bulk.dirty_keys().empty());
  }
}

TEST(EmbeddingBulkImport, AnyOrderGivesTheSameRowsAndShape) {
  Rows rows = SomeRows(5000, 3);
  EmbeddingTable sorted = NewTable(), shuffled = NewTable();
  EmbeddingTable::BulkImport a(&sorted);
  for (const auto& [key, bytes] : rows) ASSERT_TRUE(a.Add(key, bytes).ok());
  ASSERT_TRUE(a.Finish().ok());
  Rng rng(9);
  for (size_t i = rows.size() - 1; i > 0; --i) std::swap(rows[i], rows[rng.Below(i + 1)]);
  EmbeddingTable::BulkImport b(&shuffled);
  for (const auto& [key, bytes] : rows) ASSERT_TRUE(b.Add(key, bytes).ok());
  ASSERT_TRUE(b.Finish().ok());
  ExpectSameTable(sorted, shuffled, rows);
  EXPECT_EQ(TrieOrder(sorted), TrieOrder(shuffled));  // rows in key order within each leaf
}

TEST(EmbeddingBulkImport, TheBulkTableLearnsAndCopiesLikeAnyOther) {
  const Rows rows = SomeRows(2000, 5);
  EmbeddingTable one_by_one = NewTable(), bulk = NewTable();
  for (const auto& [key, bytes] : rows) ASSERT_TRUE(one_by_one.ImportRow(key, bytes).ok());
  EmbeddingTable::BulkImport import(&bulk);
  for (const auto& [key, bytes] : rows) ASSERT_TRUE(import.Add(key, bytes).ok());
  ASSERT_TRUE(import.Finish().ok());
  const EmbeddingTable published = bulk;  // shares the rows
  const uint64_t before = DigestOf(published);
  for (EmbeddingTable* t : {&one_by_one, &bulk}) {
    for (size_t i = 0; i < rows.size(); i += 7) t->Mutable(rows[i].first, 5000)[0] += 1;
    t->Mutable(42, 5000)[1] = 2;  // a new row
    t->EndStep({});
  }
  EXPECT_EQ(DigestOf(one_by_one), DigestOf(bulk));
  EXPECT_NE(DigestOf(bulk), before);
  EXPECT_EQ(DigestOf(published), before);  // the copy did not change
}

TEST(EmbeddingBulkImport, ExpiresLikeRowByRowImport) {
  const Rows rows = SomeRows(3000, 11);  // last-seen times in [0, 1000)
  EmbeddingTable one_by_one = NewTable(Ttl(400)), bulk = NewTable(Ttl(400));
  for (const auto& [key, bytes] : rows) ASSERT_TRUE(one_by_one.ImportRow(key, bytes).ok());
  EmbeddingTable::BulkImport import(&bulk);
  for (const auto& [key, bytes] : rows) ASSERT_TRUE(import.Add(key, bytes).ok());
  ASSERT_TRUE(import.Finish().ok());
  for (EmbeddingTable* t : {&one_by_one, &bulk}) {
    StepSightings step;
    step.newest_ts_ms = 1000;  // removes the rows last seen before 600
    t->EndStep(step);
  }
  EXPECT_GT(bulk.evicted_rows(), 1000u);
  EXPECT_LT(bulk.size(), rows.size());
  EXPECT_EQ(bulk.evicted_rows(), one_by_one.evicted_rows());
  std::vector<uint64_t> ra = one_by_one.removed_keys(), rb = bulk.removed_keys();
  std::sort(ra.begin(), ra.end());
  std::sort(rb.begin(), rb.end());
  EXPECT_EQ(ra, rb);
  EXPECT_EQ(DigestOf(one_by_one), DigestOf(bulk));
}

TEST(EmbeddingBulkImport, RejectsARepeatedKeyByName) {
  const Rows rows = SomeRows(500, 13);
  EmbeddingTable t = NewTable();
  EmbeddingTable::BulkImport import(&t);
  for (const auto& [key, bytes] : rows) ASSERT_TRUE(import.Add(key, bytes).ok());
  ASSERT_TRUE(import.Add(rows[200].first, rows[201].second).ok());  // checked at Finish
  const Status s = import.Finish();
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("embedding row " + std::to_string(rows[200].first)), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("twice"), std::string::npos) << s.message();
  EXPECT_EQ(t.size(), 0u);  // nothing changed
  EXPECT_EQ(DigestOf(t), DigestOf(NewTable()));
}

TEST(EmbeddingBulkImport, RejectsAMalformedRowByName) {
  const Rows rows = SomeRows(100, 17);
  EmbeddingTable t = NewTable();
  EmbeddingTable::BulkImport import(&t);
  ASSERT_TRUE(import.Add(rows[0].first, rows[0].second).ok());
  const Status s = import.Add(rows[1].first, std::string_view(rows[1].second).substr(1));
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("embedding row " + std::to_string(rows[1].first)), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("bytes, expected"), std::string::npos) << s.message();
  // A row of the right size whose array length is wrong.
  std::string bad = rows[2].second;
  bad[0] ^= 1;
  EmbeddingTable u = NewTable();
  EmbeddingTable::BulkImport other(&u);
  EXPECT_EQ(other.Add(rows[2].first, bad).code(), Status::Code::kCorruption);
  EXPECT_EQ(other.Finish().code(), Status::Code::kCorruption);
  // The import is failed from the first bad row on.
  EXPECT_EQ(import.Add(rows[3].first, rows[3].second).code(), Status::Code::kCorruption);
  EXPECT_EQ(import.Finish().code(), Status::Code::kCorruption);
  EXPECT_EQ(t.size(), 0u);
}

TEST(EmbeddingBulkImport, NeedsATableWithoutRows) {
  const Rows rows = SomeRows(10, 19);
  EmbeddingTable t = NewTable();
  t.Mutable(1);
  EmbeddingTable::BulkImport import(&t);
  ASSERT_TRUE(import.Add(rows[0].first, rows[0].second).ok());
  EXPECT_EQ(import.Finish().code(), Status::Code::kFailedPrecondition);
  EXPECT_EQ(t.size(), 1u);
}

TEST(RowTrieBuilder, BuildsTheTrieThatInsertsBuildInAnyOrder) {
  for (size_t n : {0, 5, 16, 17, 256, 4097, 30000}) {
    SCOPED_TRACE(n);
    Rng rng(n);
    std::vector<uint64_t> keys(n);
    for (uint64_t& k : keys) k = rng.NextU64() % (4 * n + 1);  // small keys: deep shared prefixes
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    RowTrie inserted(3), built(3);
    RowTrie::Builder builder(3);
    for (uint64_t key : keys) {
      const RowTrie::Row a = inserted.Insert(key);
      const RowTrie::Row b = builder.Add(key);
      for (int i = 0; i < 3; ++i) a.values[i] = b.values[i] = static_cast<Real>(key % 97 + i);
      *a.last_seen = *b.last_seen = static_cast<int64_t>(key);
    }
    size_t visited = 0;
    uint64_t duplicate = 0;
    ASSERT_TRUE(builder.Finish(
        &built,
        [&](uint64_t key, RowTrie::ConstRow row) {
          ++visited;
          EXPECT_EQ(*row.last_seen, static_cast<int64_t>(key));
        },
        &duplicate));
    EXPECT_EQ(visited, keys.size());
    EXPECT_EQ(builder.size(), 0u);
    ASSERT_EQ(built.size(), inserted.size());
    std::vector<uint64_t> a, b;
    inserted.ForEach([&](uint64_t key, RowTrie::ConstRow) { a.push_back(key); });
    built.ForEach([&](uint64_t key, RowTrie::ConstRow row) {
      b.push_back(key);
      EXPECT_EQ(row.values[2], static_cast<Real>(key % 97 + 2));
    });
    EXPECT_EQ(a, b);
    const RowTrie::Stats sa = inserted.ComputeStats(), sb = built.ComputeStats();
    EXPECT_EQ(sa.inner_nodes, sb.inner_nodes);
    EXPECT_EQ(sa.leaves, sb.leaves);
    EXPECT_EQ(sa.bytes, sb.bytes);
    EXPECT_EQ(sa.max_depth, sb.max_depth);
    // The built trie takes writes and copies as an inserted one does.
    RowTrie copy = built;
    if (!keys.empty()) {
      ASSERT_TRUE(built.Erase(keys[0]));
      EXPECT_NE(copy.Find(keys[0]).values, nullptr);
    }
    built.Insert(~0ull);
    EXPECT_EQ(copy.Find(~0ull).values, nullptr);
  }
}

TEST(RowTrieBuilder, ReportsADuplicateKeyAndBuildsNothing) {
  RowTrie::Builder builder(2);
  for (uint64_t key : {5, 9, 100, 5}) builder.Add(key);
  RowTrie out(2);
  uint64_t duplicate = 0;
  EXPECT_FALSE(builder.Finish(
      &out, [](uint64_t, RowTrie::ConstRow) {}, &duplicate));
  EXPECT_EQ(duplicate, 5u);
  EXPECT_EQ(out.size(), 0u);
  // Many copies of one key: they never split apart.
  for (int i = 0; i < 40; ++i) builder.Add(77);
  EXPECT_FALSE(builder.Finish(
      &out, [](uint64_t, RowTrie::ConstRow) {}, &duplicate));
  EXPECT_EQ(duplicate, 77u);
  EXPECT_EQ(out.size(), 0u);
}

}  // namespace
}  // namespace ranker::learner
