// KafkaSource behaviour beyond the EventSource contract: configuration
// errors, backpressure, retention, broker outages, and an external client
// (kcat) producing. On the mock cluster, or on the real broker with
// RANKER_TEST_BROKER=real (tests/ingest/test_broker.h).
#include "ingest/kafka_source.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <string>

#include "ingest/kafka_mock_cluster.h"
#include "ingest/kafka_producer.h"
#include "tests/ingest/kafka_test_util.h"
#include "tests/ingest/test_broker.h"

namespace ranker::ingest {
namespace {

using namespace ranker::ingest::testing;  // NOLINT

constexpr milliseconds kJoin{15000};

// A broker with `topic` (3 partitions) created; `exclusive` as TestBroker's.
std::unique_ptr<TestBroker> NewCluster(const std::string& topic, bool exclusive = false,
                                       const std::map<std::string, std::string>& configs = {}) {
  auto broker = std::make_unique<TestBroker>(exclusive);
  broker->CreateTopic(topic, 3, configs);
  return broker;
}

std::unique_ptr<KafkaProducer> NewProducer(const std::string& bootstrap) {
  KafkaProducerOptions o;
  o.brokers = bootstrap;
  o.kafka = {{"linger.ms", "1"}, {"reconnect.backoff.max.ms", "300"}};
  o.log_to_stderr = KafkaLogs();
  auto producer = KafkaProducer::Create(o);
  EXPECT_TRUE(producer.ok()) << producer.status().ToString();
  return std::move(producer).value();
}

void ProduceKeyed(KafkaProducer* producer, const std::string& topic, int from, int to,
                  size_t payload_bytes = 0) {
  for (int i = from; i < to; ++i) {
    std::string payload = "event-" + std::to_string(i);
    payload.resize(std::max(payload.size(), payload_bytes), '.');
    ASSERT_TRUE(producer->Produce(topic, "req-" + std::to_string(i), payload).ok());
  }
}

std::unique_ptr<KafkaSource> StartSource(const KafkaSourceOptions& options,
                                         RecordingListener* listener) {
  auto source = KafkaSource::Create(options);
  EXPECT_TRUE(source.ok()) << source.status().ToString();
  EXPECT_TRUE((*source)->Start(listener).ok());
  return std::move(source).value();
}

TEST(KafkaSourceConfig, RejectsBadSettingsNamingThem) {
  KafkaSourceOptions o;
  o.kafka = {{"no.such.property", "1"}};
  auto s = KafkaSource::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.status().message().find("kafka.no.such.property"), std::string::npos);

  o.kafka = {{"session.timeout.ms", "soon"}};
  s = KafkaSource::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("kafka.session.timeout.ms"), std::string::npos)
      << s.status().ToString();

  o.kafka = {{"enable.auto.commit", "true"}};
  s = KafkaSource::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("kafka.enable.auto.commit"), std::string::npos);

  o.kafka = {};
  o.topics = {};
  EXPECT_NE(KafkaSource::Create(o).status().message().find("topics"), std::string::npos);
  o.topics = {"t"};
  o.queue_max_bytes = 0;
  EXPECT_NE(KafkaSource::Create(o).status().message().find("queue_max_bytes"), std::string::npos);
  o.queue_max_bytes = 1000;
  o.decode = DecoderOptions();
  o.decode->max_position = 0;
  s = KafkaSource::Create(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("decode: "), std::string::npos) << s.status().ToString();
}

