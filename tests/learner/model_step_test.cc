// TrainStep behaviour: the non-finite guard, batch-1 vs batch-n sanity,
// learning, position bias.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "learner/model.h"
#include "learner/net/loss.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

using testing::MakeExamples;
using testing::SmallModel;

struct Fingerprint {
  uint64_t checksum;
  size_t rows;
  uint64_t steps;
  int bound_slot;
};

Fingerprint Of(const Model& m) {
  return {m.ParamChecksum(), m.embedding_rows(), m.steps(), m.layout().SlotOf("user.new_field")};
}

TEST(NonFiniteGuard, HugeRegressionLabelSkipsTheWholeStep) {
  ModelOptions o = SmallModel();
  o.tasks[1].transform = LabelTransform::kNone;
  auto m = testing::MustCreate(o, OptimizerOptions());
  m->TrainStep(MakeExamples(8, 1));
  const Fingerprint before = Of(*m);
  std::vector<Example> batch = MakeExamples(4, 2);
  batch[2].labels[1] = 1e300;                                 // squared loss overflows
  batch[1].categorical.push_back({"user.new_field", "x"});    // would bind a slot
  batch[3].categorical.push_back({"item_id", "never-seen"});  // would create a row
  const StepResult r = m->TrainStep(batch);
  EXPECT_TRUE(r.skipped);
  const Fingerprint after = Of(*m);
  EXPECT_EQ(after.checksum, before.checksum);
  EXPECT_EQ(after.rows, before.rows);
  EXPECT_EQ(after.steps, before.steps);
  EXPECT_EQ(after.bound_slot, -1);
  // The model still trains normally afterwards, and a clean copy of the
  // batch is applied.
  batch[2].labels[1] = 3;
  EXPECT_FALSE(m->TrainStep(batch).skipped);
  EXPECT_NE(m->ParamChecksum(), before.checksum);
  EXPECT_GE(m->layout().SlotOf("user.new_field"), 0);
}

TEST(NonFiniteGuard, NaNParameterSkipsAndChangesNothing) {
  auto m = testing::MustCreate(SmallModel(), OptimizerOptions());
  m->TrainStep(MakeExamples(8, 3));
  m->mutable_params()->towers[0][0].w(0, 0) = std::numeric_limits<Real>::quiet_NaN();
  const Fingerprint before = Of(*m);
  const StepResult r = m->TrainStep(MakeExamples(8, 4));
  EXPECT_TRUE(r.skipped);
  EXPECT_EQ(Of(*m).checksum, before.checksum);
  EXPECT_EQ(Of(*m).rows, before.rows);
}

TEST(BatchSanity, BatchPredictionsEqualOneByOnePredictions) {
  ModelOptions o = SmallModel();
  o.position_dropout = 0;  // dropout draws depend on the position in the batch
  auto a = testing::MustCreate(o, OptimizerOptions());
  // No dense features: their statistics are updated with the whole batch
  // before standardising, so batch composition would matter.
  a->TrainStep(MakeExamples(16, 5, /*with_dense=*/false));
  const std::vector<Example> batch = MakeExamples(8, 6, /*with_dense=*/false);
  const std::unique_ptr<Model> state = a->Clone();
  const StepResult all = a->TrainStep(batch);
  ASSERT_FALSE(all.skipped);
  for (int i = 0; i < 8; ++i) {
    const std::unique_ptr<Model> one = state->Clone();
    const StepResult r = one->TrainStep(std::span(batch).subspan(i, 1));
    for (int t = 0; t < 2; ++t) {
      EXPECT_NEAR(r.prediction(0, t), all.prediction(i, t), 1e-5) << i << " " << t;
      EXPECT_EQ(r.label(0, t), all.label(i, t));
    }
  }
}

double MeanLogLoss(Model* m, const std::vector<Example>& test) {
  const StepResult r = m->Clone()->TrainStep(test);  // predictions before the update
  double sum = 0;
  for (int i = 0; i < r.batch_size; ++i) {
    const double p = std::clamp(r.prediction(i, 0), 1e-7, 1 - 1e-7);
    sum -= r.label(i, 0) > 0.5 ? std::log(p) : std::log(1 - p);
  }
  return sum / r.batch_size;
}

