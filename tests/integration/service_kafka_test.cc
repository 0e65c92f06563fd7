// The service on a broker (librdkafka's mock cluster, or the real one with
// RANKER_TEST_BROKER=real), in process: learning everything from a
// 3-partition topic, dead letters, a broker outage (the real broker is
// SIGKILLed mid-stream and restarted with its data), and a second group
// member joining and leaving.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "ingest/kafka_dead_letter.h"
#include "ingest/kafka_source.h"
#include "tests/integration/kafka_service_util.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT

// What must not depend on how partitions interleave: every event is consumed
// once, and every impression becomes exactly one example. The joiner's
// per-key outcomes depend only on the order of a key's own events (one
// partition, so the same as produced) as long as the cross-partition skew in
// event time stays far below join.window_ms (60 s here; one consumer keeps
// it to a fetch or so): so the join counts must match too.
void ExpectSameLearning(const Service& s, const LearningPipeline& replay) {
  const PublishedModel& m = *s.Latest();
  EXPECT_EQ(m.events_consumed, replay.events_consumed());
  EXPECT_EQ(m.examples_trained, replay.trainer().stats().examples_trained);
  const learner::JoinerStats& r = replay.joiner().stats();
  EXPECT_EQ(m.join.impressions, r.impressions);
  EXPECT_EQ(m.join.clicks, r.clicks);
  EXPECT_EQ(m.join.watches, r.watches);
  EXPECT_EQ(m.join.joined_clicks, r.joined_clicks);
  EXPECT_EQ(m.join.joined_watches, r.joined_watches);
  EXPECT_EQ(m.join.examples_emitted, r.examples_emitted);
}

TEST(ServiceKafka, LearnsEveryEventOfAThreePartitionTopic) {
  auto cluster = NewCluster(3);
  const std::vector<Keyed> events = SimulatedEvents(6000, 11);
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  const Config config = KafkaConfig(*cluster);
  auto service = StartService(config);
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == 6000; })) << Consumed(*service);
  // Offsets reflected: 6000 in total over the three partitions.
  int64_t offsets = 0;
  for (const auto& [tp, next] : service->Latest()->offsets) offsets += next;
  EXPECT_EQ(offsets, 6000);
  EXPECT_EQ(service->Latest()->offsets.size(), 3u);
  service->Stop();
  ExpectSameLearning(*service, *Replay(config, events));
  EXPECT_GT(service->committer()->commits(), 0u);
}

// A backlog several times the consumer queue's bound: fetching pauses and
// resumes (backpressure) and still every event is learned exactly once.
// The learner must be the slower side for the queue to fill. The consumer
// thread decodes each event as it queues it; the learner, in window mode,
// only files an impression until its window closes, which for this whole
// backlog (under a minute of event time at the simulator's 20 requests/s)
// is at the end. So here the window is 1 ms (an impression trains as the
// next event moves event time on) and each example is its own step: the
// learner does far more per event than the decoding.
void ExpectBacklogLearned(int64_t n, int64_t queue_max) {
  auto cluster = NewCluster(3);
  const std::vector<Keyed> events = SimulatedEvents(n, 15);
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  auto service =
      StartService(KafkaConfig(*cluster, {"ingest.queue_max_messages=" + std::to_string(queue_max),
                                          "join.window_ms=1", "train.batch_size=1"}));
  ASSERT_NE(service, nullptr);
  const bool all = WaitFor([&] {
    const ingest::SourceCounters c = service->source_counters();
    int64_t popped = 0;
    for (const auto& [tp, st] : c.partitions) popped += st.next_offset;
    return popped == n && c.queued_messages == 0 && Consumed(*service) >= popped;
  });
  EXPECT_TRUE(all);
  EXPECT_GT(service->source_counters().pauses, 0u);
  EXPECT_EQ(Consumed(*service), n);
}

