// What only a real Apache Kafka broker can show (RANKER_TEST_BROKER=real;
// skipped on the mock): a log bigger than the mock keeps, SASL/PLAIN through
// the kafka.* pass-through, and static membership (a restart gets its
// partitions back in seconds; a second process with the same id fences the
// first, which says so).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/integration/kafka_service_util.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT
using std::chrono::steady_clock;

#define REQUIRE_REAL_BROKER()                                                          \
  if (!ingest::testing::RealBrokerSelected()) {                                        \
    GTEST_SKIP() << "real broker only (RANKER_TEST_BROKER=real, ctest -L kafka_real)"; \
  }

// ~6.5 MB in one partition: librdkafka's mock keeps ~5 MB and would have
// deleted the first events before a late consumer read them.
TEST(RealKafka, LearnsALogOverFiveMegabytesFully) {
  REQUIRE_REAL_BROKER();
  auto cluster = NewCluster(1);
  const std::vector<Keyed> events = SimulatedEvents(10000, 31);
  size_t bytes = 0;
  for (const Keyed& e : events) bytes += e.key.size() + e.payload.size();
  ASSERT_GT(bytes, size_t{5} << 20);
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  const Config config = KafkaConfig(*cluster);
  auto service = StartService(config);
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == 10000; }, std::chrono::seconds(120)))
      << Consumed(*service);
  service->Stop();
  EXPECT_EQ(service->source_counters().offset_resets, 0u);
  EXPECT_EQ(service->source_counters().offsets_lost, 0u);
  EXPECT_EQ(service->Latest()->join.impressions,
            Replay(config, events)->joiner().stats().impressions);
}

// The learner reaches a SASL_PLAINTEXT listener with kafka.security.protocol
// and kafka.sasl.* (librdkafka's own keys); a wrong password learns nothing.
TEST(RealKafka, SaslPlainWorksThroughTheKafkaPassThrough) {
  REQUIRE_REAL_BROKER();
  auto cluster = NewCluster(1);
  const std::vector<Keyed> events = SimulatedEvents(500, 32);
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  const std::string sasl = cluster->sasl_bootstrap();
  ASSERT_FALSE(sasl.empty());
  auto sasl_config = [&](const std::string& password, const std::string& group) {
    return KafkaConfig(*cluster,
                       {"ingest.brokers=" + sasl, "ingest.group_id=" + group,
                        "kafka.security.protocol=SASL_PLAINTEXT", "kafka.sasl.mechanisms=PLAIN",
                        "kafka.sasl.username=ranker", "kafka.sasl.password=" + password});
  };
  auto wrong = StartService(sasl_config("wrong", cluster->Group("sasl-wrong")));
  auto right = StartService(sasl_config("ranker-secret", cluster->Group("sasl")));
  ASSERT_TRUE(wrong && right);
  ASSERT_TRUE(WaitFor([&] { return Consumed(*right) == 500; })) << Consumed(*right);
  // The failed authentication is counted, in its own time (the right
  // learner can finish first).
  EXPECT_TRUE(WaitFor([&] { return wrong->source_counters().errors > 0; }))
      << wrong->source_counters().errors;
  EXPECT_EQ(Consumed(*wrong), 0);
  right->Stop();
  wrong->Stop();
}

// Static membership: a learner stopped without leaving the group (a static
// member's close sends no LeaveGroup, as after SIGKILL) and started again
// with the same ingest.group_instance_id consumes again within 10 s, though
// the session timeout is 45 s; a second live process with the same id
// fences the first, which stops consuming and says so.
TEST(RealKafka, StaticMembersRestartInSecondsAndTheSecondFencesTheFirst) {
  REQUIRE_REAL_BROKER();
  auto cluster = NewCluster(3);
  const std::vector<Keyed> events = SimulatedEvents(3000, 33);
  auto producer = NewProducer(cluster->bootstrap());
  const Config config =
      KafkaConfig(*cluster, {"ingest.group_instance_id=learner-1", "kafka.session.timeout.ms=45000",
                             "kafka.heartbeat.interval.ms=3000"});
  auto first = StartService(config);
  ASSERT_NE(first, nullptr);
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, 1000);
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  ASSERT_TRUE(WaitFor([&] { return Consumed(*first) == 1000; }));
  first->Stop();

  const auto restart = steady_clock::now();
  auto second = StartService(config);
  ASSERT_NE(second, nullptr);
  Produce(producer.get(), cluster->Topic(kTopic), events, 1000, 2000);
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  ASSERT_TRUE(WaitFor([&] { return Consumed(*second) > 0; }));
  const double seconds = std::chrono::duration<double>(steady_clock::now() - restart).count();
  std::printf("static member: consuming again %.2f s after the restart\n", seconds);
  EXPECT_LT(seconds, 10.0);
  // It resumes at the first one's commits: 1000 more, nothing again.
  ASSERT_TRUE(WaitFor([&] { return Consumed(*second) == 1000; })) << Consumed(*second);

  auto third = StartService(config);  // same id, while `second` lives
  ASSERT_NE(third, nullptr);
  ASSERT_TRUE(WaitFor([&] { return second->source_counters().fenced; }))
      << second->source_counters().last_error;
  EXPECT_NE(second->source_counters().fatal_error.find("fenced"), std::string::npos);
  const Status ready = second->Ready();
  EXPECT_FALSE(ready.ok());
  EXPECT_NE(ready.ToString().find("fenced"), std::string::npos) << ready.ToString();
  EXPECT_NE(second->RenderMetrics().find("ranker_consumer_fenced 1"), std::string::npos);
  Produce(producer.get(), cluster->Topic(kTopic), events, 2000, 3000);
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  ASSERT_TRUE(WaitFor([&] { return Consumed(*third) >= 1000; })) << Consumed(*third);
  EXPECT_FALSE(third->source_counters().fenced);
  third->Stop();
  second->Stop();
}

}  // namespace
}  // namespace ranker::app
