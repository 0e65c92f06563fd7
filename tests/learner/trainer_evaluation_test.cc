// Progressive metrics of the joiner's immediate mode: the impression's first
// example keeps its predictions, a labels-only record scores them later
// against the matured labels; corrections are trained but not scored.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "learner/trainer.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

std::unique_ptr<Trainer> MakeTrainer(int batch_size) {
  TrainerOptions t;
  t.batch_size = batch_size;
  auto created = Trainer::Create(testing::SmallModel(), OptimizerOptions(), t);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  if (!created.ok()) std::abort();
  return std::move(created).value();
}

Example Role(Example e, Evaluation evaluation, uint64_t eval_id, std::vector<double> labels) {
  e.evaluation = evaluation;
  e.eval_id = eval_id;
  e.labels = std::move(labels);
  return e;
}

TEST(TrainerEvaluationTest, ScoredOnceAgainstTheMaturedLabel) {
  std::unique_ptr<Trainer> trainer = MakeTrainer(2);
  const std::vector<Example> ex = testing::MakeExamples(2, 5);
  trainer->Add(Role(ex[0], Evaluation::kScoreOnly, 1, {0.0, kNoLabel}));  // fake negative
  trainer->Add(Role(ex[0], Evaluation::kNone, 0, {1.0, kNoLabel}));       // its correction
  EXPECT_EQ(trainer->stats().examples_trained, 2);
  EXPECT_EQ(trainer->metrics().Report().tasks[0].count, 0);  // nothing scored yet
  trainer->Add(Role(ex[1], Evaluation::kScoreOnly, 2, {0.0, kNoLabel}));
  // The labels of impression 2 arrive while its example waits in the batch:
  // the batch trains first, then the kept prediction is scored.
  trainer->Add(Role(Example(), Evaluation::kLabelsOnly, 2, {0.0, kNoLabel}));
  EXPECT_EQ(trainer->stats().examples_trained, 3);
  trainer->Add(Role(Example(), Evaluation::kFinalLabelsOnly, 1, {1.0, 4.0}));
  const TaskMetrics click = trainer->metrics().Report().tasks[0];
  EXPECT_EQ(click.count, 2);
  EXPECT_EQ(click.positives, 1);  // impression 1's matured click
  EXPECT_EQ(trainer->metrics().Report().tasks[1].count, 1);
  EXPECT_EQ(trainer->stats().examples_trained, 3);  // labels-only records never train

  std::string state;
  trainer->SerializeState(&state);
  std::unique_ptr<Trainer> restored = MakeTrainer(2);
  ASSERT_TRUE(restored->RestoreState(state).ok());
  // Impression 2's prediction is still kept (its record was not final).
  restored->Add(Role(Example(), Evaluation::kFinalLabelsOnly, 2, {kNoLabel, 1.0}));
  EXPECT_EQ(restored->metrics().Report().tasks[1].count, 2);
  restored->Add(Role(Example(), Evaluation::kFinalLabelsOnly, 1, {1.0, 1.0}));  // forgotten
  EXPECT_EQ(restored->metrics().Report().tasks[0].count, 2);
}

}  // namespace
}  // namespace ranker::learner
