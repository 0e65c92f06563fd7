// Challengers (README "Champion and challengers"): models trained beside the
// champion on the champion's joined examples, in the same order, each with
// its own options, progressive metrics and gate health.
//
// The champion's learner thread offers every example and flush it gives its
// own trainer (ExampleTap); the set copies them into hand-off batches and
// passes them through a bounded queue to ONE challenger thread that trains
// every challenger in turn. So challengers cost the learner thread a copy of
// each example, never a training step, and never change the champion. When
// the queue is full the learner thread waits (backpressure, counted) instead
// of dropping: every challenger sees every example exactly once. lag() is
// how many examples were offered and not yet trained.
//
// Thread-safety: OnExample/OnFlush/Handoff/Sync/Start/Stop from the learner
// thread (the owner); Read() and the counters from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/bounded_queue.h"
#include "base/mutex.h"
#include "learner/trainer.h"
#include "service/pipeline.h"
#include "service/service_config.h"
#include "serving/published_model.h"

namespace ranker::app {

struct ChallengerSetOptions {
  size_t queue_batches = 64;    // hand-off batches in flight before backpressure
  size_t batch_examples = 256;  // examples per hand-off batch
  int thread_nice = 0;          // of the challenger thread
  // Where the challengers started reading ("topic/partition" -> offset; the
  // restored snapshot's, empty from the beginning): a challenger is as
  // young as the process that made it (README "Champion and challengers").
  std::map<std::string, int64_t> started_offsets;
};

class ChallengerSet final : public ExampleTap {
 public:
  // One trainer per challenger, from its resolved options.
  // REQUIRES: `challengers` passed Config::Validate().
  static StatusOr<std::unique_ptr<ChallengerSet>> Create(
      const std::vector<ChallengerConfig>& challengers, const ChallengerSetOptions& options);
  ~ChallengerSet() override;  // Stop()s
  ChallengerSet(const ChallengerSet&) = delete;
  ChallengerSet& operator=(const ChallengerSet&) = delete;

  // Starts the challenger thread. REQUIRES: called once.
  void Start();
  // Hands over what is pending, trains everything queued, joins. Idempotent.
  void Stop();

  // ExampleTap (learner thread).
  void OnExample(const learner::Example& example, int64_t event_time_ms) override;
  void OnFlush() override;
  // Passes the partial hand-off batch to the challenger thread now.
  void Handoff();
  // At the champion's publication `version`: Handoff(), and once the
  // challenger thread has trained up to here it publishes every challenger
  // as `version` too (one model_version counts publications of the set).
  void Publish(uint64_t version, int64_t now_ms);
  // Challenger i's latest published version; nullptr before its first.
  std::shared_ptr<const PublishedModel> Latest(size_t i) const {
    return challengers_[i]->latest.load();
  }
  // The index of challenger `name`, or -1.
  int Find(std::string_view name) const;
  // Handoff() and waits until every challenger trained everything offered
  // (end of a replay; a consistent capture). Before Start(): trains inline.
  void Sync();

  // After a rollback of the champion (challengers are not in snapshots):
  // trains what is queued, then starts every challenger over with a fresh
  // model, reading from `started_offsets`. Learner thread.
  void Restart(const std::map<std::string, int64_t>& started_offsets);

  size_t size() const { return challengers_.size(); }
  const std::string& name(size_t i) const { return challengers_[i]->name; }
  // Runs `fn(trainer)` on challenger i under its lock: the trainer does not
  // change meanwhile. Any thread.
  template <typename Fn>
  void Read(size_t i, Fn&& fn) const {
    std::lock_guard<std::mutex> lock(challengers_[i]->mu);
    fn(static_cast<const learner::Trainer&>(*challengers_[i]->trainer));
  }

  uint64_t offered() const { return offered_.load(); }  // examples
  uint64_t trained() const { return trained_.load(); }  // examples every challenger trained
  uint64_t lag() const { return offered() - trained(); }
  // Hand-offs that found the queue full and waited.
  uint64_t backpressure_waits() const { return backpressure_waits_.load(); }

 private:
  struct Challenger {
    std::string name;
    PipelineOptions options;  // to start over (Restart)
    std::unique_ptr<learner::Trainer> trainer;
    mutable std::mutex mu;  // held while it trains a batch, and by Read()
    std::atomic<std::shared_ptr<const PublishedModel>> latest;
  };
  // One step of the champion's feed: an example at its event time, or a flush.
  struct Op {
    learner::Example example;
    int64_t event_time_ms = 0;
    bool flush = false;
  };
  struct Batch {
    std::vector<Op> ops;
    uint64_t examples = 0;
    uint64_t publish_version = 0;  // > 0: publish every challenger after it
    int64_t publish_ms = 0;
  };

  explicit ChallengerSet(const ChallengerSetOptions& options);
  void Run();
  void Train(Batch& batch);  // moves the examples out
  void PublishOne(Challenger* c, uint64_t version, int64_t now_ms);

  const ChallengerSetOptions options_;
  mutable Mutex started_mu_;
  std::map<std::string, int64_t> started_offsets_ RANKER_GUARDED_BY(started_mu_);
  std::vector<std::unique_ptr<Challenger>> challengers_;
  Batch pending_;  // learner thread
  BoundedQueue<Batch> queue_;
  std::atomic<uint64_t> offered_{0};
  std::atomic<uint64_t> trained_{0};
  std::atomic<uint64_t> backpressure_waits_{0};
  std::mutex done_mu_;
  std::condition_variable done_cv_;  // trained_ moved
  std::thread thread_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace ranker::app
