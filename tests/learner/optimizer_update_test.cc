#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "base/random.h"
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
  o.adagrad_initial_accumulator = 0.1;
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

// The outer-product update must equal the update from the materialised
// gradient G = dY^T X, and leave rows of inactive units (zero dY column)
// and columns of zero inputs untouched, state included.
void ExpectOuterMatchesMaterialised(int rows, int cols, int batch) {
  SCOPED_TRACE(testing::Message() << rows << " rows, batch " << batch);
  OptimizerOptions o;
  o.learning_rate = 0.3;
  Rng rng(3);
  Matrix dy(batch, rows), x(batch, cols);
  for (Eigen::Index i = 0; i < dy.size(); ++i) dy.data()[i] = static_cast<Real>(rng.Normal());
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<Real>(rng.Normal());
  std::vector<int> inactive;  // units with a zero delta: 2, and every third from 9 on
  for (int r = 0; r < rows; ++r) {
    if (r == 2 || (r >= 9 && r % 3 == 0)) inactive.push_back(r);
  }
  for (int r : inactive) dy.col(r).setZero();
  x.col(20).setZero();  // a missing input
  std::vector<Real> w_outer(rows * cols), w_dense(rows * cols), g(rows * cols);
  for (size_t i = 0; i < w_outer.size(); ++i)
    w_outer[i] = w_dense[i] = static_cast<Real>(rng.Normal());
  const std::vector<Real> w0 = w_outer;
  Optimizer outer(o), dense(o);
  const std::vector<TensorView> po = {TensorView(w_outer)}, pd = {TensorView(w_dense)},
                                gd = {TensorView(g)};
  outer.InitDense(po);
  dense.InitDense(pd);
  for (int step = 0; step < 2; ++step) {
    for (int r = 0; r < rows; ++r) {
      for (int c = 0; c < cols; ++c) {
        double sum = 0;
        for (int b = 0; b < batch; ++b) sum += static_cast<double>(dy(b, r)) * x(b, c);
        g[r * cols + c] = static_cast<Real>(sum);
      }
    }
    outer.BeginStep();
    outer.ApplyAdagradOuter(0, po[0], dy, x);
    dense.BeginStep();
    dense.ApplyDense(pd, gd);
  }
  for (size_t i = 0; i < w_outer.size(); ++i) {
    EXPECT_NEAR(w_outer[i], w_dense[i], 1e-6 * (1 + std::abs(w_dense[i]))) << i;
  }
  for (int r : inactive) {
    for (int c = 0; c < cols; ++c) EXPECT_EQ(w_outer[r * cols + c], w0[r * cols + c]) << r;
  }
  for (int r = 0; r < rows; ++r) EXPECT_EQ(w_outer[r * cols + 20], w0[r * cols + 20]) << r;
  for (int r = 0; r < rows; ++r) {
    if (std::find(inactive.begin(), inactive.end(), r) == inactive.end()) {
      EXPECT_NE(w_outer[r * cols], w0[r * cols]) << "active unit " << r << " was not updated";
    }
  }
}

// cols: not a multiple of a packet. Batch 1 over 40 units also takes the
// vectorised search for active units (16 at a time, then the tail).
TEST(Optimizer, AdagradOuterMatchesTheMaterialisedGradient) {
  ExpectOuterMatchesMaterialised(/*rows=*/5, /*cols=*/37, /*batch=*/3);
  ExpectOuterMatchesMaterialised(/*rows=*/40, /*cols=*/37, /*batch=*/1);
}

TEST(Optimizer, AllZeroGradientChangesNothing) {
  Optimizer opt((OptimizerOptions()));
  std::vector<Real> w(100), g(100, 0.0f);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<Real>(i) - 50.5f;
  const std::vector<Real> w0 = w;
  const std::vector<TensorView> params = {TensorView(w)}, grads = {TensorView(g)};
  opt.InitDense(params);
  Digest64 before;
  opt.Digest(&before);
  opt.ApplyDense(params, grads);
  Digest64 after;
  opt.Digest(&after);
  EXPECT_EQ(w, w0);
  EXPECT_EQ(before.value(), after.value());
}

// An epsilon that does not vanish against sqrt(acc) (no initial
// accumulator) must take the exact division path.
TEST(Optimizer, AdagradHonoursALargeEpsilon) {
  OptimizerOptions o;
  o.learning_rate = 0.5;
  o.adagrad_initial_accumulator = 0;
  o.epsilon = 0.25;
  Optimizer opt(o);
  std::vector<Real> w(40, 1.0f), g(40, 0.0f);
  for (size_t i = 0; i < g.size(); ++i) g[i] = 0.01f * static_cast<Real>(i + 1);
  const std::vector<Real> g0 = g;
  const std::vector<TensorView> params = {TensorView(w)}, grads = {TensorView(g)};
  opt.InitDense(params);
  opt.ApplyDense(params, grads);
  for (size_t i = 0; i < w.size(); ++i) {
    const double expected = 1 - 0.5 * g0[i] / (std::abs(g0[i]) + 0.25);
    EXPECT_NEAR(w[i], expected, 1e-6) << i;
  }
}

}  // namespace
}  // namespace ranker::learner
