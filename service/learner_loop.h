// The learner thread of the service: the single writer of the model. It
// takes events from the Kafka source and/or the in-process queue (POST
// /v1/events without a broker), runs them through the LearningPipeline
// (decode -> joiner -> trainer), copies rejects to the dead-letter topic,
// remembers the next offset per partition, and publishes a new immutable
// model version at least every publish_interval_ms while it learns (and at
// once when its input runs dry). After each publication the offsets it
// reflects are offered to the OffsetCommitter.
//
// Without snapshots, as the source's RebalanceListener it makes partition
// moves lossless and duplicate-free: OnRevoked() waits for the batch being learned, commits the
// offsets consumed from the revoked partitions, and forgets them.
// OnAssigned() supplies no offsets (the group's committed offsets apply),
// except for partitions whose revoke
// commit failed and that come straight back in the same rebalance: those
// resume where this member stopped. A partition whose revoke commit failed
// and that moves to another member is re-read from its last committed
// offset (at most one publication's worth of duplicates).
//
// With snapshots (deps.snapshotter set) the snapshot is the only source of
// positions: OnAssigned() resumes every partition where the model stands
// (the restored snapshot's offsets, then what was consumed since) and a
// partition the model has nothing of from its beginning; OnRevoked() keeps
// the offsets (the model still reflects those events). The loop captures a
// snapshot every snapshot.interval_ms, on request, and when it stops (then
// instead of flushing the joiner). Restore requests roll the learner back
// and move the assigned partitions to the snapshot's offsets.
//
// An idle input moves event time on (join/idle_watermark.h): after
// join.idle_flush_ms of wall time without events, the loop appends
// `watermark` events, to every assigned partition through deps.producer with
// a Kafka source (so a restarted learner reads the same advance at the same
// offsets), or to its own queue without one.
//
// Thread-safety: Start()/Stop() from one owner thread; Enqueue(), Decode(),
// RequestSnapshot(), RequestRestore() and rejects() from any thread; the listener methods from the
// source's thread. Lifetimes: every borrowed pointer must outlive Stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/mutex.h"
#include "ingest/event_source.h"
#include "ingest/kafka_dead_letter.h"
#include "ingest/kafka_producer.h"
#include "join/idle_watermark.h"
#include "service/model_publisher.h"
#include "service/offset_committer.h"
#include "service/pipeline.h"
#include "service/replication_hooks.h"
#include "service/snapshotter.h"

namespace ranker::app {

struct LearnerLoopOptions {
  int64_t publish_interval_ms = 100;
  size_t pop_batch = 1024;          // messages per Pop()
  int pop_timeout_ms = 20;          // longest wait for input; bounds Stop() latency
  int64_t drain_timeout_ms = 5000;  // Stop() learns what is queued, at most this long
  bool flush_joiner_on_stop = true;
  size_t local_queue_max_events = 100000;
  int thread_nice = 0;  // of the loop's thread (ServiceOptions::learner_nice)
};

// What the loop borrows. `source`, `committer` and `dead_letters` may be null
// (no Kafka); `publisher` and `clock` may not.
struct LearnerLoopDeps {
  ingest::EventSource* source = nullptr;
  OffsetCommitter* committer = nullptr;
  ingest::DeadLetterSink* dead_letters = nullptr;
  ModelPublisher* publisher = nullptr;
  const Clock* clock = nullptr;
  Snapshotter* snapshotter = nullptr;          // null: no snapshots
  PublicationListener* broadcaster = nullptr;  // null: no model topic
  // Appends idle watermarks to the source's assigned partitions; null: a
  // Kafka source's idle partitions get none (the local queue needs none).
  ingest::KafkaProducer* producer = nullptr;
  // Runs on the learner thread for each new version just before it becomes
  // visible to readers (metrics gauges), so a reader that sees a version
  // also sees its metrics.
  std::function<void(const PublishedModel&)> on_publish;
  // Runs on the learner thread after a restore replaced the pipeline's
  // state, with the offsets it now stands at, before the restored version
  // is published. (The challengers are restored by Snapshotter::Apply.)
  std::function<void(const ingest::OffsetMap&)> on_restore;
};

class LearnerLoop final : public ingest::RebalanceListener {
 public:
  LearnerLoop(std::unique_ptr<LearningPipeline> pipeline, const LearnerLoopOptions& options,
              LearnerLoopDeps deps);
  ~LearnerLoop() override;  // Stop()s
  LearnerLoop(const LearnerLoop&) = delete;
  LearnerLoop& operator=(const LearnerLoop&) = delete;

  // The pipeline was restored from a snapshot covering `offsets`: reading
  // resumes there. REQUIRES: before Start().
  void ResumeFrom(const ingest::OffsetMap& offsets);

  // Publishes a first version (so readiness holds at once) and starts the
  // thread. REQUIRES: called once.
  void Start();
  // Stops taking input after learning what is queued (for at most
  // drain_timeout_ms), flushes the joiner when configured, publishes a
  // final version and offers its offsets. Idempotent.
  void Stop();

  // Hands decoded events to the learner (in order). ResourceExhausted when
  // the in-process queue is full, Unavailable once stopping; then nothing
  // was taken. On success *events is left empty.
  Status Enqueue(std::vector<ingest::DecodeResult>* events);