TEST(KafkaSourceConfig, PassesSettingsThroughWithoutContactingBrokers) {
  KafkaSourceOptions o;
  o.brokers = "127.0.0.1:1";  // nothing listens there; Create must not care
  o.kafka = {{"security.protocol", "plaintext"},
             {"client.id", "custom"},
             {"partition.assignment.strategy", "cooperative-sticky"}};
  auto s = KafkaSource::Create(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
}

// With KafkaSourceOptions::decode the consumer thread decodes each message
// as it queues it: Pop() hands out the event (or the error that rejects the
// payload, which stays for a dead letter) beside the payload; without it,
// nothing is decoded.
TEST(KafkaSourceDecode, DecodesOnTheConsumerThreadWhenAsked) {
  auto cluster = NewCluster("dec");
  const std::string topic = cluster->Topic("dec");
  auto producer = NewProducer(cluster->bootstrap());
  const std::string good =
      R"({"type":"impression","request_id":"r1","user_id":"u1","item_id":"i1","position":2,)"
      R"("ts_ms":1000})";
  const std::string bad =
      R"({"type":"impression","request_id":"r2","user_id":"u1","item_id":"i2","position":-3,)"
      R"("ts_ms":1000})";
  ASSERT_TRUE(producer->Produce(topic, "r1", good).ok());
  ASSERT_TRUE(producer->Produce(topic, "r2", bad).ok());
  ASSERT_TRUE(producer->Flush(milliseconds(10000)).ok());

  KafkaSourceOptions decoding = MockSourceOptions(cluster->bootstrap(), topic, cluster->Group("d"));
  decoding.decode = DecoderOptions();
  KafkaSourceOptions plain = MockSourceOptions(cluster->bootstrap(), topic, cluster->Group("p"));
  RecordingListener l1, l2;
  auto decoding_source = StartSource(decoding, &l1);
  auto plain_source = StartSource(plain, &l2);
  std::vector<SourceMessage> got = Drain(decoding_source.get(), 2, milliseconds(20000));
  ASSERT_EQ(got.size(), 2u);
  std::map<std::string, const SourceMessage*> by_key;
  for (const SourceMessage& m : got) by_key[m.key] = &m;
  ASSERT_TRUE(by_key["r1"]->decoded.has_value());
  ASSERT_TRUE(by_key["r1"]->decoded->ok()) << by_key["r1"]->decoded->error().ToString();
  EXPECT_EQ(by_key["r1"]->decoded->event().example.item_id, "i1");
  EXPECT_EQ(by_key["r1"]->decoded->event().example.position, 2);
  EXPECT_EQ(by_key["r1"]->payload, good);
  ASSERT_TRUE(by_key["r2"]->decoded.has_value());
  ASSERT_FALSE(by_key["r2"]->decoded->ok());
  EXPECT_EQ(by_key["r2"]->decoded->error().reason, RejectReason::kBadPosition);
  EXPECT_EQ(by_key["r2"]->payload, bad);
  for (const SourceMessage& m : Drain(plain_source.get(), 2, milliseconds(20000))) {
    EXPECT_FALSE(m.decoded.has_value()) << m.key;
  }
}

// A tiny queue and a reader taking one message at a time: the source pauses
// and resumes fetching many times, and still delivers each message once.
// One source is bounded by messages, the other by bytes (separate groups,
// joining in parallel).
TEST(KafkaSourceBackpressure, SlowReaderGetsEveryMessageOnce) {
  constexpr int kN = 150;
  auto cluster = NewCluster("bp");
  const std::string topic = cluster->Topic("bp");
  auto producer = NewProducer(cluster->bootstrap());
  ProduceKeyed(producer.get(), topic, 0, kN, /*payload_bytes=*/100);
  ASSERT_TRUE(producer->Flush(milliseconds(10000)).ok());

  KafkaSourceOptions by_count =
      MockSourceOptions(cluster->bootstrap(), topic, cluster->Group("g-count"));
  by_count.queue_max_messages = 6;
  KafkaSourceOptions by_bytes =
      MockSourceOptions(cluster->bootstrap(), topic, cluster->Group("g-bytes"));
  by_bytes.queue_max_bytes = 1000;  // ~9 messages of 107 bytes
  // Small fetches: a real broker otherwise answers a resume with a
  // partition's whole remainder (~50 messages) in one fetch, which can leave
  // a single pause for the run.
  for (KafkaSourceOptions* o : {&by_count, &by_bytes})
    o->kafka["max.partition.fetch.bytes"] = "512";
  RecordingListener l1, l2;
  auto count_source = StartSource(by_count, &l1);
  auto bytes_source = StartSource(by_bytes, &l2);
  for (KafkaSource* source : {count_source.get(), bytes_source.get()}) {
    auto got = Drain(source, kN, milliseconds(20000), /*batch=*/1);
    SourceCounters c = source->Counters();
    ASSERT_EQ(got.size(), static_cast<size_t>(kN))
        << "pauses " << c.pauses << " resumes " << c.resumes << " dropped " << c.duplicates_dropped
        << " queued " << c.queued_messages;
    EXPECT_TRUE(source->Pop(10, milliseconds(100)).empty()) << "a message came twice";
    ExpectContiguous(got);
    c = source->Counters();
    EXPECT_GT(c.pauses, 2u);
    EXPECT_GT(c.resumes, 2u);
    EXPECT_EQ(c.consumed, static_cast<uint64_t>(kN));
    EXPECT_EQ(c.queued_messages, 0u);
    // Watermarks catch up: the log ends where we are, lag 0 everywhere.
    EXPECT_TRUE(WaitFor(
        [&] {
          SourceCounters now = source->Counters();
          int64_t end = 0;
          for (const auto& [tp, p] : now.partitions) {
            if (p.lag != 0) return false;
            end += p.high_watermark;
          }
          return now.partitions.size() == 3 && end == kN;
        },
        milliseconds(5000)));
  }
}

// A consumer that starts below the log start (retention deleted those
// events: the mock cluster keeps 5 MB per partition; the real broker's topic
// keeps 1 MB in 1 MB segments) is reset to the log start by
// auto.offset.reset=earliest; the source counts the reset and the offsets
// lost, and goes on consuming from there.
TEST(KafkaSourceRetention, APositionBelowTheLogStartIsResetAndCounted) {
  const bool real = RealBrokerSelected();
  // (segment.bytes must hold the producer's biggest batch, ~1 MB.)
  auto cluster = NewCluster("retention", false,
                            {{"retention.bytes", "1048576"}, {"segment.bytes", "1048576"}});
  const std::string topic = cluster->Topic("retention");
  auto producer = NewProducer(cluster->bootstrap());
  // Mock: 90 messages of 256 KB, ~7.5 MB in each partition. Real: 150 of
  // 64 KB, ~3.2 MB in each: retention deletes at least one segment.
  const int kN = real ? 150 : 90;
  ProduceKeyed(producer.get(), topic, 0, kN, /*payload_bytes=*/real ? 64 << 10 : 256 << 10);
  ASSERT_TRUE(producer->Flush(milliseconds(10000)).ok());
  ASSERT_EQ(producer->Counters().failed, 0u);
  if (real) {  // retention runs every second (scripts/kafka.sh)
    ASSERT_TRUE(WaitFor(
        [&] {
          for (int p = 0; p < 3; ++p) {
            auto b = cluster->admin()->Bounds({topic, p});
            if (!b.ok() || b->start == 0) return false;
          }
          return true;
        },
        milliseconds(30000)))
        << "retention deleted nothing";
  }
  KafkaSourceOptions o = MockSourceOptions(cluster->bootstrap(), topic, cluster->Group("g-ret"));
  RecordingListener listener;
  OffsetMap start;
  for (int p = 0; p < 3; ++p) start[{topic, p}] = 0;
  listener.SetStart(start);
  auto source = StartSource(o, &listener);
  ASSERT_TRUE(WaitFor([&] { return source->Counters().offset_resets > 0; }, kJoin))
      << "no reset counted";
  std::vector<SourceMessage> got;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (SourceMessage& m : source->Pop(100, milliseconds(50))) got.push_back(std::move(m));
        SourceCounters c = source->Counters();
        for (const auto& [tp, p] : c.partitions) {
          if (p.lag != 0) return false;
        }
        return c.partitions.size() == 3;
      },
      milliseconds(15000)))
      << got.size() << " messages";
  ASSERT_FALSE(got.empty());
  ASSERT_LT(got.size(), static_cast<size_t>(kN)) << "nothing was deleted: produce more";
  bool skipped = false;
  uint64_t gap = 0;
  for (const auto& [tp, offsets] : OffsetsByPartition(got)) {
    skipped |= offsets.front() > 0;
    gap += static_cast<uint64_t>(offsets.front());
  }
  EXPECT_TRUE(skipped) << "every partition started at offset 0";
  EXPECT_EQ(source->Counters().offsets_lost, gap);
  EXPECT_EQ(source->Counters().offsets_lost + got.size(), static_cast<size_t>(kN));
  EXPECT_TRUE(source->Close().ok());
}

