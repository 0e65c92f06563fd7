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

TEST(InputLayout, ReservesIdAndDeviceSlotsThenBindsInOrderOfAppearance) {
  InputLayout layout(Options(5, 0));
  EXPECT_EQ(layout.SlotOf("user_id"), 0);
  EXPECT_EQ(layout.SlotOf("item_id"), 1);
  EXPECT_EQ(layout.SlotOf("context.device"), 2);
  const EmbeddingTable table(2, 2, 0, 1, 0.1);
  BatchInput in;
  const std::vector<Example> batch = {With({{"item.b", "x"}, {"user.a", "y"}})};
  layout.Build(batch, table, InputLayout::Mode::kTrain, &in);
  EXPECT_EQ(layout.SlotOf("item.b"), -1);  // tentative until Commit
  layout.Commit(in);
  EXPECT_EQ(layout.SlotOf("item.b"), 3);
  EXPECT_EQ(layout.SlotOf("user.a"), 4);
}

TEST(InputLayout, OverflowFieldsArePooledIntoTheirHashedSlot) {
  InputLayout layout(Options(3, 0));
  EmbeddingTable table(2, 2, 0, 1, 0.5);
  BatchInput in;
  const std::vector<Example> batch = {With({{"user.extra", "v"}})};
  layout.Build(batch, table, InputLayout::Mode::kTrain, &in);
  layout.Commit(in);
  EXPECT_EQ(layout.SlotOf("user.extra"), -1);
  const int slot = static_cast<int>(Hash64("user.extra") % 3);
  Real row[2];
  table.Lookup(FeatureKey("user.extra", "v"), row);
  EXPECT_EQ(in.x(0, slot * 2), row[0]);
  EXPECT_EQ(in.x(0, slot * 2 + 1), row[1]);
  EXPECT_NEAR(in.x.row(0).squaredNorm(), row[0] * row[0] + row[1] * row[1], 1e-6);
}

TEST(InputLayout, SumPoolsValuesAndSumsGradientsOfDuplicateKeys) {
  InputLayout layout(Options(4, 0));
  EmbeddingTable table(2, 2, 0, 1, 0.5);
  BatchInput in;
  const std::vector<Example> batch = {
      With({{"user_id", "a"}, {"item.tag", "t1"}, {"item.tag", "t2"}}), With({{"user_id", "a"}})};
  layout.Build(batch, table, InputLayout::Mode::kTrain, &in);
  ASSERT_EQ(in.keys.size(), 3u);  // a, t1, t2
  Real a[2], t1[2], t2[2];
  table.Lookup(FeatureKey("user_id", "a"), a);
  table.Lookup(FeatureKey("item.tag", "t1"), t1);
  table.Lookup(FeatureKey("item.tag", "t2"), t2);
  EXPECT_NEAR(in.x(0, 3 * 2), t1[0] + t2[0], 1e-7);
  EXPECT_EQ(in.x(1, 0), a[0]);
  EXPECT_EQ(in.x(1, 3 * 2), 0);  // missing field: zero vector
  Matrix dx = Matrix::Zero(2, layout.input_width());
  dx(0, 0) = 1;
  dx(1, 0) = 2;
  dx(0, 6) = 5;
  Matrix grads;
  layout.RowGradients(in, dx, &grads);
  EXPECT_EQ(grads(0, 0), 3);  // user a: both examples
  EXPECT_EQ(grads(1, 0), 5);  // t1 and t2 both get the pooled slot's gradient
  EXPECT_EQ(grads(2, 0), 5);
}

TEST(InputLayout, ServingNeverBindsAndIgnoresUnboundFieldsWhileSlotsAreFree) {
  InputLayout layout(Options(4, 1));
  const EmbeddingTable table(2, 2, 0, 1, 0.5);
  BatchInput in;
  const std::vector<Example> batch = {With({{"user.unbound", "x"}}, {{"unseen", 3.0}})};
  layout.Build(batch, table, InputLayout::Mode::kServe, &in);
  EXPECT_TRUE(in.keys.empty());
  EXPECT_EQ(in.x.squaredNorm(), 0);
  EXPECT_TRUE(in.new_fields.empty());
}

TEST(InputLayout, DenseFeaturesAreStandardisedOnlineInTrainingOnly) {
  InputLayout layout(Options(3, 2));
  const EmbeddingTable table(2, 2, 0, 1, 0.5);
  BatchInput in;
  const std::vector<Example> batch = {With({}, {{"price", 10}}), With({}, {{"price", 20}}),
                                      With({}, {{"price", 30}})};
  layout.Build(batch, table, InputLayout::Mode::kTrain, &in);
  layout.Commit(in);
  const int col = 3 * 2 + layout.DenseSlotOf("price");
  // mean 20, population variance 200/3.
  const double sd = std::sqrt(200.0 / 3 + 1e-8);
  EXPECT_NEAR(in.x(0, col), -10 / sd, 1e-5);
  EXPECT_NEAR(in.x(2, col), 10 / sd, 1e-5);
  const std::vector<Example> one = {With({}, {{"price", 40}})};
  layout.Build(one, table, InputLayout::Mode::kServe, &in);
  EXPECT_NEAR(in.x(0, col), 20 / sd, 1e-5);  // serving: stats unchanged
  layout.Build(one, table, InputLayout::Mode::kServe, &in);
  EXPECT_NEAR(in.x(0, col), 20 / sd, 1e-5);
}

TEST(InputLayout, StateRoundTripsAndFeedsTheDigest) {
  InputLayout a(Options(5, 2));
  const EmbeddingTable table(2, 2, 0, 1, 0.5);
  BatchInput in;
  const std::vector<Example> batch = {With({{"user.x", "1"}}, {{"d1", 1}, {"d2", 2}, {"d3", 3}})};
  a.Build(batch, table, InputLayout::Mode::kTrain, &in);
  a.Commit(in);
  std::string image;
  a.Serialize(&image);
  InputLayout b(Options(5, 2));
  Digest64 before;
  b.Digest(&before);
  Decoder dec(image, "layout");
  ASSERT_TRUE(b.Deserialize(&dec).ok());
  Digest64 da, db;
  a.Digest(&da);
  b.Digest(&db);
  EXPECT_EQ(da.value(), db.value());
  EXPECT_NE(before.value(), db.value());
  EXPECT_EQ(b.SlotOf("user.x"), 3);
  EXPECT_EQ(b.DenseSlotOf("d2"), 1);
  EXPECT_EQ(b.DenseSlotOf("d3"), -1);  // overflow: hashed slot
}

// Pooled inputs are reported: InputLayout::Inputs() lists bound and pooled
// features, and the first training batch that pools a name warns once.
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
