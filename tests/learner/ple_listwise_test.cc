// The ple architecture's shape and snapshot round trip, and the listwise
// click loss end to end (training reports, serving softmax). Gradients are
// checked in tests/learner_f64.
#include <gtest/gtest.h>

#include <cmath>

#include "learner/model.h"
#include "learner/net/loss.h"
#include "learner/scorer.h"
#include "learner/trainer.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

using testing::MakeExamples;
using testing::SmallModel;

ModelOptions PleModel(int levels) {
  ModelOptions o = SmallModel();
  o.architecture = Architecture::kPle;
  o.ple_levels = levels;
  o.shared_experts = 2;
  o.task_experts = 1;
  return o;
}

// Examples in lists of 4 (group = list), as the joiner emits a request.
std::vector<Example> Lists(size_t n, uint64_t seed) {
  std::vector<Example> out = MakeExamples(n, seed);
  for (size_t i = 0; i < out.size(); ++i) out[i].group = 1 + i / 4;
  return out;
}

TEST(Ple, ShapeCountsEveryLevelAndGate) {
  auto m = testing::MustCreate(PleModel(2), OptimizerOptions());
  const Network& net = m->network();
  ASSERT_NE(net.ple(), nullptr);
  EXPECT_EQ(net.num_experts(), 4);          // level 0: 2 shared + 2 tasks x 1
  EXPECT_EQ(net.num_gates(), 5);            // level 0: 2 tasks + shared; level 1: 2 tasks
  EXPECT_EQ(net.gate_width(), 3);           // a task's own expert and the 2 shared
  EXPECT_EQ(m->params().upper.size(), 3u);  // level 1: shared + 2 tasks
  auto cgc = testing::MustCreate(PleModel(1), OptimizerOptions());
  EXPECT_EQ(cgc->network().num_gates(), 2);
  EXPECT_TRUE(cgc->params().upper.empty());
  EXPECT_LT(cgc->num_parameters(), m->num_parameters());
}

TEST(Ple, GatesReportTheTaskGateOfTheLastLevel) {
  auto m = testing::MustCreate(PleModel(3), OptimizerOptions());
  const StepResult r = m->TrainStep(MakeExamples(8, 3));
  ASSERT_EQ(r.gates.size(), 2u);
  ASSERT_EQ(r.gates[0].cols(), 3);
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(r.gates[1].row(i).sum(), 1.0, 1e-5);
}

TEST(Ple, RejectsBadShapeNamingTheKey) {
  ModelOptions o = PleModel(0);
  EXPECT_NE(o.Validate().message().find("model.ple_levels"), std::string::npos);
  o = PleModel(2);
  o.task_experts = 0;
  EXPECT_NE(o.Validate().message().find("model.task_experts"), std::string::npos);
  o = PleModel(2);
  o.shared_experts = 0;
  EXPECT_NE(o.Validate().message().find("model.shared_experts"), std::string::npos);
}

TEST(Ple, SnapshotRoundTripKeepsChecksumAndFutureTraining) {
  const ModelOptions o = PleModel(2);
  auto m = testing::MustCreate(o, OptimizerOptions());
  const std::vector<Example> examples = MakeExamples(64, 4);
  for (size_t i = 0; i < examples.size(); i += 16) m->TrainStep(std::span(examples).subspan(i, 16));
  std::string state;
  m->SerializeState(&state);
  std::vector<std::pair<uint64_t, std::string>> rows;
  for (uint64_t key : m->embeddings().SortedKeys()) {
    std::string row;
    ASSERT_TRUE(m->embeddings().ExportRow(key, &row));
    rows.emplace_back(key, std::move(row));
  }
  auto restored = Model::Restore(state, rows, o, OptimizerOptions());
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ((*restored)->ParamChecksum(), m->ParamChecksum());
  const std::vector<Example> more = MakeExamples(16, 5);
  EXPECT_EQ(m->TrainStep(more).predictions, (*restored)->TrainStep(more).predictions);
  EXPECT_EQ((*restored)->ParamChecksum(), m->ParamChecksum());
  // A PLE image is not an MMoE one of the same sizes.
  ModelOptions other = o;
  other.ple_levels = 1;
  EXPECT_FALSE(Model::Restore(state, rows, other, OptimizerOptions()).ok());
}

