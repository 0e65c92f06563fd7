// Helpers of the Kafka integration tests: a broker with the events topic
// (librdkafka's mock cluster, or the real broker with RANKER_TEST_BROKER=real:
// tests/ingest/test_broker.h), a producer, simulated event streams, services
// configured for it (fast joins: session.timeout.ms 6000, fetch.wait.max.ms
// 10), and the reference replay of a stream through the LearningPipeline.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ingest/kafka_mock_cluster.h"
#include "ingest/kafka_producer.h"
#include "replication/service_replication.h"
#include "service/pipeline.h"
#include "service/service.h"
#include "settings/config.h"
#include "sim/event_json.h"
#include "sim/simulator.h"
#include "tests/ingest/test_broker.h"

namespace ranker::app::testing {

constexpr char kTopic[] = "ranker.events";
inline constexpr std::chrono::milliseconds kLongWait{30000};

struct Keyed {
  std::string key;
  std::string payload;
};

// The first `n` events of the simulated world of `seed`, keyed by request_id.
inline std::vector<Keyed> SimulatedEvents(int64_t n, uint64_t seed = 1) {
  sim::SimOptions o;
  o.seed = seed;
  sim::Simulator simulator(o);
  std::vector<Keyed> out;
  std::vector<sim::SimEvent> batch;
  while (static_cast<int64_t>(out.size()) < n) {
    batch.clear();
    simulator.NextRequest(&batch);
    for (const sim::SimEvent& e : batch) {
      if (static_cast<int64_t>(out.size()) == n) break;
      out.push_back({e.event.example.request_id, sim::EncodeEventJson(e)});
    }
  }
  return out;
}

using ingest::testing::TestBroker;

// A broker with the events topic (`partitions`) and `extra_topics` (one
// partition each), all named through TestBroker::Topic().
inline std::unique_ptr<TestBroker> NewCluster(int partitions,
                                              const std::vector<std::string>& extra_topics = {},
                                              bool exclusive = false) {
  auto cluster = std::make_unique<TestBroker>(exclusive);
  cluster->CreateTopic(kTopic, partitions);
  for (const std::string& t : extra_topics) cluster->CreateTopic(t, 1);
  return cluster;
}

inline std::unique_ptr<ingest::KafkaProducer> NewProducer(const std::string& bootstrap,
                                                          int linger_ms = 1) {
  ingest::KafkaProducerOptions o;
  o.brokers = bootstrap;
  o.kafka = {{"linger.ms", std::to_string(linger_ms)}, {"reconnect.backoff.max.ms", "300"}};
  o.log_to_stderr = false;
  auto p = ingest::KafkaProducer::Create(o);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

inline void Produce(ingest::KafkaProducer* p, const std::string& topic,
                    const std::vector<Keyed>& events, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    ASSERT_TRUE(p->Produce(topic, events[i].key, events[i].payload).ok());
  }
}

inline Config KafkaConfig(const std::string& bootstrap, const std::vector<std::string>& sets = {}) {
  ConfigSources sources;
  sources.use_environment = false;
  sources.sets = {"http.enabled=false", "ingest.brokers=" + bootstrap,
                  "ingest.log_kafka_errors=false", "service.publish_interval_ms=20",
                  "kafka.session.timeout.ms=6000", "kafka.heartbeat.interval.ms=300",
                  "kafka.fetch.wait.max.ms=10", "kafka.fetch.error.backoff.ms=10",
                  "kafka.reconnect.backoff.ms=50", "kafka.reconnect.backoff.max.ms=300",
                  "kafka.topic.metadata.refresh.interval.ms=1000",
                  // No idle watermarks unless a test asks: they would add
                  // events to the topic that the reference replays lack.
                  "join.idle_flush_ms=0"};
  sources.sets.insert(sources.sets.end(), sets.begin(), sets.end());
  StatusOr<Config> config = LoadConfig(sources);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  return config.ok() ? *config : Config{};
}

// KafkaConfig for `cluster`'s events topic, consumer group and model topic.
inline Config KafkaConfig(const TestBroker& cluster, const std::vector<std::string>& sets = {}) {
  std::vector<std::string> all = {"ingest.topic=" + cluster.Topic(kTopic),
                                  "ingest.group_id=" + cluster.Group("ranker"),
                                  "model_topic.name=" + cluster.Topic("ranker.model")};
  all.insert(all.end(), sets.begin(), sets.end());
  return KafkaConfig(cluster.bootstrap(), all);
}

inline std::unique_ptr<Service> StartService(const Config& config) {
  auto s = Service::Create(config, SystemClock(), ModelTopicReplication());
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return nullptr;
  EXPECT_TRUE((*s)->Start().ok());
  return std::move(s).value();
}

// Polls `pred` every 5 ms until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds timeout = kLongWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

inline int64_t Consumed(const Service& s) { return s.Latest()->events_consumed; }

// The served version's param_checksum ("" before the first publication).
inline std::string Checksum(const Service& s) {
  const auto latest = s.Latest();
  return latest == nullptr ? "" : latest->model->ParamChecksumHex();
}

// A request from a loopback peer (admin routes allowed without a token).
inline api::Request Request(api::Method method, const std::string& path, std::string body = "") {
  api::Request r;
  r.method = method;
  r.SetTarget(path);
  r.remote_is_loopback = true;
  r.content_type = "application/json";
  if (method == api::Method::kPost) r.content_length = body.size();
  r.body = std::move(body);
  return r;
}

// The JSON object of a response body (a failure, and {}, if it is not one).
inline boost::json::object Body(const api::Response& r) {
  boost::json::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  EXPECT_FALSE(ec) << r.body;
  return v.is_object() ? v.as_object() : boost::json::object{};
}

// A directory path of its own under the system temp dir (e.g. snapshot.dir),
// removed with its contents when destroyed.
class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("ranker-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

// The same events through the replay path, in production order.
inline std::unique_ptr<LearningPipeline> Replay(const Config& config,
                                                const std::vector<Keyed>& events) {
  auto p = LearningPipeline::Create(config.pipeline());
  EXPECT_TRUE(p.ok());
  for (const Keyed& e : events) (*p)->Ingest(e.payload);
  (*p)->Finish();
  return std::move(p).value();
}

}  // namespace ranker::app::testing