// A seek the consumer thread cannot take in time (it is inside a rebalance
// callback) fails, and is withdrawn: the thread must not apply it later and
// move partitions behind the owner's back. Cooperative rebalancing, so that
// the member keeps the partitions it seeks while it gives one away.
TEST(KafkaSourceSeek, ASeekThatTimedOutIsNeverAppliedLater) {
  auto cluster = NewCluster("seek");
  const std::string topic = cluster->Topic("seek");
  auto producer = NewProducer(cluster->bootstrap());
  constexpr int kN = 90, kMore = 30;
  ProduceKeyed(producer.get(), topic, 0, kN);
  ASSERT_TRUE(producer->Flush(milliseconds(10000)).ok());
  KafkaSourceOptions o = MockSourceOptions(cluster->bootstrap(), topic, cluster->Group("g-seek"));
  o.seek_timeout_ms = 300;
  o.kafka["partition.assignment.strategy"] = "cooperative-sticky";
  RecordingListener la, lb;
  auto a = StartSource(o, &la);
  std::vector<SourceMessage> first = Drain(a.get(), kN, kJoin);
  ASSERT_EQ(first.size(), static_cast<size_t>(kN));
  OffsetMap next;  // both members resume where a stands
  for (const auto& [tp, offsets] : OffsetsByPartition(first)) next[tp] = offsets.back() + 1;
  la.SetStart(next);
  lb.SetStart(next);

  // a's consumer thread stays in OnRevoked until released.
  std::mutex mu;
  std::condition_variable cv;
  bool revoking = false, release = false;
  std::vector<TopicPartition> given_away;
  la.SetOnRevoke([&](const std::vector<TopicPartition>& tps) {
    if (tps.empty()) return;
    std::unique_lock<std::mutex> lock(mu);
    given_away = tps;
    revoking = true;
    cv.notify_all();
    cv.wait_for(lock, milliseconds(20000), [&] { return release; });
  });
  auto b = StartSource(o, &lb);  // joining makes a revoke
  Status seek;
  {
    std::unique_lock<std::mutex> lock(mu);
    const bool entered = cv.wait_for(lock, kJoin, [&] { return revoking; });
    lock.unlock();
    OffsetMap rewind;  // a's partitions it keeps, to their start
    for (const auto& [tp, offset] : next) rewind[tp] = 0;
    for (const TopicPartition& tp : given_away) rewind.erase(tp);
    seek = entered ? a->Seek(rewind) : Status::Internal("no revoke");
    EXPECT_FALSE(rewind.empty());
    lock.lock();
    release = true;
    cv.notify_all();
  }
  la.SetOnRevoke(nullptr);
  EXPECT_EQ(seek.code(), Status::Code::kUnavailable) << seek.ToString();
  ASSERT_TRUE(WaitFor([&] { return a->Assignment().size() + b->Assignment().size() == 3; }, kJoin));

  ProduceKeyed(producer.get(), topic, kN, kN + kMore);
  ASSERT_TRUE(producer->Flush(milliseconds(10000)).ok());
  std::vector<SourceMessage> from_a, from_b;
  WaitFor(
      [&] {
        for (SourceMessage& m : a->Pop(64, milliseconds(10))) from_a.push_back(std::move(m));
        for (SourceMessage& m : b->Pop(64, milliseconds(10))) from_b.push_back(std::move(m));
        return from_a.size() + from_b.size() >= static_cast<size_t>(kMore);
      },
      milliseconds(15000));
  for (const SourceMessage& m : from_a) {
    EXPECT_GE(m.offset, next[m.tp()]) << "the withdrawn seek moved " << m.tp().partition;
  }
  EXPECT_EQ(from_a.size() + from_b.size(), static_cast<size_t>(kMore));
  EXPECT_TRUE(b->Close().ok());
  EXPECT_TRUE(a->Close().ok());
}

