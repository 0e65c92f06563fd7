// Topic administration on a Kafka cluster through librdkafka's Admin API:
// creating topics with per-topic configs and reading a partition's log
// bounds. For tools and tests that need a real broker prepared (the mock
// cluster creates topics through KafkaMockCluster instead).
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "base/status.h"
#include "ingest/event_source.h"
#include "ingest/kafka_config.h"

typedef struct rd_kafka_s rd_kafka_t;

namespace ranker::ingest {

struct KafkaAdminOptions {
  // bootstrap.servers (kafka["bootstrap.servers"] overrides it).
  std::string brokers = "localhost:9092";
  // librdkafka properties passed through verbatim (security.protocol, sasl.*).
  KafkaProperties kafka;
  // Longest one admin request waits for the cluster's answer.
  int timeout_ms = 30000;

  Status Validate() const;
};

// The first and one-past-the-last offsets of a partition's log.
struct LogBounds {
  int64_t start = -1;  // the log start offset (retention moves it up)
  int64_t end = -1;    // the high watermark
};

class KafkaAdmin {
 public:
  // InvalidArgument naming a rejected `kafka.<key>`. Does not contact brokers.
  static StatusOr<std::unique_ptr<KafkaAdmin>> Create(const KafkaAdminOptions& options);
  ~KafkaAdmin();
  KafkaAdmin(const KafkaAdmin&) = delete;
  KafkaAdmin& operator=(const KafkaAdmin&) = delete;

  // Creates `name` with `partitions` partitions, replication factor 1 and
  // the given topic configs (e.g. {"cleanup.policy", "compact"}). Returns
  // once the controller accepted it; a topic that exists already is an
  // error (its message names TOPIC_ALREADY_EXISTS).
  Status CreateTopic(const std::string& name, int partitions,
                     const std::map<std::string, std::string>& configs = {});

  // The partition's log bounds as the leader reports them now.
  StatusOr<LogBounds> Bounds(const TopicPartition& tp);

 private:
  KafkaAdmin(rd_kafka_t* rk, int timeout_ms) : rk_(rk), timeout_ms_(timeout_ms) {}

  rd_kafka_t* rk_;  // owned
  const int timeout_ms_;
};

}  // namespace ranker::ingest
