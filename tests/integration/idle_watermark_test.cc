// join.idle_flush_ms on the mock cluster and the real broker: a log that ends is fully learned,
// through watermark events the learner appends to the topic, within
// join.idle_flush_ms + join.window_ms of wall time whatever the events'
// timestamps, and a second learner reading the same log from its start
// (watermarks included) ends with the same param_checksum.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>

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

// `events` with every ts_ms moved so that the first is `first_ts_ms` (gaps
// kept); kNow: the wall clock now; another value < 0 keeps the simulator's
// own times.
constexpr int64_t kNow = -2;

std::vector<Keyed> Restamped(std::vector<Keyed> events, int64_t first_ts_ms) {
  if (first_ts_ms == kNow) {
    first_ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  }
  if (first_ts_ms < 0) return events;
  int64_t shift = 0;
  bool first = true;
  for (Keyed& e : events) {
    boost::json::object o = boost::json::parse(e.payload).as_object();
    const int64_t ts = o.at("ts_ms").to_number<int64_t>();
    if (first) shift = first_ts_ms - ts, first = false;
    o["ts_ms"] = ts + shift;
    e.payload = boost::json::serialize(o);
  }
  return events;
}

int64_t Impressions(const std::vector<Keyed>& events) {
  int64_t n = 0;
  for (const Keyed& e : events) {
    n += boost::json::parse(e.payload).at("type").as_string() == "impression";
  }
  return n;
}

// The bound: after a log ends, its last impressions are trained
// within join.idle_flush_ms + join.window_ms of wall time. The clock starts
// when the producer has the whole log acknowledged (the log has ended) and
// stops when the served version has trained every impression. The stated
// tolerance, kConsumePublish, covers what the bound leaves out: fetching
// the last events, the watermark's round trip through the broker (the
// learner appends it to the topic and reads it back), the idle tick
// (idle_flush_ms / 10) and the publication (service.publish_interval_ms 20).
constexpr int64_t kIdleFlushMs = 500;
constexpr int64_t kWindowMs = 1000;
constexpr int64_t kConsumePublishMs = 1000;

class IdleWatermarkBound : public ::testing::TestWithParam<int64_t> {};

TEST_P(IdleWatermarkBound, TheLastImpressionsAreTrainedWithinIdleFlushPlusWindow) {
  auto cluster = NewCluster(1);
  const std::vector<Keyed> events = Restamped(SimulatedEvents(400, 23), GetParam());
  const int64_t impressions = Impressions(events);
  ASSERT_GT(impressions, 0);
  auto service =
      StartService(KafkaConfig(*cluster, {"join.window_ms=" + std::to_string(kWindowMs),
                                          "join.idle_flush_ms=" + std::to_string(kIdleFlushMs),
                                          "service.flush_joiner_on_stop=false"}));
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(WaitFor([&] { return service->source_counters().partitions.size() == 1; }));
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  const auto ended = std::chrono::steady_clock::now();
  auto trained = [&] {
    const auto m = service->Latest();
    return m->join.impressions == impressions &&
           m->examples_trained == impressions - m->join.duplicate_impressions;
  };
  ASSERT_TRUE(WaitFor(trained));
  const int64_t waited_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - ended)
                                .count();
  EXPECT_LE(waited_ms, kIdleFlushMs + kWindowMs + kConsumePublishMs)
      << "join.idle_flush_ms " << kIdleFlushMs << " + join.window_ms " << kWindowMs
      << " + tolerance " << kConsumePublishMs;
  std::printf("last impressions trained %lld ms after the log ended (bound %lld + %lld + %lld)\n",
              static_cast<long long>(waited_ms), static_cast<long long>(kIdleFlushMs),
              static_cast<long long>(kWindowMs), static_cast<long long>(kConsumePublishMs));
  EXPECT_GT(service->Latest()->join.watermarks, 0);  // they, not new events, moved event time
  service->Stop();
}

// The simulator's own times (November 2023: -1), times from 2001, and times
// around the wall clock now (kNow, read when the test runs: a fixed
// parameter keeps the test's name, which ctest records, the same).
INSTANTIATE_TEST_SUITE_P(IdleWatermark, IdleWatermarkBound,
                         ::testing::Values(int64_t{-1}, int64_t{1'000'000'000'000}, kNow));

}  // namespace
}  // namespace ranker::app
