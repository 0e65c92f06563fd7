#include "ingest/kafka_mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <mutex>
#include <set>

#include "ingest/kafka_errors.h"

namespace ranker::ingest {

struct KafkaMockCluster::Topics {
  std::mutex mu;
  std::set<std::string> names;
};

Status KafkaMockClusterOptions::Validate() const {
  if (num_brokers < 1 || num_brokers > 64) {
    return Status::InvalidArgument("num_brokers must be in [1, 64]");
  }
  return Status::OK();
}

StatusOr<std::unique_ptr<KafkaMockCluster>> KafkaMockCluster::Create(
    const KafkaMockClusterOptions& options) {
  RANKER_RETURN_IF_ERROR(options.Validate());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  // The handle only hosts the mock; keep it quiet and local.
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Status::Internal(std::string("mock cluster conf: ") + errstr);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {  // conf is still ours on failure
    rd_kafka_conf_destroy(conf);
    return Status::Internal(std::string("mock cluster handle: ") + errstr);
  }
  rd_kafka_mock_cluster_t* mock = rd_kafka_mock_cluster_new(rk, options.num_brokers);
  if (mock == nullptr) {
    rd_kafka_destroy(rk);
    return Status::IOError("mock cluster: could not create brokers (see log)");
  }
  std::unique_ptr<KafkaMockCluster> cluster(new KafkaMockCluster(rk, mock, options.num_brokers));
  return cluster;
}

KafkaMockCluster::KafkaMockCluster(rd_kafka_t* rk, rd_kafka_mock_cluster_t* mock, int num_brokers)
    : rk_(rk),
      mock_(mock),
      num_brokers_(num_brokers),
      bootstrap_(rd_kafka_mock_cluster_bootstraps(mock)),
      topics_(std::make_unique<Topics>()) {}

KafkaMockCluster::~KafkaMockCluster() {
  rd_kafka_mock_cluster_destroy(mock_);
  rd_kafka_destroy(rk_);
}

Status KafkaMockCluster::CreateTopic(const std::string& name, int partitions, int replication) {
  if (name.empty()) return Status::InvalidArgument("topic name is empty");
  if (partitions < 1) {
    return Status::InvalidArgument("topic " + name + ": partitions must be >= 1");
  }
  if (replication < 1 || replication > num_brokers_) {
    return Status::InvalidArgument("topic " + name + ": replication must be in [1, num_brokers]");
  }
  std::lock_guard<std::mutex> lock(topics_->mu);
  if (!topics_->names.insert(name).second) {
    return Status::InvalidArgument("topic " + name + " already exists");
  }
  return KafkaStatus(rd_kafka_mock_topic_create(mock_, name.c_str(), partitions, replication),
                     "create topic " + name);
}

Status KafkaMockCluster::SetBrokerDown(int32_t broker_id) {
  return KafkaStatus(rd_kafka_mock_broker_set_down(mock_, broker_id),
                     "broker " + std::to_string(broker_id) + " down");
}

Status KafkaMockCluster::SetBrokerUp(int32_t broker_id) {
  return KafkaStatus(rd_kafka_mock_broker_set_up(mock_, broker_id),
                     "broker " + std::to_string(broker_id) + " up");
}

Status KafkaMockCluster::SetAllBrokersDown() {
  for (int32_t id = 1; id <= num_brokers_; ++id) {
    RANKER_RETURN_IF_ERROR(SetBrokerDown(id));
  }
  return Status::OK();
}

Status KafkaMockCluster::SetAllBrokersUp() {
  for (int32_t id = 1; id <= num_brokers_; ++id) {
    RANKER_RETURN_IF_ERROR(SetBrokerUp(id));
  }
  return Status::OK();
}

Status KafkaMockCluster::SetBrokerRttMs(int32_t broker_id, int rtt_ms) {
  return KafkaStatus(rd_kafka_mock_broker_set_rtt(mock_, broker_id, rtt_ms),
                     "broker " + std::to_string(broker_id) + " rtt");
}

}  // namespace ranker::ingest
