// Gradient checks of per-example loss weights (Example::loss_weights) and of
// the delayed-feedback corrections (fake-negative weighting, the
// positive-unlabeled loss, DEFER; TaskSpec::delayed_feedback), whose weight
// is a constant of the step: its gradient equals that of the same batch
// carrying the weights as loss_weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "learner/model.h"
#include "learner/net/loss.h"
#include "tests/learner_f64/grad_check.h"

namespace ranker::learner {
namespace {

using testing::CheckGradient;

ModelOptions Small(bool fnw, DelayedFeedback correction = DelayedFeedback::kNone) {
  ModelOptions o;
  o.categorical_slots = 4;
  o.embedding_dim = 3;
  o.dense_slots = 2;
  o.num_experts = 3;
  o.expert_hidden = {5, 4};
  o.tower_hidden = {3};
  o.max_position = 3;
  o.position_dropout = 0;
  o.tasks[0].fake_negative_weighting = fnw;
  o.tasks[0].delayed_feedback = correction;
  return o;
}

std::vector<Example> Batch() {
  std::vector<Example> batch;
  for (int i = 0; i < 8; ++i) {
    Example e;
    e.item_id = "item" + std::to_string(i % 3);
    e.position = i % 3 + 1;
    e.device = i % 2 ? "mobile" : "desktop";
    e.categorical = {{"user_id", "u" + std::to_string(i % 4)},
                     {"item_id", e.item_id},
                     {"context.device", e.device}};
    e.dense = {{"price", 0.3 * i}, {"age", 2.0 - 0.4 * i}};
    e.labels = {i % 3 == 0 ? 1.0 : 0.0, i == 5 ? kNoLabel : 0.7 * i};
    batch.push_back(e);
  }
  return batch;
}

std::unique_ptr<Model> MakeModel(bool fnw, DelayedFeedback correction = DelayedFeedback::kNone) {
  auto model = Model::Create(Small(fnw, correction), OptimizerOptions());
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (!model.ok()) std::abort();
  std::vector<Example> unlabelled = Batch();  // creates rows; no label, no step on the towers
  for (Example& e : unlabelled) e.labels = {kNoLabel, 1.0};
  EXPECT_FALSE((*model)->TrainStep(unlabelled).skipped);
  return std::move(model).value();
}

// The same loss and network gradients, to 1e-12.
void ExpectSameGradients(const ModelGradients& a, const ModelGradients& b) {
  EXPECT_NEAR(a.loss, b.loss, 1e-12);
  NetworkParams ga = a.network, gb = b.network;
  std::vector<TensorView> va = ga.Tensors(), vb = gb.Tensors();
  ASSERT_EQ(va.size(), vb.size());
  for (size_t t = 0; t < va.size(); ++t) {
    for (size_t i = 0; i < va[t].size(); ++i) EXPECT_NEAR(va[t][i], vb[t][i], 1e-12) << t;
  }
}

TEST(LossWeightGradient, WeightedLossMatchesCentralDifferences) {
  std::unique_ptr<Model> m = MakeModel(false);
  // Non-zero biases keep pre-activations off the ReLU kink (see
  // model_gradient_test.cc).
  Rng rng(5);
  std::vector<TensorView> tensors = m->mutable_params()->Tensors();
  for (size_t i = 1; i < tensors.size(); i += 2) {
    for (Real& b : tensors[i]) b = 0.3 * (2 * rng.Uniform() - 1);
  }
  std::vector<Example> batch = Batch();
  const double plain = m->Gradients(batch).loss;
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].loss_weights = {0.25 + 0.5 * static_cast<double>(i), i % 2 ? 2.0 : 0.0};
  }
  const ModelGradients g = m->Gradients(batch);
  EXPECT_GT(std::abs(g.loss - plain), 1e-3);  // the weights are used
  const auto loss = [&] { return m->Gradients(batch).loss; };
  std::vector<TensorView> pv = m->mutable_params()->Tensors();
  NetworkParams gn = g.network;
  std::vector<TensorView> gv = gn.Tensors();
  for (size_t i = 0; i < pv.size(); ++i)
    CheckGradient(testing::Named("tensor ", i), pv[i], gv[i], loss);
  for (size_t k = 0; k < g.keys.size(); ++k) {
    std::span<Real> row = m->mutable_embeddings()->Mutable(g.keys[k]);
    Matrix gk = g.rows.row(static_cast<Eigen::Index>(k));
    CheckGradient(testing::Named("row ", k), row.first(3), View(gk), loss);
  }
}