// Every broker goes away for a while (the mock's are set down; the real one
// is SIGKILLed and restarted with its data); the source counts errors, never
// gives up, and after the brokers return every message arrives exactly once.
TEST(KafkaSourceOutage, ResumesAfterAllBrokersReturn) {
  auto cluster = NewCluster("outage", /*exclusive=*/true);
  const std::string topic = cluster->Topic("outage");
  auto producer = NewProducer(cluster->bootstrap());
  ProduceKeyed(producer.get(), topic, 0, 60);
  ASSERT_TRUE(producer->Flush(milliseconds(10000)).ok());
  KafkaSourceOptions o = MockSourceOptions(cluster->bootstrap(), topic, cluster->Group("g-out"));
  o.kafka["partition.assignment.strategy"] = "cooperative-sticky";  // incremental path
  RecordingListener listener;
  auto source = StartSource(o, &listener);
  auto got = Drain(source.get(), 60, kJoin);
  ASSERT_EQ(got.size(), 60u);
  OffsetMap next;
  for (const auto& [tp, offsets] : OffsetsByPartition(got)) next[tp] = offsets.back() + 1;
  ASSERT_TRUE(source->CommitOffsets(next).ok());

  const uint64_t errors_before = source->Counters().errors;
  cluster->Down();
  ProduceKeyed(producer.get(), topic, 60, 120);  // queued in the producer
  EXPECT_TRUE(
      WaitFor([&] { return source->Counters().errors > errors_before; }, milliseconds(5000)))
      << "the outage went unnoticed";
  EXPECT_TRUE(source->Pop(10, milliseconds(1500)).empty());  // the outage lasts
  cluster->Up();
  ASSERT_TRUE(producer->Flush(milliseconds(30000)).ok());
  auto more = Drain(source.get(), 60, milliseconds(30000));
  ASSERT_EQ(more.size(), 60u);
  EXPECT_TRUE(source->Pop(10, milliseconds(100)).empty());
  ExpectContiguous(more, next);
  EXPECT_FALSE(source->Counters().last_error.empty());
  EXPECT_TRUE(source->Close().ok());
}