  // Asks the learner thread for a snapshot now and waits for its capture
  // (not its write: Snapshotter::Wait). The snapshot's id; FailedPrecondition
  // without snapshots, Unavailable when the learner did not answer in time.
  StatusOr<uint64_t> RequestSnapshot(std::chrono::milliseconds timeout);
  // Rolls the learner back to snapshot `id` (model, joiner, metrics, offsets)
  // and publishes it; waits for it to be done. NotFound/Corruption from the
  // store; the learner is unchanged unless OK.
  struct Restored {
    uint64_t model_version = 0;  // the version published from the snapshot
    std::string param_checksum;  // of the model right after the restore
  };
  StatusOr<Restored> RequestRestore(uint64_t id, std::chrono::milliseconds timeout);

  // Thread-safe pieces of the pipeline.
  ingest::DecodeResult Decode(std::string_view payload) const { return pipeline_->Decode(payload); }
  const ingest::RejectCounters& rejects() const { return pipeline_->rejects(); }
  uint64_t dead_letter_failures() const { return dead_letter_failures_.load(); }
  // Idle watermarks the producer refused.
  uint64_t watermark_failures() const { return watermark_failures_.load(); }

  // ingest::RebalanceListener.
  ingest::OffsetMap OnAssigned(const std::vector<ingest::TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<ingest::TopicPartition>& partitions) override;

 private:
  void Run();
  // One round of input; returns how many events were consumed.
  size_t PollOnce(bool stopping) RANKER_REQUIRES(batch_mu_);
  size_t DrainLocal(std::chrono::milliseconds wait) RANKER_REQUIRES(batch_mu_);
  void ConsumeMessage(ingest::SourceMessage* message) RANKER_REQUIRES(batch_mu_);
  void MaybePublish(bool idle) RANKER_REQUIRES(batch_mu_);
  // Appends a watermark when the input has been idle long enough.
  void MaybeAdvanceIdle() RANKER_REQUIRES(batch_mu_);
  void AppendWatermark(int64_t ts_ms) RANKER_REQUIRES(batch_mu_);
  void Publish() RANKER_REQUIRES(batch_mu_);
  // Snapshot and restore requests, and periodic snapshots. A restore
  // releases batch_mu_ while it seeks (see MoveSource()).
  void ServeRequests() RANKER_REQUIRES(batch_mu_);
  void MaybeSnapshot() RANKER_REQUIRES(batch_mu_);
  uint64_t Snapshot() RANKER_REQUIRES(batch_mu_);
  StatusOr<Restored> Restore(uint64_t id) RANKER_REQUIRES(batch_mu_);
  // Seeks the assigned partitions to `where` (kOffsetBeginning where it has
  // none) with batch_mu_ RELEASED: the source applies a seek on its own
  // thread, which may first have to finish a rebalance callback, and those
  // take batch_mu_. A partition assigned meanwhile starts at `where` too.
  // `where` outlives the call.
  Status MoveSource(const ingest::OffsetMap& where) RANKER_REQUIRES(batch_mu_);
  void FailRequests();
  int64_t NowMonoMs() const { return deps_.clock->MonotonicNs() / 1000000; }

  const std::unique_ptr<LearningPipeline> pipeline_;
  const LearnerLoopOptions options_;
  const LearnerLoopDeps deps_;

  // Held while a batch is learned or published: OnRevoked() waits on it.
  Mutex batch_mu_ RANKER_ACQUIRED_BEFORE(local_mu_, request_mu_);
  ingest::OffsetMap offsets_ RANKER_GUARDED_BY(batch_mu_);
  // Revoked partitions whose commit failed, until the next assignment.
  ingest::OffsetMap uncommitted_ RANKER_GUARDED_BY(batch_mu_);
  bool dirty_ RANKER_GUARDED_BY(batch_mu_) = false;  // learned since last publish
  // While MoveSource() seeks: where OnAssigned() starts partitions.
  const ingest::OffsetMap* seek_target_ RANKER_GUARDED_BY(batch_mu_) = nullptr;
  int64_t last_publish_ms_ RANKER_GUARDED_BY(batch_mu_) = 0;  // monotonic

  Mutex local_mu_;
  CondVar local_cv_;
  std::deque<ingest::DecodeResult> local_ RANKER_GUARDED_BY(local_mu_);
  bool local_closed_ RANKER_GUARDED_BY(local_mu_) = false;

  // Requests for the learner thread.
  struct PendingRequest {
    bool restore = false;
    uint64_t id = 0;
    std::promise<StatusOr<uint64_t>> snapshot;  // !restore
    std::promise<StatusOr<Restored>> restored;  // restore
  };
  Status Enqueue(const std::shared_ptr<PendingRequest>& request);
  Mutex request_mu_;
  std::deque<std::shared_ptr<PendingRequest>> requests_ RANKER_GUARDED_BY(request_mu_);
  bool local_closed_requests_ RANKER_GUARDED_BY(request_mu_) = false;
  std::atomic<bool> has_requests_{false};
  bool learned_since_snapshot_ RANKER_GUARDED_BY(batch_mu_) = false;

  learner::IdleWatermark idle_ RANKER_GUARDED_BY(batch_mu_);
  std::atomic<uint64_t> dead_letter_failures_{0};
  std::atomic<uint64_t> watermark_failures_{0};
  std::atomic<bool> stop_{false};
  bool started_ = false;  // owner thread only
  std::thread thread_;
};

}  // namespace ranker::app
