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
// Snapshots cover every challenger: Capture() puts a marker in the hand-off
// stream, and the challenger thread, when it reaches it (every example
// offered before it trained, none after), copies each challenger's state
// for the snapshotter. So the champion's capture pause grows by a few
// pointer moves, not by the challengers' lag.
//
// Thread-safety: OnExample/OnFlush/Handoff/Sync/Capture/Prepare/Install/
// Start/Stop from the learner thread (the owner); Read() and the counters
// from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/bounded_queue.h"
#include "base/mutex.h"
#include "base/reclaimer.h"
#include "learner/trainer.h"
#include "service/pipeline.h"
#include "service/replication_hooks.h"
#include "service/service_config.h"
#include "serving/published_model.h"

namespace ranker::app {

struct ChallengerSetOptions {
  size_t queue_batches = 64;    // hand-off batches in flight before backpressure
  size_t batch_examples = 256;  // examples per hand-off batch
  int thread_nice = 0;          // of the challenger thread
  // Frees the challengers' replaced versions off the readers' threads
  // (ModelPublisher); null: whoever drops a version last frees it.
  Reclaimer* reclaimer = nullptr;
  // Where the challengers start reading ("topic/partition" -> offset; empty:
  // from the beginning) until a snapshot's Install() says otherwise: a
  // challenger restored from a snapshot keeps its own, a fresh one gets the
  // snapshot's (README "Champion and challengers").
  std::map<std::string, int64_t> started_offsets;
};

// One challenger's state at a capture (ChallengerSet::Capture), taken on the
// challenger thread; the snapshotter's writer thread serialises it.
struct ChallengerCapture {
  std::string name;
  std::unique_ptr<const learner::Model> model;  // a copy that shares the rows
  std::string state;                            // the trainer's state and started offsets
  std::vector<uint64_t> dirty_keys;             // rows changed since the previous capture
  std::vector<uint64_t> removed_keys;
};

// A challenger read back from a snapshot (for Prepare).
struct RestoredChallenger {
  std::string name;
  std::unique_ptr<learner::Model> model;
  std::string state;  // ChallengerCapture::state
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

  // Challenger i's model topic (replication/model_broadcaster.h): told after
  // each of its publications, on the challenger thread. Borrowed; must
  // outlive Stop(). REQUIRES: before Start().
  void set_listener(size_t i, ChallengerListener* listener) {
    challengers_[i]->listener = listener;
  }
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

  // A snapshot of every challenger at this point of the champion's feed:
  // hands everything over, and the challenger thread fulfils the future
  // once it has trained up to here (in order: captures of one set are
  // consecutive). Each capture marks the challenger's rows clean.
  std::future<std::vector<ChallengerCapture>> Capture();

  // Restore, in two steps so that a failure changes nothing: Prepare()
  // builds a trainer for each restored challenger (InvalidArgument naming
  // it on a model of another shape, Corruption on a bad state); Install()
  // trains what is queued, then puts the prepared challengers in and starts
  // every other one over fresh, reading from `started_offsets` (the
  // snapshot's; a challenger new in the config is that young).
  struct Prepared {
    std::vector<std::unique_ptr<learner::Trainer>> trainers;  // by index; null: fresh
    std::vector<std::map<std::string, int64_t>> started;      // of the restored ones
  };
  StatusOr<Prepared> Prepare(std::vector<RestoredChallenger> restored) const;
  void Install(Prepared prepared, const std::map<std::string, int64_t>& started_offsets);
  // Challenger i's options.
  const PipelineOptions& options(size_t i) const { return challengers_[i]->options; }

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
    PipelineOptions options;  // to start over (Install)
    std::unique_ptr<learner::Trainer> trainer;
    mutable std::mutex mu;  // held while it trains a batch, and by Read()
    std::atomic<std::shared_ptr<const PublishedModel>> latest;
    ChallengerListener* listener = nullptr;
    bool replaced = false;  // by Install, since the last publication (under mu)
    mutable Mutex started_mu;
    // Where it started reading ("topic/partition" -> offset).
    std::map<std::string, int64_t> started RANKER_GUARDED_BY(started_mu);
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
    // Set: capture every challenger after it (Capture()).
    std::unique_ptr<std::promise<std::vector<ChallengerCapture>>> capture;
  };

  explicit ChallengerSet(const ChallengerSetOptions& options);
  void Run();
  void Train(Batch& batch);  // moves the examples out
  void PublishOne(Challenger* c, uint64_t version, int64_t now_ms);
  std::vector<ChallengerCapture> CaptureAll();

  const ChallengerSetOptions options_;
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
