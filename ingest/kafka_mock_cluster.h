// An in-process Kafka-protocol cluster: a RAII wrapper around librdkafka's
// mock cluster. Every broker listens on its own 127.0.0.1 TCP port, so any
// Kafka client (librdkafka, kcat, Java) can bootstrap from bootstrap(). Used
// by the Kafka tests, `ranker demo` and `ranker broker`.
//
// Limits of librdkafka 2.0.2's mock (what this wrapper can promise):
//  - ports are chosen by the kernel (bind to port 0); 2.0.2 has no API to
//    pick them, so a fixed `--port` needs a forwarder in front of broker 1
//    (clients then follow the advertised 127.0.0.1:<random> addresses);
//  - data lives in memory only and is lost on destruction;
//  - a group's first join takes ~3 s (hard-coded initial rebalance delay);
//    later rebalances wait up to session.timeout.ms - 1000 ms for members.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

typedef struct rd_kafka_s rd_kafka_t;
typedef struct rd_kafka_mock_cluster_s rd_kafka_mock_cluster_t;

namespace ranker::ingest {

struct KafkaMockClusterOptions {
  // Broker ids are 1..num_brokers. Topics a client asks for before
  // CreateTopic() are auto-created by the mock with its own default
  // partition count (4 in 2.0.2); create topics first.
  int num_brokers = 1;

  Status Validate() const;
};

class KafkaMockCluster {
 public:
  static StatusOr<std::unique_ptr<KafkaMockCluster>> Create(
      const KafkaMockClusterOptions& options = {});
  ~KafkaMockCluster();
  KafkaMockCluster(const KafkaMockCluster&) = delete;
  KafkaMockCluster& operator=(const KafkaMockCluster&) = delete;

  // "127.0.0.1:p1,127.0.0.1:p2,..." for bootstrap.servers.
  const std::string& bootstrap() const { return bootstrap_; }
  int num_brokers() const { return num_brokers_; }

  // InvalidArgument if `partitions` < 1, `replication` is not in
  // [1, num_brokers] or the name was created here before (librdkafka's mock
  // aborts on a duplicate, so call this before any client auto-creates it).
  Status CreateTopic(const std::string& name, int partitions, int replication = 1);

  // Simulated outages: a down broker closes its connections and refuses new
  // ones until it is up again. NotFound for an unknown id.
  Status SetBrokerDown(int32_t broker_id);
  Status SetBrokerUp(int32_t broker_id);
  Status SetAllBrokersDown();
  Status SetAllBrokersUp();

  // Adds `rtt_ms` of latency to every response of the broker.
  Status SetBrokerRttMs(int32_t broker_id, int rtt_ms);

  // For tests that need the rest of rdkafka_mock.h (error injection).
  // Borrowed; valid for the lifetime of this object.
  rd_kafka_mock_cluster_t* raw() const { return mock_; }

 private:
  KafkaMockCluster(rd_kafka_t* rk, rd_kafka_mock_cluster_t* mock, int num_brokers);

  rd_kafka_t* rk_;                 // owned; the mock's dedicated handle
  rd_kafka_mock_cluster_t* mock_;  // owned; destroyed before rk_
  const int num_brokers_;
  std::string bootstrap_;
  struct Topics;
  std::unique_ptr<Topics> topics_;
};

}  // namespace ranker::ingest
