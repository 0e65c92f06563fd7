#include "ingest/kafka_dead_letter.h"

#include <cassert>
#include <utility>

#include "ingest/kafka_producer.h"

namespace ranker::ingest {

DeadLetterSink::DeadLetterSink(KafkaProducer* producer, std::string topic)
    : producer_(producer), topic_(std::move(topic)) {
  assert(producer_ != nullptr && !topic_.empty());
}

Status DeadLetterSink::Send(const SourceMessage& original, std::string_view reason,
                            std::string_view message) {
  KafkaHeaders headers = {
      {std::string(kRejectReasonHeader), std::string(reason)},
      {std::string(kRejectMessageHeader), std::string(message)},
  };
  if (!original.topic.empty()) {
    headers.emplace_back(std::string(kSourceTopicHeader), original.topic);
  }
  if (original.partition >= 0 && original.offset >= 0) {
    headers.emplace_back(std::string(kSourcePartitionHeader), std::to_string(original.partition));
    headers.emplace_back(std::string(kSourceOffsetHeader), std::to_string(original.offset));
  }
  return producer_->Produce(topic_, original.key, original.payload, headers);
}

}  // namespace ranker::ingest
