#include "ingest/kafka_admin.h"

#include <librdkafka/rdkafka.h>

#include <vector>

#include "ingest/kafka_errors.h"

namespace ranker::ingest {
namespace {

// Owns one rd_kafka_* object for the length of a request.
template <typename T, void (*Destroy)(T*)>
struct Owned {
  T* p;
  explicit Owned(T* ptr) : p(ptr) {}
  ~Owned() {
    if (p != nullptr) Destroy(p);
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
};

using OwnedQueue = Owned<rd_kafka_queue_t, rd_kafka_queue_destroy>;
using OwnedEvent = Owned<rd_kafka_event_t, rd_kafka_event_destroy>;
using OwnedNewTopic = Owned<rd_kafka_NewTopic_t, rd_kafka_NewTopic_destroy>;
using OwnedOptions = Owned<rd_kafka_AdminOptions_t, rd_kafka_AdminOptions_destroy>;

Status SetConf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
      RD_KAFKA_CONF_OK) {
    return Status::InvalidArgument("kafka." + key + ": " + errstr);
  }
  return Status::OK();
}

// The topic's result in a CreateTopics answer.
Status TopicResult(rd_kafka_event_t* event) {
  if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return KafkaStatus(rd_kafka_event_error(event), "create topic");
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event);
  size_t n = 0;
  const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(result, &n);
  if (n != 1) return Status::Internal("create topic: expected one result");
  const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[0]);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::OK();
  const char* msg = rd_kafka_topic_result_error_string(topics[0]);
  return KafkaStatus(err, std::string("create topic ") + rd_kafka_topic_result_name(topics[0]) +
                              (msg != nullptr ? std::string(": ") + msg : ""));
}

}  // namespace

Status KafkaAdminOptions::Validate() const {
  if (brokers.empty() && !kafka.contains("bootstrap.servers")) {
    return Status::InvalidArgument("brokers is empty");
  }
  if (timeout_ms < 1) return Status::InvalidArgument("timeout_ms must be >= 1");
  return Status::OK();
}

StatusOr<std::unique_ptr<KafkaAdmin>> KafkaAdmin::Create(const KafkaAdminOptions& options) {
  RANKER_RETURN_IF_ERROR(options.Validate());
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  KafkaProperties props = {{"bootstrap.servers", options.brokers}, {"log_level", "3"}};
  for (const auto& [k, v] : options.kafka) props[k] = v;
  for (const auto& [k, v] : props) {
    if (Status s = SetConf(conf, k, v); !s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
  }
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {  // conf is still ours on failure
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("kafka admin: ") + errstr);
  }
  return std::unique_ptr<KafkaAdmin>(new KafkaAdmin(rk, options.timeout_ms));
}

KafkaAdmin::~KafkaAdmin() { rd_kafka_destroy(rk_); }

Status KafkaAdmin::CreateTopic(const std::string& name, int partitions,
                               const std::map<std::string, std::string>& configs) {
  char errstr[512];
  OwnedNewTopic topic(rd_kafka_NewTopic_new(name.c_str(), partitions, 1, errstr, sizeof(errstr)));
  if (topic.p == nullptr) return Status::InvalidArgument("create topic " + name + ": " + errstr);
  for (const auto& [k, v] : configs) {
    if (rd_kafka_NewTopic_set_config(topic.p, k.c_str(), v.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::InvalidArgument("create topic " + name + ": config " + k);
    }
  }
  OwnedOptions opts(rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_operation_timeout(opts.p, timeout_ms_, errstr, sizeof(errstr));
  rd_kafka_AdminOptions_set_request_timeout(opts.p, timeout_ms_, errstr, sizeof(errstr));
  OwnedQueue queue(rd_kafka_queue_new(rk_));
  rd_kafka_NewTopic_t* topics[] = {topic.p};
  rd_kafka_CreateTopics(rk_, topics, 1, opts.p, queue.p);
  OwnedEvent event(rd_kafka_queue_poll(queue.p, timeout_ms_ + 5000));
  if (event.p == nullptr) return Status::Unavailable("create topic " + name + ": no answer");
  return TopicResult(event.p);
}

StatusOr<LogBounds> KafkaAdmin::Bounds(const TopicPartition& tp) {
  LogBounds b;
  RANKER_RETURN_IF_ERROR(
      KafkaStatus(rd_kafka_query_watermark_offsets(rk_, tp.topic.c_str(), tp.partition, &b.start,
                                                   &b.end, timeout_ms_),
                  "log bounds of " + tp.topic + "[" + std::to_string(tp.partition) + "]"));
  return b;
}

}  // namespace ranker::ingest
