#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "learner/net/loss.h"
#include "learner/scorer.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

using testing::MakeExamples;
using testing::SmallModel;

// Splits examples into the request part (user_id, user.*, context.*) and
// candidates (the rest).
ScoreRequest RequestOf(const Example& e) {
  ScoreRequest r;
  for (const CategoricalFeature& f : e.categorical) {
    if (f.field.rfind("item", 0) != 0) r.shared.push_back(f);
  }
  return r;
}

Example CandidateOf(const Example& e) {
  Example c;
  c.item_id = e.item_id;
  for (const CategoricalFeature& f : e.categorical) {
    if (f.field.rfind("item", 0) == 0) c.categorical.push_back(f);
  }
  c.dense = e.dense;
  return c;
}

class ScorerTest : public ::testing::TestWithParam<Architecture> {
 protected:
  void SetUp() override {
    ModelOptions o = SmallModel();
    o.architecture = GetParam();
    o.position_tower = false;
    model_ = testing::MustCreate(o, OptimizerOptions());
    const std::vector<Example> train = MakeExamples(400, 21);
    for (size_t i = 0; i < train.size(); i += 20)
      model_->TrainStep(std::span(train).subspan(i, 20));
  }
  std::unique_ptr<Model> model_;
};

// One user, many candidates: full[0]'s user features in every example.
// Scoring them as one request (user part once) and as whole examples must
// give the same scores and predictions.
void ExpectSplitEqualsFull(const Model& model, std::vector<Example> full) {
  for (Example& e : full) {
    for (int f : {0, 2, 4}) e.categorical[f] = full[0].categorical[f];
  }
  std::vector<Example> candidates;
  for (const Example& e : full) candidates.push_back(CandidateOf(e));
  const Scorer scorer(model);
  ScoreResult split, reference;
  scorer.Score(RequestOf(full[0]), candidates, &split);
  scorer.ScoreExamples(full, &reference);
  ASSERT_EQ(split.scores.size(), full.size());
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_NEAR(split.scores[i], reference.scores[i], 1e-5 * std::abs(reference.scores[i])) << i;
    for (int t = 0; t < 2; ++t) {
      EXPECT_NEAR(split.prediction(i, t), reference.prediction(i, t),
                  1e-4 * (1 + std::abs(reference.prediction(i, t))))
          << i;
    }
  }
}

TEST_P(ScorerTest, SplitScoringEqualsTheFullForward) {
  ExpectSplitEqualsFull(*model_, MakeExamples(30, 22));
}

// 300 candidates over 20 items and 4 categories: both item slots repeat
// enough to be multiplied once per distinct row, and their uses cross the
// scorer's blocks of 128 candidates.
TEST_P(ScorerTest, RepeatedCandidateRowsScoreAsTheFullForward) {
  ExpectSplitEqualsFull(*model_, MakeExamples(300, 23));
}

// 300 candidates in 3 blocks, spread over pool helpers (http.score_threads):
// every bit as scored alone, also with requests from several threads at
// once sharing the helpers (TSan runs this suite).
TEST_P(ScorerTest, BlocksSpreadOverAPoolScoreTheSameBits) {
  std::vector<Example> full = MakeExamples(300, 23);
  for (Example& e : full) {
    for (int f : {0, 2, 4}) e.categorical[f] = full[0].categorical[f];
  }
  std::vector<Example> candidates;
  for (const Example& e : full) candidates.push_back(CandidateOf(e));
  const ScoreRequest request = RequestOf(full[0]);
  ScoreResult alone;
  Scorer(*model_).Score(request, candidates, &alone);
  WorkerPool pool(2, "test-score");
  const Scorer parallel(*model_, &pool);
  std::vector<ScoreResult> results(4);
  std::vector<std::thread> callers;
  for (ScoreResult& r : results) {
    callers.emplace_back([&] {
      for (int i = 0; i < 5; ++i) parallel.Score(request, candidates, &r);
    });
  }
  for (std::thread& t : callers) t.join();
  for (const ScoreResult& r : results) {
    EXPECT_EQ(r.scores, alone.scores);
    EXPECT_EQ(r.predictions, alone.predictions);
  }
}

