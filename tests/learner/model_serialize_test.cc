#include <gtest/gtest.h>

#include "learner/model.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

using testing::MakeExamples;
using testing::SmallModel;

class SerializeTest : public ::testing::TestWithParam<OptimizerKind> {
 protected:
  void SetUp() override {
    opt_.kind = GetParam();
    model_ = testing::MustCreate(SmallModel(), opt_);
    const std::vector<Example> examples = MakeExamples(96, 11);
    for (size_t i = 0; i < examples.size(); i += 16) {
      model_->TrainStep(std::span(examples).subspan(i, 16));
    }
    model_->Serialize(&image_);
  }
  OptimizerOptions opt_;
  std::unique_ptr<Model> model_;
  std::string image_;
};

TEST_P(SerializeTest, RoundTripKeepsChecksumAndFutureTraining) {
  auto restored = Model::Deserialize(image_, SmallModel(), opt_);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ((*restored)->ParamChecksum(), model_->ParamChecksum());
  EXPECT_EQ((*restored)->embedding_rows(), model_->embedding_rows());
  EXPECT_EQ((*restored)->steps(), model_->steps());
  // Identical subsequent training (bindings, stats, optimizer state, the
  // dropout stream all restored).
  const std::vector<Example> more = MakeExamples(48, 12);
  for (size_t i = 0; i < more.size(); i += 8) {
    const StepResult a = model_->TrainStep(std::span(more).subspan(i, 8));
    const StepResult b = (*restored)->TrainStep(std::span(more).subspan(i, 8));
    EXPECT_EQ(a.predictions, b.predictions);
  }
  EXPECT_EQ((*restored)->ParamChecksum(), model_->ParamChecksum());
}

TEST_P(SerializeTest, CloneIsIndependentAndIdentical) {
  const std::unique_ptr<Model> copy = model_->Clone();
  EXPECT_EQ(copy->ParamChecksum(), model_->ParamChecksum());
  const std::vector<Example> more = MakeExamples(8, 13);
  model_->TrainStep(more);
  EXPECT_NE(copy->ParamChecksum(), model_->ParamChecksum());
  copy->TrainStep(more);
  EXPECT_EQ(copy->ParamChecksum(), model_->ParamChecksum());
}

TEST_P(SerializeTest, EveryFlippedByteIsDetected) {
  // A sample of positions across the image, header and trailer included.
  for (size_t pos = 0; pos < image_.size(); pos += 1 + image_.size() / 97) {
    std::string bad = image_;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x40);
    const auto m = Model::Deserialize(bad, SmallModel(), opt_);
    EXPECT_FALSE(m.ok()) << "byte " << pos;
  }
}

TEST_P(SerializeTest, TruncationIsCorruption) {
  for (size_t len : {size_t{0}, size_t{7}, size_t{30}, image_.size() / 2, image_.size() - 1}) {
    const auto m = Model::Deserialize(std::string_view(image_).substr(0, len), SmallModel(), opt_);
    ASSERT_FALSE(m.ok()) << len;
    EXPECT_EQ(m.status().code(), Status::Code::kCorruption) << len;
  }
}

TEST_P(SerializeTest, OtherShapeIsRejectedByName) {
  ModelOptions other = SmallModel();
  other.expert_hidden = {16, 6};
  const auto m = Model::Deserialize(image_, other, opt_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(m.status().message().find("shape"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, SerializeTest,
                         ::testing::Values(OptimizerKind::kAdagrad, OptimizerKind::kAdam));

}  // namespace
}  // namespace ranker::learner