TEST(BatchSanity, Batch1AndBatch32BothLearn) {
  ModelOptions o = SmallModel();
  o.position_tower = false;
  const std::vector<Example> train = MakeExamples(3200, 7);
  const std::vector<Example> test = MakeExamples(400, 8);
  for (size_t batch : {size_t{1}, size_t{32}}) {
    auto m = testing::MustCreate(o, OptimizerOptions());
    const double before = MeanLogLoss(m.get(), test);
    for (size_t i = 0; i + batch <= train.size(); i += batch) {
      ASSERT_FALSE(m->TrainStep(std::span(train).subspan(i, batch)).skipped);
    }
    const double after = MeanLogLoss(m.get(), test);
    // Items < 5 click with p 0.8, others 0.1: the Bayes log loss is ~0.39.
    EXPECT_LT(after, 0.45) << "batch " << batch << " from " << before;
    EXPECT_LT(after, before - 0.1) << "batch " << batch;
  }
}

TEST(StepResult, ReportsGatesLabelsAndLosses) {
  auto m = testing::MustCreate(SmallModel(), OptimizerOptions());
  std::vector<Example> batch = MakeExamples(4, 9);
  batch[1].labels = {kNoLabel, kNoLabel};
  const StepResult r = m->TrainStep(batch);
  ASSERT_EQ(r.gates.size(), 2u);
  ASSERT_EQ(r.gates[0].rows(), 4);
  ASSERT_EQ(r.gates[0].cols(), 3);
  EXPECT_NEAR(r.gates[1].row(2).sum(), 1.0, 1e-5);
  EXPECT_EQ(r.labelled[0], 3);
  EXPECT_TRUE(std::isnan(r.label(1, 1)));
  EXPECT_NEAR(r.label(0, 1), std::log1p(batch[0].labels[1]), 1e-12);
  EXPECT_GT(r.loss[0], 0);
  EXPECT_GT(r.prediction(0, 0), 0);
  EXPECT_LT(r.prediction(0, 0), 1);
}

TEST(StepResult, GateLessArchitecturesReportNoGates) {
  ModelOptions o = SmallModel();
  o.architecture = Architecture::kSharedBottom;
  auto m = testing::MustCreate(o, OptimizerOptions());
  const StepResult r = m->TrainStep(MakeExamples(2, 10));
  ASSERT_EQ(r.gates.size(), 2u);
  EXPECT_EQ(r.gates[0].size(), 0);
}

TEST(PositionBias, LearnsTheSimulatedExaminationDecay) {
  ModelOptions o = SmallModel();
  o.max_position = 5;
  auto m = testing::MustCreate(o, OptimizerOptions());
  Rng rng(12);
  std::vector<Example> batch;
  for (int i = 0; i < 6000; ++i) {
    Example e = testing::MakeExample(&rng);
    e.position = 1 + static_cast<int>(rng.Below(5));
    // Clicks need examination: P(examined) = 1 / position.
    const bool click = rng.Bernoulli(0.5 / e.position);
    e.labels = {click ? 1.0 : 0.0, kNoLabel};
    batch.push_back(e);
    if (batch.size() == 16) {
      m->TrainStep(batch);
      batch.clear();
    }
  }
  const PositionBiasReport bias = m->PositionBias();
  ASSERT_EQ(bias.click_logit_offset.size(), 5u);
  EXPECT_EQ(bias.positions[4], 5);
  EXPECT_EQ(bias.click_logit_offset[0], 0);
  // logit(0.5/5) - logit(0.5) = -2.2: expect a clearly decreasing offset.
  EXPECT_LT(bias.click_logit_offset[4], -1.0);
  EXPECT_LT(bias.click_logit_offset[4], bias.click_logit_offset[1]);
  EXPECT_EQ(bias.devices.size(), 2u);  // mobile, desktop
}

}  // namespace
}  // namespace ranker::learner
