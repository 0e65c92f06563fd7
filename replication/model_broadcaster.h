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
// A broadcast describes exactly the latest published version: it is taken
// only while the learner's model equals it (right after Publish(), or when
// idle with nothing learned since). The learner thread only takes the
// version (a shared_ptr) and the dirty key lists (moved out, O(1)); the
// broadcaster's own thread exports the rows from that immutable version,
// serialises its dense state and produces, so a full checkpoint of 10M
// rows costs the learner nothing. While one broadcast is being sent, later
// publications are not broadcast (their rows stay dirty for the next one).
//
// Thread-safety: OnPublish/OnIdle/RequestFull on the learner thread;
// counters() on any thread. Lifetimes: producer, publisher, clock and
// registry are borrowed and must outlive this object; the destructor waits
// for the broadcast in flight.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "ingest/kafka_producer.h"
#include "replication/model_topic_codec.h"
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
  ~ModelBroadcaster() override;  // sends what is queued, then stops
  ModelBroadcaster(const ModelBroadcaster&) = delete;
  ModelBroadcaster& operator=(const ModelBroadcaster&) = delete;

  // Right after `pipeline` was published: broadcasts when interval_ms has
  // passed since the last broadcast and none is in flight, or `force`
  // (shutdown: waits for the one in flight, then sends this one and waits).
  void OnPublish(LearningPipeline* pipeline, bool force) override;
  // The learner is idle and its model is the latest published version:
  // broadcasts that version if it was not yet and interval_ms has passed.
  void OnIdle(LearningPipeline* pipeline) override;
  // The next broadcast is a full checkpoint (the model was replaced).
  void RequestFull() override { need_full_.store(true); }

  BroadcastCounters counters() const;

 private:
  // One broadcast handed from the learner thread to the sending thread.
  struct Job {
    std::shared_ptr<const PublishedModel> version;  // immutable: read off-thread
    CommitHeader header;                            // rows, chunks, sent_at filled by Send
    std::vector<uint64_t> keys;                     // delta: rows changed (full: every row)
    std::vector<uint64_t> removed;                  // delta: rows removed
  };
  // Learner thread: takes the latest version and the dirty rows into a Job.
  void Broadcast(LearningPipeline* pipeline);
  // Broadcaster thread.
  void Run();
  void SendJob(Job* job);
  bool SendRow(const learner::EmbeddingTable& table, uint64_t key, const ingest::KafkaHeaders& h,
               std::string* buf, Job* job);
  // Produces one message and counts it; false (and need_full_) on failure.
  bool Send(std::string_view key, std::string_view value, const ingest::KafkaHeaders& headers);
  int64_t NowMonoMs() const { return clock_->MonotonicNs() / 1000000; }
  bool Busy() const;
  void WaitIdle();

  const ModelTopicOptions options_;
  ingest::KafkaProducer* const producer_;
  const ModelPublisher* const publisher_;
  const Clock* const clock_;
  prometheus::Counter* bytes_metric_ = nullptr;
  prometheus::Counter* versions_metric_ = nullptr;

  // Set by the sender on a failed send; read by the learner thread.
  std::atomic<bool> need_full_{true};  // the first broadcast is a checkpoint

  // Learner thread only.
  uint64_t since_checkpoint_ = 0;
  uint64_t epoch_;
  uint64_t sent_version_ = 0;  // version of the last broadcast taken
  bool sent_any_ = false;
  int64_t last_mono_ms_ = 0;

  mutable Mutex mu_;
  CondVar cv_;                                     // a job queued, or one finished
  std::optional<Job> job_ RANKER_GUARDED_BY(mu_);  // queued, not yet taken
  bool sending_ RANKER_GUARDED_BY(mu_) = false;
  bool stop_ RANKER_GUARDED_BY(mu_) = false;
  std::thread thread_;

  std::atomic<uint64_t> broadcasts_{0}, checkpoints_{0}, failures_{0}, bytes_{0}, messages_{0},
      last_version_{0};
};

}  // namespace ranker::app
