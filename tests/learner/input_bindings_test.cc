// Pooled inputs are reported: InputLayout::Inputs() lists bound and pooled
// features, and the first training batch that pools a name warns once.
#include <gtest/gtest.h>

#include "learner/input_layout.h"

namespace ranker::learner {
namespace {

ModelOptions Options(int cat_slots, int dense_slots) {
  ModelOptions o;
  o.categorical_slots = cat_slots;
  o.embedding_dim = 2;
  o.dense_slots = dense_slots;
  return o;
}

Example With(std::vector<CategoricalFeature> c, std::vector<DenseFeature> d = {}) {
  Example e;
  e.categorical = std::move(c);
  e.dense = std::move(d);
  return e;
}

// Trains one batch (Build + Commit) and returns what it wrote on stderr.
std::string TrainBatch(InputLayout* layout, const std::vector<Example>& batch,
                       InputLayout::Mode mode = InputLayout::Mode::kTrain) {
  const EmbeddingTable table(2, 2, 0, 1, 0.1);
  BatchInput in;
  ::testing::internal::CaptureStderr();
  layout->Build(batch, table, mode, &in);
  if (mode == InputLayout::Mode::kTrain) layout->Commit(in);
  return ::testing::internal::GetCapturedStderr();
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != s.npos; at = s.find(what, at + 1)) ++n;
  return n;
}

int Hashed(const char* name, int slots) {
  return static_cast<int>(Hash64(name) % static_cast<uint64_t>(slots));
}

TEST(InputBindings, DenseFeaturesBeyondTheSlotsArePooledReportedAndWarnedOnce) {
  InputLayout layout(Options(3, 2));
  const std::vector<Example> batch = {
      With({}, {{"d.a", 1.0f}, {"d.b", 2.0f}, {"d.c", 3.0f}, {"d.d", 4.0f}})};
  const std::string first = TrainBatch(&layout, batch);
  EXPECT_EQ(Count(first, "dense feature 'd.c'"), 1u) << first;
  EXPECT_EQ(Count(first, "dense feature 'd.d'"), 1u) << first;
  EXPECT_EQ(Count(first, "raise model.dense_slots"), 2u) << first;
  EXPECT_EQ(Count(first, "'d.a'"), 0u) << first;  // bound: no warning
  EXPECT_EQ(TrainBatch(&layout, batch), "");      // once per name

  const InputBindings b = layout.Inputs();
  EXPECT_EQ(b.dense_slots, 2);
  ASSERT_EQ(b.dense_bound.size(), 2u);
  EXPECT_EQ(b.dense_bound[0].name, "d.a");
  EXPECT_EQ(b.dense_bound[0].slot, 0);
  EXPECT_EQ(b.dense_bound[1].name, "d.b");
  EXPECT_EQ(b.dense_bound[1].slot, 1);
  ASSERT_EQ(b.dense_pooled.size(), 2u);
  EXPECT_EQ(b.dense_pooled[0].name, "d.c");
  EXPECT_EQ(b.dense_pooled[0].slot, Hashed("d.c", 2));
  EXPECT_EQ(b.dense_pooled[1].name, "d.d");
  EXPECT_EQ(b.dense_pooled[1].slot, Hashed("d.d", 2));
}

TEST(InputBindings, CategoricalFieldsBeyondTheSlotsArePooledReportedAndWarnedOnce) {
  InputLayout layout(Options(4, 0));
  const std::vector<Example> batch = {
      With({{"user.a", "x"}, {"user.b", "y"}, {"user.b", "z"}, {"user.c", "w"}})};
  const std::string first = TrainBatch(&layout, batch);
  EXPECT_EQ(Count(first, "categorical feature 'user.b'"), 1u) << first;
  EXPECT_EQ(Count(first, "categorical feature 'user.c'"), 1u) << first;
  EXPECT_EQ(Count(first, "raise model.categorical_slots"), 2u) << first;
  EXPECT_EQ(TrainBatch(&layout, batch), "");

  const InputBindings b = layout.Inputs();
  EXPECT_EQ(b.categorical_slots, 4);
  ASSERT_EQ(b.categorical_bound.size(), 4u);  // sorted by name
  EXPECT_EQ(b.categorical_bound[0].name, "context.device");
  EXPECT_EQ(b.categorical_bound[1].name, "item_id");
  EXPECT_EQ(b.categorical_bound[2].name, "user.a");
  EXPECT_EQ(b.categorical_bound[2].slot, 3);
  EXPECT_EQ(b.categorical_bound[3].name, "user_id");
  ASSERT_EQ(b.categorical_pooled.size(), 2u);
  EXPECT_EQ(b.categorical_pooled[0].name, "user.b");
  EXPECT_EQ(b.categorical_pooled[0].slot, Hashed("user.b", 4));
  EXPECT_EQ(b.categorical_pooled[1].name, "user.c");
}

TEST(InputBindings, ServingNeitherPoolsNorWarns) {
  InputLayout layout(Options(3, 1));
  const std::vector<Example> batch = {With({{"user.a", "x"}}, {{"d.a", 1.0f}, {"d.b", 2.0f}})};
  EXPECT_EQ(TrainBatch(&layout, batch, InputLayout::Mode::kServe), "");
  const InputBindings b = layout.Inputs();
  EXPECT_TRUE(b.categorical_pooled.empty());
  EXPECT_TRUE(b.dense_bound.empty());
  EXPECT_TRUE(b.dense_pooled.empty());
}

TEST(InputBindings, PoolingLeavesTheDigestAsBefore) {
  InputLayout pooled(Options(3, 0)), plain(Options(3, 0));
  TrainBatch(&pooled, {With({{"user.extra", "v"}})});
  Digest64 a, b;
  pooled.Digest(&a);
  plain.Digest(&b);
  EXPECT_EQ(a.value(), b.value());
  EXPECT_EQ(pooled.Inputs().categorical_pooled.size(), 1u);
}

}  // namespace
}  // namespace ranker::learner