TEST(LossWeightGradient, FakeNegativeWeightingIsAConstantWeightOfTheStep) {
  std::unique_ptr<Model> fnw = MakeModel(true), plain = MakeModel(false);
  ASSERT_EQ(fnw->ParamChecksum(), plain->ParamChecksum());
  const std::vector<Example> batch = Batch();
  const StepResult scored = plain->Clone()->TrainStep(batch);  // predictions before the step
  std::vector<Example> weighted = batch;
  for (size_t i = 0; i < batch.size(); ++i) {
    const double p = scored.prediction(static_cast<int>(i), 0);
    weighted[i].loss_weights = {FakeNegativeWeight(p, batch[i].labels[0]), 1.0};
  }
  const ModelGradients a = fnw->Gradients(batch), b = plain->Gradients(weighted);
  ExpectSameGradients(a, b);
  EXPECT_GT(std::abs(a.loss - plain->Gradients(batch).loss), 1e-4);
}

// Under fake-negative weighting a task's loss averages over the whole
// batch: masking an example's label must train exactly like giving that
// label a weight of 0, so that an example's weight does not depend on how
// many others in its batch carry the task. (Averaging over the labelled
// examples only gave a lone click correction among masked examples the
// weight of a whole batch: immediate mode's CTR came out 85% too high,
// issue 16.)
TEST(LossWeightGradient, AMaskedLabelTrainsLikeAZeroWeightUnderFnw) {
  std::unique_ptr<Model> m = MakeModel(true);
  std::vector<Example> masked = Batch(), zero = Batch();
  for (size_t i = 1; i < masked.size(); ++i) {
    masked[i].labels[0] = kNoLabel;  // only example 0 is click-labelled
    zero[i].loss_weights = {0.0, 1.0};
  }
  const ModelGradients a = m->Gradients(masked), b = m->Gradients(zero);
  EXPECT_NEAR(a.loss, b.loss, 1e-12);
  NetworkParams ga = a.network, gb = b.network;
  std::vector<TensorView> va = ga.Tensors(), vb = gb.Tensors();
  ASSERT_EQ(va.size(), vb.size());
  double largest = 0;
  for (size_t t = 0; t < va.size(); ++t) {
    for (size_t i = 0; i < va[t].size(); ++i) {
      EXPECT_NEAR(va[t][i], vb[t][i], 1e-12) << "tensor " << t << " [" << i << "]";
      largest = std::max(largest, std::abs(static_cast<double>(va[t][i])));
    }
  }
  EXPECT_GT(largest, 1e-6);  // the comparison is not between zeros
}

// PU and DEFER: the model's weighting is the method's weight function of
// the step's own prediction, a constant of the step (the gradient of the
// batch carrying those weights as loss_weights), and the weighted loss's
// gradient matches central differences with the weights held fixed.
class CorrectionGradient : public ::testing::TestWithParam<DelayedFeedback> {};

TEST_P(CorrectionGradient, IsAConstantWeightOfTheStep) {
  std::unique_ptr<Model> corrected = MakeModel(false, GetParam()), plain = MakeModel(false);
  ASSERT_EQ(corrected->ParamChecksum(), plain->ParamChecksum());
  const std::vector<Example> batch = Batch();
  const StepResult scored = plain->Clone()->TrainStep(batch);
  std::vector<Example> weighted = batch;
  for (size_t i = 0; i < batch.size(); ++i) {
    const double p = scored.prediction(static_cast<int>(i), 0);
    weighted[i].loss_weights = {DelayedFeedbackWeight(GetParam(), p, batch[i].labels[0]), 1.0};
  }
  const ModelGradients a = corrected->Gradients(batch), b = plain->Gradients(weighted);
  ExpectSameGradients(a, b);
  EXPECT_GT(std::abs(a.loss - plain->Gradients(batch).loss), 1e-4);  // the weights are used
  // And the weighted loss (weights fixed) against central differences,
  // with biases off the ReLU kinks as above.
  Rng rng(7);
  std::vector<TensorView> pv = plain->mutable_params()->Tensors();
  for (size_t i = 1; i < pv.size(); i += 2) {
    for (Real& v : pv[i]) v = 0.3 * (2 * rng.Uniform() - 1);
  }
  const ModelGradients g = plain->Gradients(weighted);
  NetworkParams gn = g.network;
  std::vector<TensorView> gv = gn.Tensors();
  const auto loss = [&] { return plain->Gradients(weighted).loss; };
  for (size_t i = 0; i < pv.size(); ++i)
    CheckGradient(testing::Named("tensor ", i), pv[i], gv[i], loss);
}