TEST(ServiceKafka, LearnsABacklogBeyondTheQueueBoundUnderBackpressure) {
  ExpectBacklogLearned(10000, 2000);
}

// (Bigger backlogs need more partitions: librdkafka 2.0.2's mock keeps only
// about 5 MB per partition and deletes older messages, so a consumer that
// starts late resets past them.)

TEST(ServiceKafka, PoisonMessagesGoToTheDeadLetterTopicAndTheCounters) {
  const std::string dlq = "ranker.dead";
  auto cluster = NewCluster(3, {dlq});
  const std::string dlq_topic = cluster->Topic(dlq);
  std::vector<Keyed> events = SimulatedEvents(500, 12);
  const std::vector<std::pair<std::string, std::string>> poison = {
      {"not json", "invalid_json"},
      {R"({"type":"click","item_id":"x"})", "missing_field"},
      {R"({"type":"impression","request_id":"r","item_id":"i","position":-3})", "bad_position"},
      {R"({"type":"watch","request_id":"r","item_id":"i","watch_seconds":-1})", "negative_watch"}};
  for (size_t i = 0; i < poison.size(); ++i) {
    events.insert(events.begin() + 100 * (i + 1), Keyed{"p" + std::to_string(i), poison[i].first});
  }
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, events.size());
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  auto service = StartService(KafkaConfig(*cluster, {"ingest.dead_letter_topic=" + dlq_topic}));
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == static_cast<int64_t>(events.size()); }));
  const std::string metrics = service->RenderMetrics();
  for (const auto& [payload, reason] : poison) {
    EXPECT_NE(metrics.find("ranker_events_rejected_total{reason=\"" + reason + "\"} 1"),
              std::string::npos)
        << reason;
  }
  service->Stop();  // flushes the dead letters

  ingest::KafkaSourceOptions o;
  o.brokers = cluster->bootstrap();
  o.topics = {dlq_topic};
  o.group_id = cluster->Group("dlq-reader");
  o.kafka = {{"session.timeout.ms", "6000"}, {"fetch.wait.max.ms", "10"}};
  o.log_to_stderr = false;
  auto reader = ingest::KafkaSource::Create(o);
  ASSERT_TRUE(reader.ok());
  struct NoOp : ingest::RebalanceListener {
    ingest::OffsetMap OnAssigned(const std::vector<ingest::TopicPartition>&) override { return {}; }
    void OnRevoked(const std::vector<ingest::TopicPartition>&) override {}
  } listener;
  ASSERT_TRUE((*reader)->Start(&listener).ok());
  std::map<std::string, std::string> reason_of;  // payload -> reason header
  ASSERT_TRUE(WaitFor([&] {
    for (const ingest::SourceMessage& m : (*reader)->Pop(16, std::chrono::milliseconds(20))) {
      for (const auto& [k, v] : m.headers) {
        if (k == ingest::kRejectReasonHeader) reason_of[m.payload] = v;
      }
    }
    return reason_of.size() >= poison.size();
  }));
  for (const auto& [payload, reason] : poison) EXPECT_EQ(reason_of[payload], reason);
  EXPECT_EQ(reason_of.size(), poison.size());
  ASSERT_TRUE((*reader)->Close().ok());
}

