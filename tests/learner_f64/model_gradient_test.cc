// Gradient checks of the whole network and the whole model, for each
// architecture: w.r.t. every dense parameter, the input X, the position
// tower and the embedding rows (through slot pooling and the layout).
#include <gtest/gtest.h>

#include "learner/model.h"
#include "learner/net/network.h"
#include "tests/learner_f64/grad_check.h"

namespace ranker::learner {
namespace {

using testing::CheckGradient;
using testing::Project;
using testing::RandomMatrix;

struct Shape {
  Architecture arch;
  std::vector<int> expert_hidden;
  int ple_levels = 2;  // kPle only
  ListLoss click_loss = ListLoss::kPointwise;
};

std::string Name(const ::testing::TestParamInfo<Shape>& info) {
  static const char* kNames[] = {"Mmoe", "SharedBottom", "Omoe", "Independent", "Ple"};
  std::string name = std::string(kNames[static_cast<int>(info.param.arch)]) + "_" +
                     std::to_string(info.param.expert_hidden.size()) + "layers";
  if (info.param.arch == Architecture::kPle) {
    name += "_" + std::to_string(info.param.ple_levels) + "levels";
  }
  if (info.param.click_loss == ListLoss::kListwise) name += "_listwise";
  return name;
}

ModelOptions SmallOptions(const Shape& s) {
  ModelOptions o;
  o.architecture = s.arch;
  o.categorical_slots = 4;
  o.embedding_dim = 3;
  o.dense_slots = 2;
  o.num_experts = 3;
  o.expert_hidden = s.expert_hidden;
  o.ple_levels = s.ple_levels;
  o.shared_experts = 2;
  o.task_experts = 2;
  o.tasks[0].loss = s.click_loss;
  o.tower_hidden = {3};
  o.max_position = 3;
  o.max_devices = 2;
  o.position_tower_hidden = 2;
  o.position_dropout = 0.3;
  o.embedding_init_scale = 0.5;
  o.tasks[1].loss_weight = 0.7;
  return o;
}

// Tensors() lists w, b of every layer in turn: the odd ones are biases.
// Non-zero biases keep pre-activations off the ReLU kink at exactly 0 (a
// unit with all-zero inputs and a zero bias), where central differences
// see half a slope.
void RandomiseBiases(const std::vector<TensorView>& tensors, Rng* rng) {
  for (size_t i = 1; i < tensors.size(); i += 2) {
    for (Real& b : tensors[i]) b = 0.3 * (2 * rng->Uniform() - 1);
  }
}

class NetworkGradient : public ::testing::TestWithParam<Shape> {};

TEST_P(NetworkGradient, ParamsAndInputMatchCentralDifferences) {
  const ModelOptions o = SmallOptions(GetParam());
  const Network net(o);
  Rng rng(21);
  NetworkParams p = net.Init(&rng);
  RandomiseBiases(p.Tensors(), &rng);
  Matrix x = RandomMatrix(4, net.input_width(), &rng);
  std::vector<Matrix> r;
  for (int t = 0; t < net.num_tasks(); ++t) r.push_back(RandomMatrix(4, 1, &rng));
  NetworkCache cache;
  const auto loss = [&] {
    net.Forward(p, x, &cache);
    double total = 0;
    for (int t = 0; t < net.num_tasks(); ++t) total += Project(net.Output(cache, t), r[t]);
    return total;
  };
  loss();
  NetworkParams grad = net.Zeros();
  std::vector<Vector> dy;
  for (const Matrix& m : r) dy.push_back(m.col(0));
  Matrix dx;
  net.Backward(p, &cache, dy, &grad, &dx);
  const std::vector<TensorView> pv = p.Tensors();
  const std::vector<TensorView> gv = grad.Tensors();
  int checked = 0;
  for (size_t i = 0; i < pv.size(); ++i) {
    checked += CheckGradient(testing::Named("tensor ", i), pv[i], gv[i], loss);
  }
  checked += CheckGradient("x", View(x), View(dx), loss);
  EXPECT_GT(checked, 150);
}

class ModelGradient : public ::testing::TestWithParam<Shape> {};

std::vector<Example> Batch() {
  std::vector<Example> batch;
  const char* devices[] = {"mobile", "desktop", "", "tv"};
  for (int i = 0; i < 6; ++i) {
    Example e;
    e.item_id = "item" + std::to_string(i % 4);
    e.position = i + 1;  // 4+ clip to max_position 3
    e.device = devices[i % 4];
    e.categorical = {{"user_id", "u" + std::to_string(i % 2)},
                     {"item_id", e.item_id},
                     {"user.country", i % 3 == 0 ? "de" : "fr"},
                     {"item.tag", "t1"},
                     {"item.tag", "t" + std::to_string(i % 3)},  // pooled
                     {"item.extra", "x"}};                       // beyond the 4 slots: hashed slot
    if (!e.device.empty()) e.categorical.push_back({"context.device", e.device});
    e.dense = {{"price", 0.5 * i}, {"age", 10.0 - i}, {"overflow", 1.0 * (i % 2)}};
    e.labels = {i % 2 == 0 ? 1.0 : 0.0, i == 3 ? kNoLabel : 2.0 * i};
    e.group = i < 4 ? 7 : 8;  // two lists (listwise), each with a click
    batch.push_back(e);
  }
  return batch;
}

// A batch large enough for the trainer's factored first expert layer (64+
// examples) and for the column-major weight gradients of DenseLayer: user
// ids all distinct (a plain slot), items, countries, devices and the pooled
// tags from a few values each (shared slots).
std::vector<Example> LargeBatch() {
  std::vector<Example> batch;
  const char* devices[] = {"mobile", "desktop", "tv"};
  for (int i = 0; i < 96; ++i) {
    Example e;
    e.item_id = "item" + std::to_string(i % 7);
    e.position = i % 4 + 1;
    e.device = devices[i % 3];
    e.categorical = {
        {"user_id", "u" + std::to_string(i)},       {"item_id", e.item_id},
        {"user.country", i % 5 == 0 ? "de" : "fr"}, {"item.tag", "t" + std::to_string(i % 4)},
        {"item.tag", "t" + std::to_string(i % 3)},  {"context.device", e.device}};
    e.dense = {{"price", 0.1 * (i % 11)}, {"age", 3.0 - 0.05 * i}};
    e.labels = {i % 3 == 0 ? 1.0 : 0.0, 0.5 * (i % 5)};
    e.group = 100 + i / 5;  // lists of 5 (listwise); some without a click
    batch.push_back(e);
  }
  return batch;
}

void CheckModelGradient(const Shape& shape, const std::vector<Example>& batch) {
  ModelOptions o = SmallOptions(shape);
  OptimizerOptions opt;
  opt.learning_rate = 0.01;
  auto model = Model::Create(o, opt);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  Model& m = **model;
  ASSERT_FALSE(m.TrainStep(batch).skipped);  // creates the rows and bindings
  // 23: with 22, one first-layer unit of the large-batch CGC shape sat
  // within a step of its ReLU kink for one example (seeds 23-25 all pass).
  Rng rng(23);
  RandomiseBiases(m.mutable_params()->Tensors(), &rng);
  const ModelGradients g = m.Gradients(batch);
  const auto loss = [&] { return m.Gradients(batch).loss; };
  EXPECT_GT(g.loss, 0);

  std::vector<TensorView> pv = m.mutable_params()->Tensors();
  NetworkParams gn = g.network;
  std::vector<TensorView> gv = gn.Tensors();
  for (size_t i = 0; i < pv.size(); ++i)
    CheckGradient(testing::Named("tensor ", i), pv[i], gv[i], loss);
  MlpParams gp = g.position;
  MlpParams& pp = *m.mutable_position_params();
  ASSERT_EQ(pp.size(), 2u);
  for (size_t i = 0; i < pp.size(); ++i) {
    CheckGradient("position w", View(pp[i].w), View(gp[i].w), loss);
    CheckGradient("position b", View(pp[i].b), View(gp[i].b), loss);
  }
  ASSERT_EQ(static_cast<size_t>(g.rows.rows()), g.keys.size());
  EXPECT_GE(g.keys.size(), 10u);
  for (size_t k = 0; k < g.keys.size(); ++k) {
    std::span<Real> row = m.mutable_embeddings()->Mutable(g.keys[k]);
    Matrix gk = g.rows.row(static_cast<Eigen::Index>(k));
    CheckGradient(testing::Named("row ", k), row.first(3), View(gk), loss);
  }
}

TEST_P(ModelGradient, EveryLearnedTensorMatchesCentralDifferences) {
  CheckModelGradient(GetParam(), Batch());
}

TEST_P(ModelGradient, LargeBatchMatchesCentralDifferences) {
  CheckModelGradient(GetParam(), LargeBatch());
}

const Shape kShapes[] = {
    {Architecture::kMmoe, {5, 4}},
    {Architecture::kOmoe, {5, 4}},
    {Architecture::kSharedBottom, {5, 4}},
    {Architecture::kIndependent, {5, 4}},
    {Architecture::kMmoe, {4}},
    {Architecture::kIndependent, {4}},
    {Architecture::kMmoe, {5, 4, 3}},
    {Architecture::kPle, {5, 4}, 2},
    {Architecture::kPle, {5, 4}, 1},
    {Architecture::kPle, {4}, 3},
    {Architecture::kMmoe, {5, 4}, 2, ListLoss::kListwise},
    {Architecture::kPle, {5, 4}, 2, ListLoss::kListwise},
};

INSTANTIATE_TEST_SUITE_P(Architectures, NetworkGradient, ::testing::ValuesIn(kShapes), Name);
INSTANTIATE_TEST_SUITE_P(Architectures, ModelGradient, ::testing::ValuesIn(kShapes), Name);

// TrainStep applies exactly one Adagrad step on Gradients(): for small
// batches the first expert layer's gradient is never materialised (it is
// applied from the layer's deltas and inputs, skipping inactive units), for
// larger ones it is. Both must match the formula on the checked gradient.
class AdagradStep : public ::testing::TestWithParam<std::tuple<Architecture, size_t>> {};

TEST_P(AdagradStep, AppliesTheGradientOfEveryDenseTensor) {
  ModelOptions o = SmallOptions({std::get<0>(GetParam()), {5, 4}});
  OptimizerOptions opt;
  opt.learning_rate = 0.05;
  opt.adagrad_initial_accumulator = 0.1;
  auto model = Model::Create(o, opt);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  Model& m = **model;
  const std::vector<Example> all = Batch();
  const std::span<const Example> batch = std::span(all).first(std::get<1>(GetParam()));
  const std::unique_ptr<Model> before = m.Clone();
  const ModelGradients g = before->Clone()->Gradients(batch);
  ASSERT_FALSE(m.TrainStep(batch).skipped);
  std::vector<TensorView> p0 = before->mutable_params()->Tensors();
  std::vector<TensorView> p1 = m.mutable_params()->Tensors();
  NetworkParams gn = g.network;
  std::vector<TensorView> gv = gn.Tensors();
  int moved = 0;
  for (size_t t = 0; t < p0.size(); ++t) {
    for (size_t i = 0; i < p0[t].size(); ++i) {
      const double gi = gv[t][i];
      const double expected = p0[t][i] - 0.05 * gi / (std::sqrt(0.1 + gi * gi) + 1e-8);
      EXPECT_NEAR(p1[t][i], expected, 1e-12) << "tensor " << t << " [" << i << "]";
      moved += p1[t][i] != p0[t][i];
    }
  }
  EXPECT_GT(moved, 20);
}

INSTANTIATE_TEST_SUITE_P(BatchSizes, AdagradStep,
                         ::testing::Combine(::testing::Values(Architecture::kMmoe,
                                                              Architecture::kPle),
                                            ::testing::Values(size_t{1}, size_t{2}, size_t{6})));

}  // namespace
}  // namespace ranker::learner
