// join.idle_flush_ms on the mock cluster and the real broker: a log that ends is fully learned,
// through watermark events the learner appends to the topic, and a second
// learner reading the same log from its start (watermarks included) ends
// with the same param_checksum.
#include <gtest/gtest.h>

#include "tests/integration/kafka_service_util.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT

bool Settled(const Service& s) {
  const auto latest = s.Latest();
  return latest != nullptr && latest->join.pending == 0 && latest->join.watermarks > 0;
}

TEST(IdleWatermark, AnEndedLogIsLearnedAndASecondLearnerReadsTheSameAdvance) {
  auto cluster = NewCluster(1);
  const std::vector<Keyed> events = SimulatedEvents(400, 21);
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  const std::vector<std::string> sets = {"join.window_ms=1000", "join.idle_flush_ms=200",
                                         "service.flush_joiner_on_stop=false"};
  const Config first_config = KafkaConfig(*cluster, sets);
  auto first = StartService(first_config);
  ASSERT_NE(first, nullptr);
  // Every impression is trained, though no event after the log's end moved
  // event time: the learner's own watermarks did.
  ASSERT_TRUE(WaitFor([&] { return Settled(*first); }));
  ASSERT_TRUE(WaitFor(
      [&] { return first->Latest()->join.examples_emitted == first->Latest()->join.impressions; }));
  EXPECT_GT(Consumed(*first), 400);  // the watermarks are in the log
  const auto done = first->Latest();
  EXPECT_EQ(done->examples_trained, done->join.impressions - done->join.duplicate_impressions);

  std::vector<std::string> second_sets = sets;
  second_sets.push_back("ingest.group_id=" + cluster->Group("second"));
  auto second = StartService(KafkaConfig(*cluster, second_sets));
  ASSERT_NE(second, nullptr);
  // Both read the whole log (a watermark still in flight when the first
  // settled reaches both, after everything else, and changes nothing).
  ASSERT_TRUE(WaitFor([&] {
    return Settled(*second) && Settled(*first) && Consumed(*second) == Consumed(*first);
  }));
  EXPECT_EQ(Checksum(*second), Checksum(*first));
  EXPECT_EQ(second->Latest()->examples_trained, first->Latest()->examples_trained);
  second->Stop();
  first->Stop();
}

}  // namespace
}  // namespace ranker::app
