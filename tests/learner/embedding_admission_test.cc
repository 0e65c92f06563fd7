// Frequency admission: a value gets its own embedding row on its N-th
// training sighting; before that training and serving both treat it as
// missing.
#include <gtest/gtest.h>

#include <algorithm>

#include "learner/embedding_table.h"
#include "learner/model.h"
#include "learner/scorer.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

using testing::MakeExamples;
using testing::MustCreate;
using testing::SmallModel;

ModelOptions Admitting(int n) {
  ModelOptions o = SmallModel();
  o.position_tower = false;
  o.embedding_admit_after = n;
  o.embedding_admit_sketch_bytes = 1 << 16;
  return o;
}

// The example with its user_id feature dropped.
Example WithoutUser(Example e) {
  std::erase_if(e.categorical, [](const CategoricalFeature& f) { return f.field == "user_id"; });
  return e;
}

TEST(EmbeddingAdmission, TableCountsSightingsUntilTheNth) {
  EmbeddingTable t(2, 2, 0, 1, 0.5, RowPolicy{.admit_after = 3, .admit_sketch_bytes = 4096});
  EXPECT_FALSE(t.Admits(42, 1));
  EXPECT_FALSE(t.Admits(42, 2));
  EXPECT_TRUE(t.Admits(42, 3));  // three sightings in one step
  t.EndStep({.probation = {{42, 1}}, .newest_ts_ms = -1});
  EXPECT_FALSE(t.Admits(42, 1));
  t.EndStep({.probation = {{42, 1}}, .newest_ts_ms = -1});
  EXPECT_TRUE(t.Admits(42, 1));
  EXPECT_FALSE(t.Admits(43, 1));  // other keys are not affected
  EXPECT_EQ(t.rejected_sightings(), 2u);
}

TEST(EmbeddingAdmission, LookupOfAnUnknownKeyIsZeroWithAdmissionOn) {
  const EmbeddingTable on(3, 3, 0, 7, 0.5, RowPolicy{.admit_after = 2, .admit_sketch_bytes = 64});
  const EmbeddingTable off(3, 3, 0, 7, 0.5, RowPolicy{.admit_after = 1});
  Real a[3], b[3], initial[3];
  on.Lookup(99, a);
  off.Lookup(99, b);
  off.InitialWeights(99, initial);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a[i], 0);
    EXPECT_EQ(b[i], initial[i]);
    EXPECT_NE(initial[i], 0);
  }
  EXPECT_TRUE(off.Admits(99, 1));
}

TEST(EmbeddingAdmission, ModelCreatesTheRowOnTheNthSighting) {
  auto m = MustCreate(Admitting(3), OptimizerOptions());
  const std::vector<Example> ex = MakeExamples(3, 5);
  const uint64_t key = FeatureKey("user_id", "the-user");
  for (int i = 0; i < 3; ++i) {
    Example e = ex[i];
    e.categorical[0].value = "the-user";
    const size_t rows = m->embedding_rows();
    m->TrainStep(std::span(&e, 1));
    if (i < 2) {
      EXPECT_EQ(m->embeddings().Find(key), nullptr) << "sighting " << i + 1;
    } else {
      ASSERT_NE(m->embeddings().Find(key), nullptr);
      Real initial[4];
      m->embeddings().InitialWeights(key, initial);
      EXPECT_NE(m->embeddings().Find(key)[0], initial[0]);  // trained at once
      const std::vector<uint64_t>& dirty = m->embeddings().dirty_keys();
      EXPECT_NE(std::find(dirty.begin(), dirty.end(), key), dirty.end());
    }
    EXPECT_GE(m->embedding_rows(), rows);
  }
}

TEST(EmbeddingAdmission, TrainingTreatsAValueOnProbationAsMissing) {
  auto with = MustCreate(Admitting(5), OptimizerOptions());
  auto without = MustCreate(Admitting(5), OptimizerOptions());
  const std::vector<Example> ex = MakeExamples(8, 6);
  for (size_t i = 0; i < ex.size(); ++i) {
    // A user value seen once (on probation) trains like no user value.
    Example a = ex[i];
    a.categorical[0].value = testing::Str("probation-", i);
    const Example b = WithoutUser(ex[i]);
    const StepResult ra = with->TrainStep(std::span(&a, 1));
    const StepResult rb = without->TrainStep(std::span(&b, 1));
    ASSERT_EQ(ra.predictions, rb.predictions) << "step " << i;
  }
  NetworkParams pa = with->params(), pb = without->params();
  const std::vector<TensorView> ta = pa.Tensors(), tb = pb.Tensors();
  ASSERT_EQ(ta.size(), tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    EXPECT_TRUE(std::equal(ta[i].begin(), ta[i].end(), tb[i].begin())) << "tensor " << i;
  }
  EXPECT_EQ(with->embedding_rows(), without->embedding_rows());
  EXPECT_EQ(without->embeddings().rejected_sightings() + ex.size(),
            with->embeddings().rejected_sightings());
}

