#include <gtest/gtest.h>

#include <cmath>

#include "learner/optimizer.h"

namespace ranker::learner {
namespace {

TEST(Optimizer, AdagradStepMatchesTheFormulaAndConsumesTheGradient) {
  OptimizerOptions o;
  o.learning_rate = 0.5;
  o.adagrad_initial_accumulator = 0.1;
  Optimizer opt(o);
  std::vector<Real> w(1000, 1.0f), g(1000, 0.0f);
  g[0] = 2;
  g[999] = -0.5f;
  const std::vector<TensorView> params = {TensorView(w)}, grads = {TensorView(g)};
  opt.InitDense(params);
  opt.BeginStep();
  opt.ApplyDense(params, grads);
  EXPECT_NEAR(w[0], 1 - 0.5 * 2 / (std::sqrt(0.1 + 4) + 1e-8), 1e-6);
  EXPECT_NEAR(w[999], 1 + 0.5 * 0.5 / (std::sqrt(0.1 + 0.25) + 1e-8), 1e-6);
  EXPECT_EQ(w[500], 1.0f);  // zero gradient: unchanged
  EXPECT_EQ(g[0], 0);
  EXPECT_EQ(g[999], 0);
  // Second step: the accumulator remembers.
  g[0] = 2;
  opt.BeginStep();
  opt.ApplyDense(params, grads);
  const double w1 = 1 - 0.5 * 2 / (std::sqrt(4.1) + 1e-8);
  EXPECT_NEAR(w[0], w1 - 0.5 * 2 / (std::sqrt(8.1) + 1e-8), 1e-6);
}

TEST(Optimizer, AdamFirstStepsAreBiasCorrected) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kAdam;
  o.learning_rate = 0.01;
  Optimizer opt(o);
  std::vector<Real> w(3, 0.0f), g(3, 0.0f);
  const std::vector<TensorView> params = {TensorView(w)}, grads = {TensorView(g)};
  opt.InitDense(params);
  g = {4.0f, -0.001f, 0.0f};
  opt.BeginStep();
  opt.ApplyDense(params, grads);
  // Step 1: m_hat = g, v_hat = g^2, so the step is lr * sign(g).
  EXPECT_NEAR(w[0], -0.01, 1e-6);
  EXPECT_NEAR(w[1], 0.01, 1e-5);
  EXPECT_EQ(w[2], 0);
  // Step 2 with zero gradient: momentum keeps moving w[0].
  opt.BeginStep();
  opt.ApplyDense(params, grads);
  const double m = 0.9 * 0.1 * 4, v = 0.999 * 0.001 * 16;
  const double step = 0.01 * (m / (1 - 0.81)) / (std::sqrt(v / (1 - 0.999 * 0.999)) + 1e-8);
  EXPECT_NEAR(w[0], -0.01 - step, 1e-6);
}

TEST(Optimizer, RowsUseTheEmbeddingLearningRateScale) {
  OptimizerOptions o;
  o.learning_rate = 0.1;
  o.embedding_lr_scale = 3;
  Optimizer opt(o);
  ASSERT_EQ(opt.RowStateWidth(2), 2);
  std::vector<Real> row = {1, 1, opt.RowStateInit(), opt.RowStateInit()};
  const Real grad[2] = {1, 0};
  opt.BeginStep();
  opt.ApplyRow(row, grad, 2);
  EXPECT_NEAR(row[0], 1 - 0.3 / std::sqrt(0.1 + 1), 1e-6);
  EXPECT_EQ(row[1], 1);
  EXPECT_NEAR(row[2], 1.1, 1e-6);
  EXPECT_NEAR(grad[0], 1, 0);  // the caller's gradient is left alone
}

TEST(Optimizer, StateRoundTripsAndIsDigested) {
  OptimizerOptions o;
  o.kind = OptimizerKind::kAdam;
  Optimizer a(o), b(o);
  std::vector<Real> w(4, 1), g(4, 1);
  const std::vector<TensorView> params = {TensorView(w)}, grads = {TensorView(g)};
  a.InitDense(params);
  b.InitDense(params);
  a.BeginStep();
  a.ApplyDense(params, grads);
  std::string image;
  a.Serialize(&image);
  Digest64 before;
  b.Digest(&before);
  Decoder in(image, "optimizer");
  ASSERT_TRUE(b.Deserialize(&in).ok());
  Digest64 da, db;
  a.Digest(&da);
  b.Digest(&db);
  EXPECT_EQ(da.value(), db.value());
  EXPECT_NE(before.value(), db.value());
  EXPECT_EQ(b.step(), 1u);
}

}  // namespace
}  // namespace ranker::learner
