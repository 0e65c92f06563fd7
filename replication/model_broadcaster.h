// The leader's side of the model topic (replication/model_topic_codec.h has the
// message layout): after a publication, at most every interval_ms, sends
// what changed in the learner's model since the previous broadcast (rows
// dirty on EmbeddingTable channel 1, tombstones for removed rows, the whole
// dense state) and a commit naming the published version. The first
// broadcast, every checkpoint_every-th one, the one after RequestFull()
// (rollback) and the one after a failed send are full checkpoints (every
// row). All messages go to partition 0, in order. The leader never reads
// the topic.
//
// A broadcast describes exactly the latest published version: it is sent
// only while the learner's model equals it (right after Publish(), or when
// idle with nothing learned since).
//
// Thread-safety: everything on the learner thread except counters(), which
// any thread may call. Lifetimes: producer, publisher, clock and registry
// are borrowed and must outlive this object.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "base/clock.h"
#include "ingest/kafka_producer.h"
#include "service/model_publisher.h"
#include "service/pipeline.h"
#include "service/replication_hooks.h"
#include "service/service_options.h"

namespace prometheus {
class Counter;
class Registry;
}  // namespace prometheus

namespace ranker::app {

// Cumulative counts of a broadcaster.
struct BroadcastCounters {
  uint64_t broadcasts = 0;    // commits sent
  uint64_t checkpoints = 0;   // of which full
  uint64_t failures = 0;      // broadcasts cut short by the producer
  uint64_t bytes = 0;         // key + value bytes produced
  uint64_t messages = 0;      // messages produced
  uint64_t last_version = 0;  // version of the last commit sent
};

class ModelBroadcaster final : public PublicationListener {
 public:
  // EmbeddingTable dirty channel of the model topic (0 is the snapshots').
  static constexpr int kDirtyChannel = kModelTopicDirtyChannel;

  // `registry` may be null (no Prometheus families).
  ModelBroadcaster(const ModelTopicOptions& options, ingest::KafkaProducer* producer,
                   const ModelPublisher* publisher, const Clock* clock,
                   prometheus::Registry* registry);
  ModelBroadcaster(const ModelBroadcaster&) = delete;
  ModelBroadcaster& operator=(const ModelBroadcaster&) = delete;

  // Right after `pipeline` was published: broadcasts when interval_ms has
  // passed since the last broadcast, or `force` (shutdown).
  void OnPublish(LearningPipeline* pipeline, bool force) override;
  // The learner is idle and its model is the latest published version:
  // broadcasts that version if it was not yet and interval_ms has passed.
  void OnIdle(LearningPipeline* pipeline) override;
  // The next broadcast is a full checkpoint (the model was replaced).
  void RequestFull() override { need_full_ = true; }

  BroadcastCounters counters() const;

 private:
  void Broadcast(LearningPipeline* pipeline);
  // Produces one message and counts it; false (and need_full_) on failure.
  bool Send(std::string_view key, std::string_view value, const ingest::KafkaHeaders& headers);
  int64_t NowMonoMs() const { return clock_->MonotonicNs() / 1000000; }

  const ModelTopicOptions options_;
  ingest::KafkaProducer* const producer_;
  const ModelPublisher* const publisher_;
  const Clock* const clock_;
  prometheus::Counter* bytes_metric_ = nullptr;
  prometheus::Counter* versions_metric_ = nullptr;

  // Learner thread only.
  bool need_full_ = true;  // the first broadcast is a checkpoint
  uint64_t since_checkpoint_ = 0;
  uint64_t epoch_;
  uint64_t sent_version_ = 0;  // version of the last broadcast
  bool sent_any_ = false;
  int64_t last_mono_ms_ = 0;

  std::atomic<uint64_t> broadcasts_{0}, checkpoints_{0}, failures_{0}, bytes_{0}, messages_{0},
      last_version_{0};
};

}  // namespace ranker::app