// Serving sees a value without a row as a zero vector: every such value
// scores alike, and like the feature missing (up to float rounding: the
// scorer skips unused slots). With admission off, unseen values score with
// their distinct initial rows.
TEST(EmbeddingAdmission, ServingScoresAValueOnProbationAsMissing) {
  for (const int admit_after : {4, 1}) {
    auto m = MustCreate(Admitting(admit_after), OptimizerOptions());
    m->TrainStep(MakeExamples(64, 7));
    Example e = MakeExamples(1, 8)[0], f = e;
    e.categorical[0].value = "never-trained";
    f.categorical[0].value = "never-trained-either";
    const Example missing = WithoutUser(e);
    const Scorer scorer(*m);
    ScoreResult a, b, c;
    scorer.ScoreExamples(std::span(&e, 1), &a);
    scorer.ScoreExamples(std::span(&f, 1), &b);
    scorer.ScoreExamples(std::span(&missing, 1), &c);
    if (admit_after > 1) {
      EXPECT_EQ(a.scores, b.scores);
      EXPECT_NEAR(a.scores[0], c.scores[0], 1e-6 * std::abs(c.scores[0]));
    } else {
      EXPECT_NE(a.scores, b.scores);
    }
  }
}

// With a sketch large enough that collisions are unlikely, values seen
// N-1 times never get a row, and values seen N times always do.
TEST(EmbeddingAdmission, LargeSketchAdmitsExactlyOnTheNthSighting) {
  EmbeddingTable t(2, 2, 0, 1, 0.1, RowPolicy{.admit_after = 3, .admit_sketch_bytes = 1 << 20});
  std::vector<uint64_t> keys;
  for (uint64_t i = 0; i < 2000; ++i) keys.push_back(Mix64(i + 1));
  int early = 0;
  for (int round = 0; round < 2; ++round) {
    for (uint64_t k : keys) {
      if (t.Admits(k, 1)) ++early;
      t.EndStep({.probation = {{k, 1}}, .newest_ts_ms = -1});
    }
  }
  EXPECT_EQ(early, 0);
  for (uint64_t k : keys) EXPECT_TRUE(t.Admits(k, 1));
}

// A tiny sketch collides: values are admitted early (false positives),
// never before their first sighting in the step that admits them.
TEST(EmbeddingAdmission, TinySketchAdmitsEarlyButStaysBounded) {
  EmbeddingTable t(2, 2, 0, 1, 0.1, RowPolicy{.admit_after = 3, .admit_sketch_bytes = 64});
  int early = 0;
  for (uint64_t i = 0; i < 2000; ++i) {
    const uint64_t k = Mix64(i + 1);
    if (t.Admits(k, 1)) ++early;
    t.EndStep({.probation = {{k, 1}}, .newest_ts_ms = -1});
  }
  EXPECT_GT(early, 0);
  // Aging halves the counters every `width` sightings: the sketch does not
  // saturate, so a fresh value is not always admitted.
  EXPECT_LT(early, 2000);
}

// An admitted value's counts leave the sketch: once its row is gone, it
// needs N sightings again.
TEST(EmbeddingAdmission, ExpiredValueCountsFromZeroAgain) {
  EmbeddingTable t(2, 2, 0, 1, 0.1,
                   RowPolicy{.admit_after = 3, .admit_sketch_bytes = 1 << 16, .ttl_ms = 10});
  const uint64_t k = 77;
  t.EndStep({.probation = {{k, 2}}, .newest_ts_ms = 0});
  ASSERT_TRUE(t.Admits(k, 1));
  t.Mutable(k, 0);
  t.EndStep({.probation = {}, .newest_ts_ms = 100});
  ASSERT_EQ(t.Find(k), nullptr);
  EXPECT_FALSE(t.Admits(k, 2));
  EXPECT_TRUE(t.Admits(k, 3));
}

}  // namespace
}  // namespace ranker::learner
