// Expiry of embedding rows not used for embedding_ttl_ms of event time, and
// determinism (with admission) across a snapshot-style save and restore.
#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

#include "base/random.h"
#include "learner/embedding_table.h"
#include "learner/model.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

using testing::MustCreate;
using testing::SmallModel;
using testing::Str;

// One example per `step_ms` of event time: users from a long-tailed pool
// (many seen once or twice), a few items.
std::vector<Example> Stream(size_t n, uint64_t seed, int64_t start_ms, int64_t step_ms) {
  Rng rng(seed);
  std::vector<Example> out;
  for (size_t i = 0; i < n; ++i) {
    Example e;
    const uint64_t item = rng.Below(30);
    const uint64_t user = rng.Bernoulli(0.5) ? rng.Below(40) : 40 + rng.Below(1000);
    e.item_id = Str("i", item);
    e.ts_ms = start_ms + static_cast<int64_t>(i) * step_ms;
    e.categorical = {
        {"user_id", Str("u", user)}, {"item_id", e.item_id}, {"item.category", Str("k", item % 4)}};
    e.dense = {{"price", static_cast<double>(item)}};
    const bool click = rng.Bernoulli(item < 5 ? 0.7 : 0.1);
    e.labels = {click ? 1.0 : 0.0, click ? 5.0 : 0.0};
    out.push_back(std::move(e));
  }
  return out;
}

void Train(Model* m, const std::vector<Example>& ex, size_t begin, size_t end, size_t batch) {
  for (size_t i = begin; i < end; i += batch) {
    m->TrainStep(std::span(ex).subspan(i, std::min(batch, end - i)));
  }
}

ModelOptions Bounded() {
  ModelOptions o = SmallModel();
  o.embedding_admit_after = 2;
  o.embedding_admit_sketch_bytes = 1 << 14;
  o.embedding_ttl_ms = 2000;
  return o;
}

// What a snapshot stores: the state blob and every row.
std::unique_ptr<Model> SaveAndRestore(const Model& m) {
  std::string state;
  m.SerializeState(&state);
  std::vector<std::pair<uint64_t, std::string>> rows;
  for (uint64_t key : m.embeddings().SortedKeys()) {
    std::string bytes;
    EXPECT_TRUE(m.embeddings().ExportRow(key, &bytes));
    rows.emplace_back(key, std::move(bytes));
  }
  StatusOr<std::unique_ptr<Model>> r = Model::Restore(state, rows, m.options(), OptimizerOptions());
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) std::abort();
  return std::move(r).value();
}

TEST(EmbeddingExpiry, RowsUnusedForTheTtlAreRemovedAndCounted) {
  ModelOptions o = SmallModel();
  o.embedding_ttl_ms = 1000;
  auto m = MustCreate(o, OptimizerOptions());
  Example old = Stream(1, 1, 0, 1)[0];
  old.categorical[0].value = "gone-soon";
  m->TrainStep(std::span(&old, 1));
  const uint64_t key = FeatureKey("user_id", "gone-soon");
  ASSERT_NE(m->embeddings().Find(key), nullptr);
  EXPECT_EQ(m->embeddings().LastSeen(key), 0);
  m->ClearDirtyRows();
  // Event time moves on without the value: it expires within ttl * 5/4.
  const std::vector<Example> later = Stream(400, 2, 10, 4);
  Train(m.get(), later, 0, later.size(), 8);
  EXPECT_EQ(m->embeddings().Find(key), nullptr);
  const std::vector<uint64_t>& removed = m->embeddings().removed_keys();
  EXPECT_NE(std::find(removed.begin(), removed.end(), key), removed.end());
  for (uint64_t k : removed) {
    EXPECT_EQ(
        std::count(m->embeddings().dirty_keys().begin(), m->embeddings().dirty_keys().end(), k), 0);
  }
  EXPECT_GT(m->embeddings().evicted_rows(), 0u);
  EXPECT_EQ(m->embeddings().admitted_rows() - m->embeddings().evicted_rows(), m->embedding_rows());
  EXPECT_EQ(m->embeddings().clock_ms(), later.back().ts_ms);
}

TEST(EmbeddingExpiry, ExamplesWithoutTimeNeitherRefreshNorAdvanceTheClock) {
  ModelOptions o = SmallModel();
  o.embedding_ttl_ms = 1000;
  auto m = MustCreate(o, OptimizerOptions());
  std::vector<Example> ex = Stream(600, 3, 0, 4);
  for (Example& e : ex) e.categorical[0].value = "always";
  const uint64_t key = FeatureKey("user_id", "always");
  m->TrainStep(std::span(ex).first(1));
  // The same value again, but with unknown times: no refresh, no clock.
  for (size_t i = 1; i < 100; ++i) ex[i].ts_ms = -1;
  Train(m.get(), ex, 1, 100, 4);
  EXPECT_EQ(m->embeddings().LastSeen(key), 0);
  EXPECT_EQ(m->embeddings().clock_ms(), 0);
  // Timed examples without the value: it expires.
  for (size_t i = 100; i < ex.size(); ++i) ex[i].categorical[0].value = "someone-else";
  Train(m.get(), ex, 100, ex.size(), 4);
  EXPECT_EQ(m->embeddings().Find(key), nullptr);
  // Seen again, it gets a new row.
  std::vector<Example> again = Stream(1, 4, ex.back().ts_ms + 1, 1);
  again[0].categorical[0].value = "always";
  m->TrainStep(again);
  EXPECT_EQ(m->embeddings().LastSeen(key), again[0].ts_ms);
}

