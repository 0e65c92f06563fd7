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
// A challenger's broadcaster (made with no publisher, README "Champion and
// challengers") is fed through ChallengerListener instead: each Offer()
// hands over the challenger's version and its dirty rows, taken on the
// challenger thread at its publication; offers that arrive while one waits
// to be sent merge into it (the union of their rows, the newest version),
// and the sending thread sends at most one every interval_ms. So nothing
// is skipped and no idle hook is needed.
//
// Thread-safety: OnPublish/OnIdle/RequestFull on the learner thread (Offer
// on the challenger thread, Drain on the owner's); OnChampion and
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

class ModelBroadcaster final : public PublicationListener, public ChallengerListener {
 public:
  // EmbeddingTable dirty channel of the model topic (0 is the snapshots').
  static constexpr int kDirtyChannel = kModelTopicDirtyChannel;

  // `registry` may be null (no Prometheus families). `publisher` null: a
  // challenger's broadcaster (Offer/Drain only).
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
  void OnChampion(const std::string& name) override;

  // ChallengerListener (a challenger's broadcaster).
  void Offer(std::shared_ptr<const PublishedModel> latest, std::vector<uint64_t> changed,
             std::vector<uint64_t> removed, bool replaced) override;
  void Drain() override;

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
  // A new job of `latest` (learner or challenger thread): full or a delta.
  Job NewJob(const std::shared_ptr<const PublishedModel>& latest);
  // Merges a later offer into the queued job `job` (challenger thread).
  void Merge(Job* job, const std::shared_ptr<const PublishedModel>& latest,
             std::vector<uint64_t> changed, std::vector<uint64_t> removed);
  std::string Champion() const;
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

  // Learner thread only (a challenger's: its thread).
  uint64_t since_checkpoint_ = 0;
  uint64_t epoch_;
  uint64_t sent_version_ = 0;  // version of the last broadcast taken
  std::string sent_champion_;  // champion named by it
  bool sent_any_ = false;
  int64_t last_mono_ms_ = 0;

  mutable Mutex mu_;
  CondVar cv_;                                     // a job queued, or one finished
  std::optional<Job> job_ RANKER_GUARDED_BY(mu_);  // queued, not yet taken
  bool sending_ RANKER_GUARDED_BY(mu_) = false;
  bool stop_ RANKER_GUARDED_BY(mu_) = false;
  std::string champion_ RANKER_GUARDED_BY(mu_) = "main";
  // A challenger's: when the last job was taken (monotonic ms), and Drain()
  // asking to send without waiting for interval_ms.
  int64_t taken_mono_ms_ RANKER_GUARDED_BY(mu_) = 0;
  bool taken_any_ RANKER_GUARDED_BY(mu_) = false;
  int draining_ RANKER_GUARDED_BY(mu_) = 0;
  std::thread thread_;

  std::atomic<uint64_t> broadcasts_{0}, checkpoints_{0}, failures_{0}, bytes_{0}, messages_{0},
      last_version_{0};
};

}  // namespace ranker::app