TEST(Listwise, OnlyBinaryTasksMayBeListwise) {
  ModelOptions o = SmallModel();
  o.tasks[1].loss = ListLoss::kListwise;
  const Status s = o.Validate();
  EXPECT_NE(s.message().find("tasks.watch.loss"), std::string::npos) << s.ToString();
}

TEST(Listwise, PredictionsAreSoftmaxWithinEachList) {
  ModelOptions o = SmallModel();
  o.tasks[0].loss = ListLoss::kListwise;
  auto m = testing::MustCreate(o, OptimizerOptions());
  const std::vector<Example> batch = Lists(12, 6);
  const StepResult r = m->TrainStep(batch);
  ASSERT_FALSE(r.skipped);
  for (int list = 0; list < 3; ++list) {
    double sum = 0;
    for (int i = 4 * list; i < 4 * list + 4; ++i) sum += r.prediction(i, 0);
    EXPECT_NEAR(sum, 1.0, 1e-6) << list;
  }
  int clicked = 0;
  for (int list = 0; list < 3; ++list) {
    double clicks = 0;
    for (int i = 4 * list; i < 4 * list + 4; ++i) clicks += batch[i].labels[0];
    clicked += clicks > 0;
  }
  EXPECT_EQ(r.lists[0], clicked);
  EXPECT_EQ(r.lists[1], 0);  // regression stays pointwise
}

TEST(Listwise, LearnsToRankAndReportsListCrossEntropy) {
  ModelOptions o = SmallModel();
  o.tasks[0].loss = ListLoss::kListwise;
  TrainerOptions to;
  to.batch_size = 16;
  auto trainer = Trainer::Create(o, OptimizerOptions(), to);
  ASSERT_TRUE(trainer.ok());
  for (const Example& e : Lists(4000, 7)) (*trainer)->Add(e);
  (*trainer)->Flush();
  const TaskMetrics click = (*trainer)->metrics().Report().tasks[0];
  EXPECT_TRUE(click.listwise);
  EXPECT_TRUE(std::isnan(click.logloss));
  EXPECT_GT(click.lists, 300);
  // Uniform guessing over 4 items costs log(4) = 1.39 per list.
  EXPECT_LT(click.list_cross_entropy, 1.3);
  EXPECT_GT(click.auc, 0.7);
}

TEST(Listwise, ServingScoreIsTheSoftmaxOverTheCandidates) {
  ModelOptions o = SmallModel();
  o.tasks[0].loss = ListLoss::kListwise;
  o.position_tower = false;
  auto m = testing::MustCreate(o, OptimizerOptions());
  const std::vector<Example> train = Lists(400, 8);
  for (size_t i = 0; i < train.size(); i += 20) m->TrainStep(std::span(train).subspan(i, 20));
  const std::vector<Example> candidates = MakeExamples(6, 9);
  const Scorer scorer(*m);
  ScoreResult r;
  scorer.ScoreExamples(candidates, &r);
  const Matrix logits = Scorer::LastOutputs();
  double sum = 0, denom = 0;
  const auto z = [&](size_t i) {
    return static_cast<double>(logits(static_cast<Eigen::Index>(i), 0));
  };
  for (size_t i = 0; i < 6; ++i) denom += std::exp(z(i));
  for (size_t i = 0; i < 6; ++i) {
    sum += r.prediction(i, 0);
    EXPECT_NEAR(r.prediction(i, 0), std::exp(z(i)) / denom, 1e-9);
    EXPECT_NEAR(r.scores[i], r.prediction(i, 0) * (1 + r.prediction(i, 1)), 1e-9 * r.scores[i]);
  }
  EXPECT_NEAR(sum, 1.0, 1e-9);
}

}  // namespace
}  // namespace ranker::learner
