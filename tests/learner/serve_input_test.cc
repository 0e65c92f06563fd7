// The serving input of a batch of candidates (InputLayout::Build in kServe
// mode, which memoises each feature name's slot and statistics within the
// batch) equals each candidate's row built on its own, bit for bit, with
// features in any order, unknown and pooled names, and more distinct names
// than the memo holds.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/random.h"
#include "learner/input_layout.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

using testing::MakeExamples;
using testing::SmallModel;
using testing::Str;

void ExpectBatchEqualsRows(int categorical_slots) {
  ModelOptions o = SmallModel();
  o.categorical_slots = categorical_slots;
  std::unique_ptr<Model> model = testing::MustCreate(o, OptimizerOptions());
  const std::vector<Example> train = MakeExamples(200, 3);
  for (size_t i = 0; i < train.size(); i += 20) model->TrainStep(std::span(train).subspan(i, 20));
  std::vector<Example> candidates = MakeExamples(120, 4);
  Rng rng(5);
  for (size_t i = 0; i < candidates.size(); ++i) {
    Example& c = candidates[i];
    // Unknown names (no slot, or a pooled one when the slots are full),
    // 40 distinct dense names across the batch, and shuffled orders.
    c.categorical.push_back({"item.extra", Str("x", i % 3)});
    c.dense.push_back({Str("n", i % 40), static_cast<double>(i)});
    std::reverse(c.dense.begin(), c.dense.end());
    if (rng.Bernoulli(0.5)) std::reverse(c.categorical.begin(), c.categorical.end());
  }
  const InputLayout& layout = model->layout();
  BatchInput batch, row;
  layout.Build(candidates, model->embeddings(), InputLayout::Mode::kServe, &batch);
  ASSERT_EQ(batch.x.rows(), static_cast<Eigen::Index>(candidates.size()));
  for (size_t i = 0; i < candidates.size(); ++i) {
    layout.BuildRow(candidates[i].categorical, candidates[i].dense, model->embeddings(), &row);
    for (Eigen::Index j = 0; j < batch.x.cols(); ++j) {
      ASSERT_EQ(batch.x(static_cast<Eigen::Index>(i), j), row.x(0, j)) << i << " " << j;
    }
  }
}

TEST(ServeInput, ABatchEqualsEachCandidateBuiltAlone) { ExpectBatchEqualsRows(6); }

TEST(ServeInput, ABatchEqualsEachCandidateBuiltAloneWithPooledFields) {
  ExpectBatchEqualsRows(5);  // the 5 trained fields fill the slots: item.extra is pooled
}

}  // namespace
}  // namespace ranker::learner
