// The learning pipeline shared by `replay` and `serve`: decoded events go
// through the joiner into the trainer. Decoding is separate (Decode is
// thread-safe, so a reader thread may decode while the learner thread runs
// Consume); everything else is single-writer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/event_decoder.h"
#include "ingest/reject.h"
#include "join/joiner.h"
#include "learner/trainer.h"
#include "service/pipeline_options.h"
#include "service/publish_delay.h"

namespace ranker::app {

// Sees what the champion's trainer is given, in order, on the learner
// thread: each example (a copy is the tap's to take) with the event time of
// its step, and each Flush(). Challengers (service/challengers.h) replay it.
class ExampleTap {
 public:
  virtual ~ExampleTap() = default;
  virtual void OnExample(const learner::Example& example, int64_t event_time_ms) = 0;
  virtual void OnFlush() = 0;
};

class LearningPipeline {
 public:
  static StatusOr<std::unique_ptr<LearningPipeline>> Create(const PipelineOptions& options);

  // Thread-safe.
  ingest::DecodeResult Decode(std::string_view payload) const { return decoder_.Decode(payload); }

  // Feeds one decoded payload: a rejected one is counted (and its error
  // returned for logging); an event goes through the joiner, and every
  // example that becomes ready is trained on. A `watermark` event also
  // trains the trainer's partial batch (its position in the log makes that
  // deterministic). Learner thread only.
  void Consume(ingest::DecodeResult&& result);
  // Decode + Consume.
  void Ingest(std::string_view payload) { Consume(Decode(payload)); }

  // End of input: closes every pending impression and trains on the rest.
  void Finish();

  // Snapshots. SerializeState() writes everything of the pipeline but its
  // model (saved apart, rows incrementally): the joiner's pending
  // impressions, the trainer's partial batch, metrics and stats, the event
  // and reject counts. Restore() replaces the model and that state at once
  // (nothing changes unless OK). Learner thread only; Decode() may run
  // concurrently (the decoder is not part of the state).
  void SerializeState(std::string* out) const;
  Status Restore(std::unique_ptr<learner::Model> model, std::string_view state);

  // The learner's clock (monotonic ms) for the events consumed from now
  // on; < 0 (the default, e.g. replay) does not follow clicks' wall time.
  void set_wall_ms(int64_t now_ms) { wall_ms_ = now_ms; }
  // A version published at now_ms (same clock) has learned everything
  // trained so far: measures publish_delay() of the clicks in it.
  void MarkPublished(int64_t now_ms);
  // Wall time from consuming a click to the first publication that learned
  // from it (serve only; see set_wall_ms).
  const PublishDelay& publish_delay() const { return publish_delay_; }
  // Borrows `tap` (null: none) until replaced. Learner thread only.
  void set_tap(ExampleTap* tap) { tap_ = tap; }

  int64_t events_consumed() const { return events_consumed_; }
  const ingest::RejectCounters& rejects() const { return rejects_; }
  const learner::Joiner& joiner() const { return *joiner_; }
  const learner::Trainer& trainer() const { return *trainer_; }
  learner::Trainer* mutable_trainer() { return trainer_.get(); }
  const PipelineOptions& options() const { return options_; }

 private:
  LearningPipeline(const PipelineOptions& options, std::unique_ptr<learner::Trainer> trainer);
  void Train(std::vector<learner::Example>* ready);
  void Flush();  // the trainer's partial batch, and the tap's

  const PipelineOptions options_;
  const ingest::EventDecoder decoder_;
  ingest::RejectCounters rejects_;
  std::unique_ptr<learner::Joiner> joiner_;
  std::unique_ptr<learner::Trainer> trainer_;
  std::vector<learner::Example> ready_;  // reused buffer
  int64_t events_consumed_ = 0;
  int64_t wall_ms_ = -1;
  uint64_t handed_ = 0;  // trained examples handed to the trainer (incl. its buffer)
  PublishDelay publish_delay_;
  ExampleTap* tap_ = nullptr;
};

}  // namespace ranker::app
