// Trainer batching around Example::group, and the trainer state's example
// format (loss weights and group survive a round trip).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "learner/trainer.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

using testing::MakeExamples;
using testing::SmallModel;

std::unique_ptr<Trainer> MakeTrainer(int batch_size) {
  TrainerOptions t;
  t.batch_size = batch_size;
  auto created = Trainer::Create(SmallModel(), OptimizerOptions(), t);
  EXPECT_TRUE(created.ok()) << created.status().ToString();
  if (!created.ok()) std::abort();
  return std::move(created).value();
}

// Examples 0..n-1 with groups given per example.
std::vector<Example> Grouped(const std::vector<uint64_t>& groups) {
  std::vector<Example> ex = MakeExamples(groups.size(), 7);
  for (size_t i = 0; i < ex.size(); ++i) ex[i].group = groups[i];
  return ex;
}

TEST(TrainerGroupTest, UngroupedExamplesTrainAtBatchSize) {
  std::unique_ptr<Trainer> trainer = MakeTrainer(4);
  for (Example& e : Grouped({0, 0, 0, 0, 0, 0})) trainer->Add(std::move(e));
  EXPECT_EQ(trainer->stats().steps, 1);
  EXPECT_EQ(trainer->buffered(), 2u);
}

TEST(TrainerGroupTest, AFullBatchWaitsForTheEndOfItsGroup) {
  std::unique_ptr<Trainer> trainer = MakeTrainer(4);
  std::vector<Example> ex = Grouped({5, 5, 9, 9, 9, 9, 3, 0});
  for (int i = 0; i < 4; ++i) trainer->Add(std::move(ex[i]));
  EXPECT_EQ(trainer->stats().steps, 0);  // group 9 may continue
  trainer->Add(std::move(ex[4]));
  trainer->Add(std::move(ex[5]));
  EXPECT_EQ(trainer->stats().steps, 0);
  EXPECT_EQ(trainer->buffered(), 6u);
  trainer->Add(std::move(ex[6]));  // group 3 ends group 9: one step of 6
  EXPECT_EQ(trainer->stats().steps, 1);
  EXPECT_EQ(trainer->stats().examples_trained, 6);
  EXPECT_EQ(trainer->buffered(), 1u);
  trainer->Add(std::move(ex[7]));
  trainer->Flush();
  EXPECT_EQ(trainer->stats().examples_trained, 8);
}

TEST(TrainerGroupTest, StateKeepsLossWeightsGroupsAndAWaitingBatch) {
  std::unique_ptr<Trainer> a = MakeTrainer(2);
  std::vector<Example> ex = Grouped({4, 4, 4, 6});
  ex[1].loss_weights = {0.5, 2.0};
  for (int i = 0; i < 3; ++i) a->Add(ex[i]);
  ASSERT_EQ(a->buffered(), 3u);  // waiting: the batch is full inside group 4
  std::string state;
  a->SerializeState(&state);
  std::unique_ptr<Trainer> b = MakeTrainer(2);
  ASSERT_TRUE(b->RestoreState(state).ok());
  EXPECT_EQ(b->buffered(), 3u);
  a->Add(ex[3]);
  b->Add(ex[3]);
  a->Flush();
  b->Flush();
  EXPECT_EQ(a->stats().steps, 2);
  EXPECT_EQ(a->model().ParamChecksumHex(), b->model().ParamChecksumHex());
}

TEST(TrainerGroupTest, AFullUngroupedBatchInStateIsCorrupt) {
  std::unique_ptr<Trainer> a = MakeTrainer(4);
  for (Example& e : Grouped({0, 0, 0})) a->Add(std::move(e));
  std::string state;
  a->SerializeState(&state);
  std::unique_ptr<Trainer> small = MakeTrainer(3);
  EXPECT_EQ(small->RestoreState(state).code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace ranker::learner
