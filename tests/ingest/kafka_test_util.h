// Helpers shared by the Kafka/EventSource tests: a recording listener, a
// drain loop with a deadline, and the standard test configuration of
// KafkaSource for librdkafka's mock cluster.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ingest/event_source.h"
#include "ingest/kafka_source.h"

namespace ranker::ingest::testing {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// librdkafka logs to stderr only when RANKER_TEST_KAFKA_LOG is set.
inline bool KafkaLogs() { return std::getenv("RANKER_TEST_KAFKA_LOG") != nullptr; }

// KafkaSource options for the mock cluster: fast joins and fetches.
inline KafkaSourceOptions MockSourceOptions(const std::string& bootstrap, const std::string& topic,
                                            const std::string& group) {
  KafkaSourceOptions o;
  o.brokers = bootstrap;
  o.topics = {topic};
  o.group_id = group;
  o.kafka = {
      // > the mock's 3 s first-join delay; later rebalances wait this - 1 s.
      {"session.timeout.ms", "3500"},
      {"heartbeat.interval.ms", "300"},
      {"fetch.wait.max.ms", "20"},
      {"fetch.error.backoff.ms", "10"},
      {"reconnect.backoff.ms", "50"},
      {"reconnect.backoff.max.ms", "300"},
      {"topic.metadata.refresh.interval.ms", "1000"},
  };
  o.poll_timeout_ms = 20;
  o.watermark_refresh_ms = 100;
  o.log_to_stderr = KafkaLogs();
  return o;
}

// Records callbacks; supplies `start` offsets on assign; optionally runs
// `on_revoke` (e.g. commit what was processed) while partitions are still
// assigned. Thread-safe.
class RecordingListener : public RebalanceListener {
 public:
  OffsetMap OnAssigned(const std::vector<TopicPartition>& partitions) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& tp : partitions) assigned_[tp] = true;
    ++assign_calls_;
    return start_;
  }
  void OnRevoked(const std::vector<TopicPartition>& partitions) override {
    std::function<void(const std::vector<TopicPartition>&)> hook;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hook = on_revoke_;
    }
    if (hook) hook(partitions);
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& tp : partitions) assigned_.erase(tp);
    ++revoke_calls_;
  }

  void SetStart(OffsetMap start) {
    std::lock_guard<std::mutex> lock(mu_);
    start_ = std::move(start);
  }
  void SetOnRevoke(std::function<void(const std::vector<TopicPartition>&)> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    on_revoke_ = std::move(hook);
  }
  size_t NumAssigned() const {
    std::lock_guard<std::mutex> lock(mu_);
    return assigned_.size();
  }
  int revoke_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return revoke_calls_;
  }
  int assign_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return assign_calls_;
  }

 private:
  mutable std::mutex mu_;
  OffsetMap start_;
  std::function<void(const std::vector<TopicPartition>&)> on_revoke_;
  std::map<TopicPartition, bool> assigned_;
  int assign_calls_ = 0;
  int revoke_calls_ = 0;
};

// Polls `pred` until it holds or `timeout` passes.
inline bool WaitFor(const std::function<bool()>& pred, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// Pops until `n` messages arrived or `timeout` passed; `batch` per Pop().
inline std::vector<SourceMessage> Drain(EventSource* source, size_t n, milliseconds timeout,
                                        size_t batch = 64) {
  std::vector<SourceMessage> out;
  const auto deadline = Clock::now() + timeout;
  while (out.size() < n && Clock::now() < deadline) {
    for (auto& m : source->Pop(batch, milliseconds(20))) out.push_back(std::move(m));
  }
  return out;
}

// Offsets seen per partition, in arrival order.
inline std::map<TopicPartition, std::vector<int64_t>> OffsetsByPartition(
    const std::vector<SourceMessage>& messages) {
  std::map<TopicPartition, std::vector<int64_t>> by;
  for (const auto& m : messages) by[m.tp()].push_back(m.offset);
  return by;
}

// Expects each partition's offsets to be exactly first, first+1, ... in
// order, and returns how many messages each partition had.
inline void ExpectContiguous(const std::vector<SourceMessage>& messages,
                             const std::map<TopicPartition, int64_t>& first = {}) {
  for (const auto& [tp, offsets] : OffsetsByPartition(messages)) {
    auto it = first.find(tp);
    int64_t expect = it == first.end() ? 0 : it->second;
    for (int64_t o : offsets) {
      ASSERT_EQ(o, expect) << tp.topic << "[" << tp.partition << "]";
      ++expect;
    }
  }
}

}  // namespace ranker::ingest::testing