INSTANTIATE_TEST_SUITE_P(Methods, CorrectionGradient,
                         ::testing::Values(DelayedFeedback::kFakeNegativeWeighting,
                                           DelayedFeedback::kPositiveUnlabeled,
                                           DelayedFeedback::kDefer));

// The PU loss's positive duplicate has the logit gradient -1 (it retracts
// the fake negative's p and adds the positive's p - 1), whatever p.
TEST(LossWeightGradient, PositiveUnlabeledPositiveHasUnitLogitGradient) {
  for (double z : {-4.0, -0.3, 0.0, 1.2, 6.0}) {
    const double p = Sigmoid(z);
    EXPECT_NEAR(PositiveUnlabeledWeight(p, 1.0) * LogisticLoss(z, 1.0).grad, -1.0, 1e-9) << z;
    EXPECT_DOUBLE_EQ(PositiveUnlabeledWeight(p, 0.0), 1.0);
  }
  EXPECT_TRUE(std::isfinite(PositiveUnlabeledWeight(1.0, 1.0)));  // a saturated logit
}

// Each method's expected logit gradient per impression vanishes exactly when
// the prediction f equals the click probability q: the duplicated stream
// still estimates the true CTR. FNW and PU: a negative at once, a positive
// duplicate with probability q. DEFER: a negative at once, then the real
// label (a positive with probability q, else a real negative).
TEST(LossWeightGradient, EachCorrectionIsUnbiasedAtItsFixedPoint) {
  const auto expected = [](DelayedFeedback c, double f, double q) {
    const double neg = DelayedFeedbackWeight(c, f, 0.0) * f;          // d/dz of -log(1 - f)
    const double pos = DelayedFeedbackWeight(c, f, 1.0) * (f - 1.0);  // d/dz of -log f
    if (c == DelayedFeedback::kDefer) return neg + q * pos + (1 - q) * neg;
    return neg + q * pos;
  };
  for (DelayedFeedback c : {DelayedFeedback::kFakeNegativeWeighting,
                            DelayedFeedback::kPositiveUnlabeled, DelayedFeedback::kDefer}) {
    for (double q : {0.01, 0.05, 0.3, 0.7}) {
      EXPECT_NEAR(expected(c, q, q), 0.0, 1e-12) << static_cast<int>(c) << " q " << q;
      EXPECT_GT(expected(c, q * 1.1, q), 0.0);  // over-predicting: pushed down
      EXPECT_LT(expected(c, q * 0.9, q), 0.0);  // under-predicting: pushed up
    }
  }
}

TEST(LossWeightGradient, DeferWeightValues) {
  EXPECT_DOUBLE_EQ(DeferWeight(0.25, 1.0), 2.0);
  EXPECT_DOUBLE_EQ(DeferWeight(0.25, 0.0), 0.75 / 0.875);
  EXPECT_DOUBLE_EQ(DeferWeight(0.0, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(DelayedFeedbackWeight(DelayedFeedback::kNone, 0.4, 1.0), 1.0);
}

TEST(LossWeightGradient, FakeNegativeWeightValues) {
  EXPECT_DOUBLE_EQ(FakeNegativeWeight(0.25, 1.0), 1.25);
  EXPECT_DOUBLE_EQ(FakeNegativeWeight(0.25, 0.0), 0.75 * 1.25);
  EXPECT_DOUBLE_EQ(FakeNegativeWeight(0.0, 0.0), 1.0);
}

}  // namespace
}  // namespace ranker::learner