TEST_P(ScorerTest, ServingPredictsWhatTheTrainerPredictsBeforeItsUpdate) {
  // Without dense features: training standardises them with statistics
  // that already include its own batch (input_layout.h), serving does not.
  std::vector<Example> full = MakeExamples(30, 22, /*with_dense=*/false);
  for (Example& e : full) {
    for (int f : {0, 2, 4}) e.categorical[f] = full[0].categorical[f];
  }
  // A first-seen value: training and serving use the same initial row.
  full[3].categorical[1].value = "brand-new-item";
  std::vector<Example> candidates;
  for (const Example& e : full) candidates.push_back(CandidateOf(e));
  const Scorer scorer(*model_);
  ScoreResult split;
  scorer.Score(RequestOf(full[0]), candidates, &split);
  const size_t rows = model_->embedding_rows();
  const StepResult trained = model_->Clone()->TrainStep(full);
  EXPECT_EQ(model_->embedding_rows(), rows);  // scoring inserted nothing
  for (size_t i = 0; i < 30; ++i) {
    EXPECT_NEAR(split.prediction(i, 0), trained.prediction(i, 0), 1e-5);
    const double watch = std::max(std::expm1(trained.prediction(i, 1)), 0.0);
    EXPECT_NEAR(split.prediction(i, 1), watch, 1e-4 * (1 + watch));
  }
}

TEST_P(ScorerTest, ScoreIsTheWeightedProductOfTaskScores) {
  const std::vector<Example> full = MakeExamples(5, 23);
  std::vector<Example> candidates;
  for (const Example& e : full) candidates.push_back(CandidateOf(e));
  ScoreRequest request = RequestOf(full[0]);
  const Scorer scorer(*model_);
  ScoreResult r;
  scorer.Score(request, candidates, &r);
  for (size_t i = 0; i < 5; ++i) {
    const double p = r.prediction(i, 0);
    const double watch = r.prediction(i, 1);
    EXPECT_GT(p, 0);
    EXPECT_LT(p, 1);
    EXPECT_GE(watch, 0);
    EXPECT_NEAR(r.scores[i], p * (1 + watch), 1e-9 * r.scores[i]);
  }
  request.weights = {2.0, 0.5};
  ScoreResult weighted;
  scorer.Score(request, candidates, &weighted);
  for (size_t i = 0; i < 5; ++i) {
    const double expected = std::pow(r.prediction(i, 0), 2.0) * std::sqrt(1 + r.prediction(i, 1));
    EXPECT_NEAR(weighted.scores[i], expected, 1e-9 * expected);
  }
}

TEST_P(ScorerTest, UnseenValuesScoreWithTheirInitialRowsWithoutInserting) {
  Example e = MakeExamples(1, 24)[0];
  e.categorical[0].value = "new-user";
  const size_t rows = model_->embedding_rows();
  const Scorer scorer(*model_);
  ScoreResult a, b;
  scorer.ScoreExamples(std::span(&e, 1), &a);
  scorer.ScoreExamples(std::span(&e, 1), &b);
  EXPECT_EQ(model_->embedding_rows(), rows);
  EXPECT_EQ(a.scores, b.scores);
  EXPECT_TRUE(std::isfinite(a.scores[0]));
}

INSTANTIATE_TEST_SUITE_P(Architectures, ScorerTest,
                         ::testing::Values(Architecture::kMmoe, Architecture::kOmoe,
                                           Architecture::kSharedBottom, Architecture::kIndependent,
                                           Architecture::kPle));

TEST(ScorerPosition, ServingLeavesThePositionTowerOut) {
  ModelOptions o = SmallModel();
  auto m = testing::MustCreate(o, OptimizerOptions());
  m->TrainStep(MakeExamples(32, 25));
  // Make the position tower's output large: training predictions move,
  // serving predictions do not.
  Example e = MakeExamples(1, 26)[0];
  const Scorer scorer(*m);
  ScoreResult before, after;
  scorer.ScoreExamples(std::span(&e, 1), &before);
  const double train_before = m->Clone()->TrainStep(std::span(&e, 1)).prediction(0, 0);
  m->mutable_position_params()->back().b(0) += 3;
  scorer.ScoreExamples(std::span(&e, 1), &after);
  const double train_after = m->Clone()->TrainStep(std::span(&e, 1)).prediction(0, 0);
  EXPECT_EQ(before.scores, after.scores);
  EXPECT_NEAR(Sigmoid(std::log(train_before / (1 - train_before)) + 3), train_after, 1e-4);
}

}  // namespace
}  // namespace ranker::learner