// An endless stream of fresh values: with expiry the rows stay bounded by
// the values seen within ttl * 5/4 of event time (here 1 user per ms).
TEST(EmbeddingExpiry, EndlessFreshValuesKeepTheRowCountBounded) {
  ModelOptions o;
  o.categorical_slots = 3;
  o.embedding_dim = 2;
  o.dense_slots = 0;
  o.num_experts = 1;
  o.expert_hidden = {4};
  o.tower_hidden = {2};
  o.position_tower = false;
  o.embedding_ttl_ms = 1000;
  auto m = MustCreate(o, OptimizerOptions());
  constexpr size_t kExamples = 200000, kBatch = 64;
  std::vector<Example> batch(kBatch);
  size_t peak = 0;
  for (size_t i = 0; i < kExamples; i += kBatch) {
    for (size_t b = 0; b < kBatch; ++b) {
      Example& e = batch[b];
      e.ts_ms = static_cast<int64_t>(i + b);
      e.categorical = {{"user_id", Str("fresh", i + b)}, {"item_id", Str("i", (i + b) % 50)}};
      e.labels = {(i + b) % 3 == 0 ? 1.0 : 0.0, 0.0};
    }
    m->TrainStep(batch);
    peak = std::max(peak, m->embedding_rows());
  }
  const size_t bound = 1000 + 1000 / 4 + kBatch + 50;
  EXPECT_LE(peak, bound);
  EXPECT_GE(m->embedding_rows(), 1000u);  // the recent ones are kept
  EXPECT_EQ(m->embeddings().admitted_rows(), kExamples + 50);
  EXPECT_EQ(m->embeddings().evicted_rows(), kExamples + 50 - m->embedding_rows());
}

// Same options and ordered examples: bit-identical, with admission and
// expiry on; a save/restore in the middle changes nothing (the restored
// table is built in another row order).
TEST(EmbeddingExpiry, SaveRestoreContinuesBitIdenticallyWithAdmissionAndExpiry) {
  const std::vector<Example> ex = Stream(3000, 9, 1'700'000'000'000, 3);
  auto a = MustCreate(Bounded(), OptimizerOptions());
  auto b = MustCreate(Bounded(), OptimizerOptions());
  Train(a.get(), ex, 0, ex.size(), 16);
  Train(b.get(), ex, 0, 1504, 16);
  const uint64_t evicted_at_save = b->embeddings().evicted_rows();
  std::unique_ptr<Model> c = SaveAndRestore(*b);
  EXPECT_EQ(c->ParamChecksum(), b->ParamChecksum());
  EXPECT_EQ(c->embeddings().evicted_rows(), b->embeddings().evicted_rows());
  EXPECT_EQ(c->embeddings().clock_ms(), b->embeddings().clock_ms());
  Train(b.get(), ex, 1504, ex.size(), 16);
  Train(c.get(), ex, 1504, ex.size(), 16);
  EXPECT_EQ(b->ParamChecksum(), a->ParamChecksum());
  EXPECT_EQ(c->ParamChecksum(), a->ParamChecksum());
  EXPECT_EQ(c->embeddings().SortedKeys(), a->embeddings().SortedKeys());
  // Both features did something.
  EXPECT_GT(a->embeddings().evicted_rows(), 100u);
  EXPECT_GT(a->embeddings().rejected_sightings(), 100u);
  EXPECT_GT(c->embeddings().evicted_rows(), evicted_at_save);
  // The full image carries the same state.
  std::string image;
  a->Serialize(&image);
  StatusOr<std::unique_ptr<Model>> d = Model::Deserialize(image, Bounded(), OptimizerOptions());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)->ParamChecksum(), a->ParamChecksum());
}

TEST(EmbeddingExpiry, TheDigestSeesLastSeenTimesAndTheSketch) {
  const RowPolicy policy{.admit_after = 2, .admit_sketch_bytes = 1024, .ttl_ms = 100};
  EmbeddingTable a(2, 2, 0, 1, 0.1, policy), b(2, 2, 0, 1, 0.1, policy), c(2, 2, 0, 1, 0.1, policy);
  a.Mutable(1, 10);
  b.Mutable(1, 20);  // same weights, another last-seen time
  c.Mutable(1, 10);
  c.EndStep({.probation = {{2, 1}}, .newest_ts_ms = -1});  // only the sketch moves
  Digest64 da, db, dc;
  a.Digest(&da);
  b.Digest(&db);
  c.Digest(&dc);
  EXPECT_EQ(a.Find(1)[0], b.Find(1)[0]);
  EXPECT_NE(da.value(), db.value());
  EXPECT_NE(da.value(), dc.value());
}

}  // namespace
}  // namespace ranker::learner