// The mock cluster speaks the Kafka protocol over TCP: an external client
// (kcat) produces, KafkaSource consumes.
TEST(KafkaSourceInterop, ConsumesWhatKcatProduced) {
  const char* kcat = "/usr/bin/kcat";
  if (access(kcat, X_OK) != 0) GTEST_SKIP() << "kcat is not installed";
  auto cluster = NewCluster("from.kcat");
  const std::string topic = cluster->Topic("from.kcat");
  char path[] = "/tmp/ranker_kcat_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream out(path);
    for (int i = 0; i < 100; ++i) out << "req-" << i << ":event-" << i << "\n";
  }
  const std::string cmd = std::string(kcat) + " -P -b " + cluster->bootstrap() + " -t " + topic +
                          " -K: < " + path + " 2>/dev/null";
  const int rc = std::system(cmd.c_str());
  std::remove(path);
  ASSERT_EQ(rc, 0) << cmd;

  RecordingListener listener;
  auto source = StartSource(
      MockSourceOptions(cluster->bootstrap(), topic, cluster->Group("g-kcat")), &listener);
  auto got = Drain(source.get(), 100, kJoin);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_TRUE(source->Pop(10, milliseconds(100)).empty());
  ExpectContiguous(got);
  std::set<std::string> keys;
  for (const auto& m : got) {
    EXPECT_EQ(m.payload, "event-" + m.key.substr(4));
    keys.insert(m.key);
  }
  EXPECT_EQ(keys.size(), 100u);
}

}  // namespace
}  // namespace ranker::ingest
