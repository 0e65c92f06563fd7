#include "learner/feedback_delay.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "learner/trainer.h"
#include "tests/learner/model_test_util.h"

namespace ranker::learner {
namespace {

TEST(FeedbackDelayTest, QuantilesOfTheRecentDelays) {
  FeedbackDelay d;
  EXPECT_EQ(d.Summarize().count, 0);
  for (int i = 1; i <= 100; ++i) d.Add(i * 10);
  const FeedbackDelay::Summary s = d.Summarize();
  EXPECT_EQ(s.count, 100);
  EXPECT_EQ(s.p50_ms, 500);
  EXPECT_EQ(s.p99_ms, 990);
  for (size_t i = 0; i < FeedbackDelay::kCapacity; ++i) d.Add(7);  // the old ones roll out
  EXPECT_EQ(d.Summarize().p99_ms, 7);
  EXPECT_EQ(d.Summarize().count, 100 + static_cast<int64_t>(FeedbackDelay::kCapacity));
}

TEST(FeedbackDelayTest, RoundTripAndCorruption) {
  FeedbackDelay d;
  for (int i = 0; i < 5000; ++i) d.Add(i % 977);
  std::string bytes;
  d.Serialize(&bytes);
  FeedbackDelay e;
  ASSERT_TRUE(e.Deserialize(bytes).ok());
  EXPECT_EQ(e.Summarize().p50_ms, d.Summarize().p50_ms);
  EXPECT_EQ(e.Summarize().count, 5000);
  EXPECT_FALSE(e.Deserialize(bytes.substr(0, 20)).ok());
  EXPECT_EQ(e.Summarize().count, 5000);  // unchanged
}

TEST(FeedbackDelayTest, TheTrainerMeasuresAtTheStepThatTrains) {
  TrainerOptions t;
  t.batch_size = 2;
  auto trainer = Trainer::Create(testing::SmallModel(), OptimizerOptions(), t);
  ASSERT_TRUE(trainer.ok());
  std::vector<Example> ex = testing::MakeExamples(2, 3);
  ex[0].feedback_ts_ms = {1000, 1500};
  (*trainer)->set_event_time_ms(1200);
  (*trainer)->Add(ex[0]);  // buffered: no step yet
  EXPECT_EQ((*trainer)->feedback_delay().Summarize().count, 0);
  (*trainer)->set_event_time_ms(2000);
  (*trainer)->Add(ex[1]);  // the step happens at 2000: batching counts
  const FeedbackDelay::Summary s = (*trainer)->feedback_delay().Summarize();
  EXPECT_EQ(s.count, 2);
  EXPECT_EQ(s.p50_ms, 500);
  EXPECT_EQ(s.p99_ms, 1000);
}

}  // namespace
}  // namespace ranker::learner
