// Gradient checks of the building blocks: dense layer (both activations),
// losses, softmax gate, tower MLP, position tower.
#include <gtest/gtest.h>

#include "learner/event.h"
#include "learner/net/dense_layer.h"
#include "learner/net/loss.h"
#include "learner/net/mlp.h"
#include "learner/net/position_tower.h"
#include "learner/net/softmax_gate.h"
#include "tests/learner_f64/grad_check.h"

namespace ranker::learner {
namespace {

using testing::CheckGradient;
using testing::Project;
using testing::RandomMatrix;

class DenseLayerGradient : public ::testing::TestWithParam<Activation> {};

TEST_P(DenseLayerGradient, MatchesCentralDifferences) {
  Rng rng(7);
  const DenseLayer layer(GetParam());
  DenseParams p = DenseParams::Init(5, 4, 1.0, &rng);
  p.b = RandomMatrix(1, 4, &rng, 0.5);
  Matrix x = RandomMatrix(3, 5, &rng);
  const Matrix r = RandomMatrix(3, 4, &rng);
  DenseCache cache;
  const auto loss = [&] { return Project(layer.Forward(p, x, &cache), r); };
  loss();
  DenseParams grad = DenseParams::Zeros(5, 4);
  Matrix dx;
  layer.Backward(p, cache, r, &grad, &dx);
  EXPECT_GT(grad.w.squaredNorm(), 0);
  CheckGradient("w", View(p.w), View(grad.w), loss);
  CheckGradient("b", View(p.b), View(grad.b), loss);
  CheckGradient("x", View(x), View(dx), loss);
}

TEST_P(DenseLayerGradient, BackwardAddsIntoGradient) {
  Rng rng(8);
  const DenseLayer layer(GetParam());
  const DenseParams p = DenseParams::Init(3, 2, 1.0, &rng);
  const Matrix x = RandomMatrix(4, 3, &rng);
  const Matrix dy = RandomMatrix(4, 2, &rng);
  DenseCache cache;
  layer.Forward(p, x, &cache);
  DenseParams once = DenseParams::Zeros(3, 2);
  layer.Backward(p, cache, dy, &once, nullptr);
  DenseParams twice = DenseParams::Zeros(3, 2);
  layer.Backward(p, cache, dy, &twice, nullptr);
  layer.Backward(p, cache, dy, &twice, nullptr);
  EXPECT_TRUE(twice.w.isApprox(2 * once.w));
  EXPECT_TRUE(twice.b.isApprox(2 * once.b));
}

// From 64 rows on, narrowing layers compute dL/dW into a column-major
// scratch (DenseLayer::Backward); here with the input a block of a wider
// matrix, as the experts' second layers see theirs.
TEST_P(DenseLayerGradient, LargeBatchOfABlockMatchesCentralDifferences) {
  Rng rng(9);
  const DenseLayer layer(GetParam());
  DenseParams p = DenseParams::Init(6, 3, 1.0, &rng);
  p.b = RandomMatrix(1, 3, &rng, 0.5);
  Matrix wide = RandomMatrix(80, 10, &rng);
  const Matrix r = RandomMatrix(80, 3, &rng);
  DenseCache cache;
  const auto loss = [&] { return Project(layer.Forward(p, wide.middleCols(2, 6), &cache), r); };
  loss();
  DenseParams grad = DenseParams::Zeros(6, 3);
  Matrix dx;
  layer.Backward(p, cache, r, &grad, &dx);
  CheckGradient("w", View(p.w), View(grad.w), loss);
  CheckGradient("b", View(p.b), View(grad.b), loss);
  Matrix x = wide.middleCols(2, 6);
  const auto loss_x = [&] { return Project(layer.Forward(p, x, &cache), r); };
  CheckGradient("x", View(x), View(dx), loss_x);
  // And it adds, like the small-batch path.
  loss();
  DenseParams twice = grad;
  layer.Backward(p, cache, r, &twice, nullptr);
  EXPECT_TRUE(twice.w.isApprox(2 * grad.w, 1e-12));
  EXPECT_TRUE(twice.b.isApprox(2 * grad.b, 1e-12));
}

INSTANTIATE_TEST_SUITE_P(Activations, DenseLayerGradient,
                         ::testing::Values(Activation::kIdentity, Activation::kRelu));

TEST(LossGradient, LogisticMatchesCentralDifferences) {
  for (double z : {-30.0, -3.0, -0.2, 0.0, 0.7, 4.0, 35.0}) {
    for (double y : {0.0, 1.0, 0.3}) {
      const double h = 1e-5;
      const double numeric = (LogisticLoss(z + h, y).loss - LogisticLoss(z - h, y).loss) / (2 * h);
      EXPECT_NEAR(LogisticLoss(z, y).grad, numeric, 1e-8) << z << " " << y;
    }
  }
}

TEST(LossGradient, LogisticIsStableForHugeLogits) {
  EXPECT_NEAR(LogisticLoss(1000, 0).loss, 1000, 1e-9);
  EXPECT_NEAR(LogisticLoss(-1000, 1).loss, 1000, 1e-9);
  EXPECT_NEAR(LogisticLoss(1000, 1).loss, 0, 1e-12);
  EXPECT_NEAR(LogisticLoss(0, 1).loss, std::log(2.0), 1e-12);
}

TEST(LossGradient, SquaredMatchesCentralDifferences) {
  for (double p : {-2.0, 0.0, 1.5}) {
    const double h = 1e-5;
    const double numeric = (SquaredLoss(p + h, 0.4).loss - SquaredLoss(p - h, 0.4).loss) / (2 * h);
    EXPECT_NEAR(SquaredLoss(p, 0.4).grad, numeric, 1e-8);
  }
}

TEST(LossGradient, BatchLossSkipsMissingLabelsAndAverages) {
  const TaskSpec task{"watch", TaskKind::kRegression, LabelTransform::kLog1p, 1.0, 2.0};
  Vector out(3);
  out << 1.0, 2.0, 3.0;
  const std::vector<double> targets = {TransformLabel(task, 3.0), kNoLabel, 0.5};
  Vector grad;
  int count = 0;
  const double loss = BatchTaskLoss(task, out, targets, &grad, &count);
  EXPECT_EQ(count, 2);
  const double t0 = std::log1p(3.0);
  EXPECT_NEAR(loss, (0.5 * (1 - t0) * (1 - t0) + 0.5 * 2.5 * 2.5) / 2, 1e-12);
  EXPECT_EQ(grad[1], 0);
  EXPECT_NEAR(grad[0], 2.0 * (1 - t0) / 2, 1e-12);
  EXPECT_NEAR(grad[2], 2.0 * 2.5 / 2, 1e-12);
}

TEST(LossGradient, ListwiseMatchesCentralDifferences) {
  TaskSpec task{"click", TaskKind::kBinary, LabelTransform::kLog1p, 1.0, 1.5};
  task.loss = ListLoss::kListwise;
  Vector out(7);
  out << 0.3, -1.2, 2.0, 0.7, -0.4, 1.1, 0.2;
  // Lists: {0,1,2} (one click, one unlabelled), {3,4} (no click), {5} (a
  // list of one, group 0), {6} (group 9, one click).
  const std::vector<double> targets = {1, kNoLabel, 0, 0, 0, 1, 1};
  const std::vector<uint64_t> groups = {4, 4, 4, 5, 5, 0, 9};
  Vector grad;
  std::vector<double> probs;
  int lists = 0;
  const auto loss = [&](const Vector& z) {
    Vector g;
    std::vector<double> p;
    int n = 0;
    return BatchListwiseLoss(task, z, targets, groups, &g, &p, &n);
  };
  const double l = BatchListwiseLoss(task, out, targets, groups, &grad, &probs, &lists);
  EXPECT_EQ(lists, 3);  // {0,1,2}, {5}, {6}
  const double z0 = 0.3, z2 = 2.0;
  EXPECT_NEAR(l, (std::log(std::exp(z0) + std::exp(z2)) - z0) / 3, 1e-12);
  EXPECT_NEAR(probs[0] + probs[2], 1.0, 1e-12);
  EXPECT_NEAR(probs[3] + probs[4], 1.0, 1e-12);  // reported even without a click
  EXPECT_EQ(probs[1], 1.0);
  EXPECT_EQ(probs[5], 1.0);
  for (Eigen::Index i = 0; i < out.size(); ++i) {
    const double h = 1e-6;
    Vector up = out, down = out;
    up[i] += h;
    down[i] -= h;
    const double numeric = 1.5 * (loss(up) - loss(down)) / (2 * h);
    EXPECT_NEAR(grad[i], numeric, 1e-8) << i;
  }
  EXPECT_NE(grad[0], 0);
  EXPECT_EQ(grad[5], 0);  // a list of one: softmax 1, label 1
}

TEST(LossGradient, SoftmaxInPlaceIsStable) {
  std::vector<double> z = {1000, 1000, -1000};
  SoftmaxInPlace(z);
  EXPECT_NEAR(z[0], 0.5, 1e-12);
  EXPECT_NEAR(z[2], 0.0, 1e-12);
}

TEST(SoftmaxGateGradient, MatchesCentralDifferences) {
  Rng rng(9);
  const SoftmaxGate gate;
  DenseParams p = DenseParams::Init(4, 3, 1.0, &rng);
  p.b = RandomMatrix(1, 3, &rng, 0.5);
  Matrix x = RandomMatrix(5, 4, &rng);
  const Matrix r = RandomMatrix(5, 3, &rng);
  GateCache cache;
  const auto loss = [&] { return Project(gate.Forward(p, x, &cache), r); };
  loss();
  EXPECT_NEAR(cache.probs.row(0).sum(), 1.0, 1e-12);
  DenseParams grad = DenseParams::Zeros(4, 3);
  Matrix dx;
  gate.Backward(p, cache, r, &grad, &dx);
  CheckGradient("w", View(p.w), View(grad.w), loss);
  CheckGradient("b", View(p.b), View(grad.b), loss);
  CheckGradient("x", View(x), View(dx), loss);
}

TEST(TowerGradient, MatchesCentralDifferences) {
  Rng rng(10);
  const Mlp tower({6, 5, 4, 1}, /*relu_last=*/false);
  MlpParams p = tower.Init(&rng);
  for (DenseParams& d : p) d.b = RandomMatrix(1, d.out(), &rng, 0.3);
  Matrix x = RandomMatrix(4, 6, &rng);
  const Matrix r = RandomMatrix(4, 1, &rng);
  MlpCache cache;
  const auto loss = [&] { return Project(tower.Forward(p, x, &cache), r); };
  loss();
  MlpParams grad = tower.Zeros();
  Matrix dx;
  tower.Backward(p, &cache, r, &grad, &dx);
  for (size_t i = 0; i < p.size(); ++i) {
    CheckGradient(testing::Named("w", i), View(p[i].w), View(grad[i].w), loss);
    CheckGradient(testing::Named("b", i), View(p[i].b), View(grad[i].b), loss);
  }
  CheckGradient("x", View(x), View(dx), loss);
}

TEST(PositionTowerGradient, MatchesCentralDifferences) {
  ModelOptions o;
  o.max_position = 4;
  o.max_devices = 2;
  o.position_tower_hidden = 3;
  PositionTower tower(o);
  Rng rng(11);
  MlpParams p = tower.Init(&rng);
  for (DenseParams& d : p) d.b = RandomMatrix(1, d.out(), &rng, 0.3);
  std::vector<std::string> pending;
  const std::vector<int> pos = {0, 1, 4, 4, 2};
  const std::vector<int> dev = {tower.DeviceIndex("a", &pending), tower.DeviceIndex("", &pending),
                                tower.DeviceIndex("b", &pending), tower.DeviceIndex("c", &pending),
                                tower.DeviceIndex("a", &pending)};
  EXPECT_EQ(dev, (std::vector<int>{1, 0, 2, 3, 1}));  // "c" overflows to other = 3
  Matrix x;
  tower.BuildInput(pos, dev, &x);
  EXPECT_EQ(x.rows(), 5);
  EXPECT_EQ(x.row(2).sum(), 2);  // two one-hots
  const Matrix r = RandomMatrix(5, 1, &rng);
  MlpCache cache;
  const auto loss = [&] { return Project(tower.Forward(p, x, &cache), r); };
  loss();
  MlpParams grad = tower.Zeros();
  tower.Backward(p, &cache, r, &grad);
  for (size_t i = 0; i < p.size(); ++i) {
    CheckGradient(testing::Named("w", i), View(p[i].w), View(grad[i].w), loss);
    CheckGradient(testing::Named("b", i), View(p[i].b), View(grad[i].b), loss);
  }
}

}  // namespace
}  // namespace ranker::learner
