// Copies rejected events to the dead-letter topic (`ingest.dead_letter_topic`)
// so they can be inspected and replayed: the original key and payload bytes,
// plus headers saying why and where from:
//   ranker-reject-reason    snake_case reason name (e.g. "missing_field")
//   ranker-reject-message   the human-readable rejection message
//   ranker-source-topic     topic of the original message
//   ranker-source-partition decimal partition
//   ranker-source-offset    decimal offset
//
// Thread-safety: Send() may be called from any thread (the producer is).
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"
#include "ingest/event_source.h"

namespace ranker::ingest {

class KafkaProducer;

inline constexpr std::string_view kRejectReasonHeader = "ranker-reject-reason";
inline constexpr std::string_view kRejectMessageHeader = "ranker-reject-message";
inline constexpr std::string_view kSourceTopicHeader = "ranker-source-topic";
inline constexpr std::string_view kSourcePartitionHeader = "ranker-source-partition";
inline constexpr std::string_view kSourceOffsetHeader = "ranker-source-offset";

class DeadLetterSink {
 public:
  // `producer` is borrowed and must outlive the sink. REQUIRES: topic
  // non-empty.
  DeadLetterSink(KafkaProducer* producer, std::string topic);

  // Queues the copy (asynchronous; see KafkaProducer::Produce). Messages that
  // did not come from a log (e.g. POST /v1/events) pass topic "" and
  // partition/offset -1: those headers are then omitted.
  Status Send(const SourceMessage& original, std::string_view reason, std::string_view message);

  const std::string& topic() const { return topic_; }

 private:
  KafkaProducer* const producer_;
  const std::string topic_;
};

}  // namespace ranker::ingest