// On the real broker Down() is a SIGKILL mid-stream (no controlled
// shutdown: the log is recovered on restart) and Up() restarts it on the
// same directory and port; on the mock every broker goes down and up.
TEST(ServiceKafka, ServesThroughABrokerOutageAndLearnsEveryEventOnce) {
  auto cluster = NewCluster(3, {}, /*exclusive=*/true);
  const std::vector<Keyed> events = SimulatedEvents(6000, 13);
  auto producer = NewProducer(cluster->bootstrap());
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, 2000);
  const Config config = KafkaConfig(*cluster);
  auto service = StartService(config);
  ASSERT_NE(service, nullptr);
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == 2000; }));

  // Mid-stream: 2000 more events acknowledged by the broker (in its log)
  // and the broker killed at once, while the service is still reading them.
  Produce(producer.get(), cluster->Topic(kTopic), events, 2000, 4000);
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  cluster->Down();
  const int64_t consumed_at_kill = Consumed(*service);
  Produce(producer.get(), cluster->Topic(kTopic), events, 4000, 6000);  // buffered by the producer
  api::Request rank;
  rank.method = api::Method::kPost;
  rank.SetTarget("/v1/rank");
  rank.content_type = "application/json";
  rank.body = R"({"user_id":"u1","candidates":[{"item_id":"i1"},{"item_id":"i2"}]})";
  rank.content_length = rank.body.size();
  const auto outage_end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  int answered = 0;
  while (std::chrono::steady_clock::now() < outage_end) {  // ranking during the outage
    ASSERT_EQ(service->Handle(rank).status, 200);
    ++answered;
  }
  EXPECT_LE(Consumed(*service), 4000);  // nothing produced during the outage arrived
  cluster->Up();
  ASSERT_TRUE(producer->Flush(kLongWait).ok());
  ASSERT_TRUE(WaitFor([&] { return Consumed(*service) == 6000; })) << Consumed(*service);
  // The log holds every event once: what was acknowledged before the kill
  // survived it, and nothing was written twice.
  ASSERT_TRUE(WaitFor([&] {
    int64_t high = 0;
    for (const auto& [tp, st] : service->source_counters().partitions) high += st.high_watermark;
    return high == 6000;
  }));
  service->Stop();
  std::printf("consumed at the kill: %lld of 4000 acknowledged\n",
              static_cast<long long>(consumed_at_kill));
  EXPECT_GT(answered, 0);
  ExpectSameLearning(*service, *Replay(config, events));
}

TEST(ServiceKafka, ASecondMemberJoinsAndLeavesWithoutLossOrDuplicates) {
  auto cluster = NewCluster(3);
  const std::vector<Keyed> events = SimulatedEvents(6000, 14);
  auto producer = NewProducer(cluster->bootstrap());
  const Config config = KafkaConfig(*cluster);
  auto a = StartService(config);
  ASSERT_NE(a, nullptr);
  Produce(producer.get(), cluster->Topic(kTopic), events, 0, 2000);
  ASSERT_TRUE(WaitFor([&] { return Consumed(*a) == 2000; }));

  auto b = StartService(config);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(WaitFor([&] { return !b->source_counters().partitions.empty(); }));
  Produce(producer.get(), cluster->Topic(kTopic), events, 2000, 4000);
  ASSERT_TRUE(WaitFor([&] { return Consumed(*a) + Consumed(*b) == 4000; }))
      << Consumed(*a) << " + " << Consumed(*b);
  EXPECT_GT(Consumed(*b), 0);
  b->Stop();  // leaves the group: its partitions go back to a at b's commits
  Produce(producer.get(), cluster->Topic(kTopic), events, 4000, 6000);
  ASSERT_TRUE(WaitFor([&] { return Consumed(*a) + Consumed(*b) == 6000; }))
      << Consumed(*a) << " + " << Consumed(*b);
  a->Stop();
  EXPECT_EQ(Consumed(*a) + Consumed(*b), 6000);
  // Every impression becomes one example in one of the two members, even
  // though clicks of an impression pending in b when its partition moved
  // are orphans in a (the limitation of a per-member joiner).
  const std::unique_ptr<LearningPipeline> replayed = Replay(config, events);
  const LearningPipeline& replay = *replayed;
  EXPECT_EQ(a->Latest()->join.impressions + b->Latest()->join.impressions,
            replay.joiner().stats().impressions);
  EXPECT_EQ(a->Latest()->examples_trained + b->Latest()->examples_trained,
            replay.trainer().stats().examples_trained);
}

}  // namespace
}  // namespace ranker::app
