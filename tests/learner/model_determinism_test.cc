#include <gtest/gtest.h>

#include "learner/model.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

using testing::MakeExamples;
using testing::SmallModel;

std::unique_ptr<Model> Trained(const ModelOptions& o, const OptimizerOptions& opt,
                               const std::vector<Example>& examples, size_t batch) {
  auto m = Model::Create(o, opt);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  for (size_t i = 0; i + batch <= examples.size(); i += batch) {
    EXPECT_FALSE((*m)->TrainStep(std::span(examples).subspan(i, batch)).skipped);
  }
  return std::move(*m);
}

class Determinism : public ::testing::TestWithParam<std::tuple<Architecture, OptimizerKind>> {};

TEST_P(Determinism, SameSeedSameBatchesGiveTheSameChecksum) {
  ModelOptions o = SmallModel();
  o.architecture = std::get<0>(GetParam());
  OptimizerOptions opt;
  opt.kind = std::get<1>(GetParam());
  const std::vector<Example> examples = MakeExamples(200, 1);
  const auto a = Trained(o, opt, examples, 8);
  const auto b = Trained(o, opt, examples, 8);
  EXPECT_EQ(a->ParamChecksum(), b->ParamChecksum());
  EXPECT_EQ(a->ParamChecksumHex().size(), 16u);
  EXPECT_EQ(a->steps(), 25u);

  o.seed = 2;
  const auto c = Trained(o, opt, examples, 8);
  EXPECT_NE(a->ParamChecksum(), c->ParamChecksum());
}

TEST_P(Determinism, ChecksumCoversTrainingOrder) {
  ModelOptions o = SmallModel();
  o.architecture = std::get<0>(GetParam());
  OptimizerOptions opt;
  opt.kind = std::get<1>(GetParam());
  std::vector<Example> examples = MakeExamples(64, 3);
  const auto a = Trained(o, opt, examples, 8);
  std::swap(examples[0], examples[40]);
  const auto b = Trained(o, opt, examples, 8);
  EXPECT_NE(a->ParamChecksum(), b->ParamChecksum());
}

INSTANTIATE_TEST_SUITE_P(
    All, Determinism,
    ::testing::Combine(::testing::Values(Architecture::kMmoe, Architecture::kOmoe,
                                         Architecture::kSharedBottom, Architecture::kIndependent,
                                         Architecture::kPle),
                       ::testing::Values(OptimizerKind::kAdagrad, OptimizerKind::kAdam)));

TEST(ModelChecksum, ChangesWithEveryKindOfState) {
  auto m = testing::MustCreate(SmallModel(), OptimizerOptions());
  const uint64_t fresh = m->ParamChecksum();
  const std::vector<Example> examples = MakeExamples(4, 5);
  m->TrainStep(examples);
  const uint64_t trained = m->ParamChecksum();
  EXPECT_NE(fresh, trained);
  // One embedding weight.
  m->mutable_embeddings()->Mutable(m->embeddings().SortedKeys()[0])[0] += 1;
  const uint64_t poked_row = m->ParamChecksum();
  EXPECT_NE(trained, poked_row);
  // One dense weight.
  m->mutable_params()->towers[0].back().b(0) += 1;
  EXPECT_NE(poked_row, m->ParamChecksum());
}

TEST(ModelCreate, RejectsInvalidOptions) {
  ModelOptions o;
  o.num_experts = 0;
  const auto m = Model::Create(o, OptimizerOptions());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("num_experts"), std::string::npos);
  OptimizerOptions opt;
  opt.learning_rate = 0;
  EXPECT_FALSE(Model::Create(ModelOptions(), opt).ok());
}

TEST(ModelCreate, StandardModelHasTheContractShape) {
  auto m = testing::MustCreate(ModelOptions(), OptimizerOptions());
  EXPECT_EQ(m->network().input_width(), 136);
  EXPECT_EQ(m->network().num_experts(), 8);
  EXPECT_EQ(m->network().num_gates(), 2);
  // Experts 136*1024+1024 + 8*(128*64+64); gates 2*(136*8+8); towers
  // 2*(64*32+32+32+1); position tower (21+10)*h+h+h+1 (h its hidden width,
  // a tuning knob rather than part of the contract shape).
  const size_t h = static_cast<size_t>(ModelOptions().position_tower_hidden);
  const size_t expected = (136 * 1024 + 1024) + 8 * (128 * 64 + 64) + 2 * (136 * 8 + 8) +
                          2 * (64 * 32 + 32 + 32 + 1) + (31 * h + h + h + 1);
  EXPECT_EQ(m->num_parameters(), expected);
}

}  // namespace
}  // namespace ranker::learner
