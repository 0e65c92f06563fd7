// A small asynchronous Kafka producer: used by `ranker simulate --brokers`,
// by POST /v1/events, and (through DeadLetterSink) for rejected events.
// Produce() queues a copy of the message and returns; delivery reports are
// counted by a background thread. Flush() waits for everything queued.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"

namespace RdKafka {
class Producer;
}  // namespace RdKafka

namespace ranker::ingest {

using KafkaHeaders = std::vector<std::pair<std::string, std::string>>;

struct KafkaProducerOptions {
  // bootstrap.servers (kafka["bootstrap.servers"] overrides it).
  std::string brokers = "localhost:9092";
  // librdkafka properties passed through verbatim (`kafka.*` without the
  // prefix), applied after the defaults (acks=all, linger.ms=5).
  std::map<std::string, std::string> kafka;
  // How long Produce() waits for room when librdkafka's local queue is full
  // (queue.buffering.max.messages) before it gives up.
  int queue_full_timeout_ms = 1000;
  bool log_to_stderr = true;

  Status Validate() const;
};

struct ProducerCounters {
  uint64_t produced = 0;   // accepted by Produce()
  uint64_t delivered = 0;  // acknowledged by the broker
  uint64_t failed = 0;     // delivery failed (after librdkafka's retries)
  std::string last_error;  // of the last failed delivery; "" if none
};

class KafkaProducer {
 public:
  // Partition argument meaning "let the partitioner pick by key".
  static constexpr int32_t kAnyPartition = -1;

  // InvalidArgument naming the option or the `kafka.<key>` librdkafka
  // rejected. Does not contact the brokers.
  static StatusOr<std::unique_ptr<KafkaProducer>> Create(const KafkaProducerOptions& options);
  ~KafkaProducer();  // flushes for up to 5 s, then drops what is left
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;

  // Queues one message (copied). Messages with the same key go to the same
  // partition (librdkafka's default murmur2-random partitioner, like Java's).
  // ResourceExhausted if the local queue stayed full for
  // queue_full_timeout_ms; InvalidArgument for an oversize message.
  Status Produce(std::string_view topic, std::string_view key, std::string_view payload,
                 const KafkaHeaders& headers = {}, int32_t partition = kAnyPartition);

  // Waits until every queued message is delivered or failed. Unavailable if
  // some are still in flight after `timeout`.
  Status Flush(std::chrono::milliseconds timeout);

  ProducerCounters Counters() const;

 private:
  class DeliveryCb;
  KafkaProducer(const KafkaProducerOptions& options, std::unique_ptr<DeliveryCb> callbacks);
  void PollLoop();

  const KafkaProducerOptions options_;
  std::unique_ptr<DeliveryCb> callbacks_;  // outlives producer_
  std::unique_ptr<RdKafka::Producer> producer_;
  std::atomic<uint64_t> produced_{0};
  std::atomic<bool> stop_{false};
  std::thread poller_;  // serves delivery reports
};

}  // namespace ranker::ingest
