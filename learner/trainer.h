// The single writer of the model: buffers examples into mini-batches, runs
// one training step per batch, and records the prequential metrics (each
// example is scored by the model BEFORE the step that trains on it).
//
// Thread-safety: none. One learner thread owns a Trainer; scorers never see
// it (they read published, immutable model versions).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "learner/event.h"
#include "learner/feedback_delay.h"
#include "learner/metrics.h"
#include "learner/model.h"
#include "learner/options.h"

namespace ranker::learner {

struct TrainerStats {
  int64_t examples_trained = 0;  // examples whose step was applied
  int64_t steps = 0;             // steps applied
  int64_t skipped_steps = 0;     // steps refused: non-finite loss or gradient
  int64_t skipped_examples = 0;  // examples of refused steps
};

class Trainer {
 public:
  // Validates the options. The model is created from model/optimizer options.
  static StatusOr<std::unique_ptr<Trainer>> Create(const ModelOptions& model,
                                                   const OptimizerOptions& optimizer,
                                                   const TrainerOptions& trainer);
  // Takes over an existing model (e.g. restored from a snapshot).
  Trainer(std::unique_ptr<Model> model, const TrainerOptions& options);

  // A labels-only example (Evaluation) is not buffered: it scores the
  // predictions kept for its eval_id (training the batch first when the
  // example they come from still waits in it).
  // Buffers the example; trains one step when batch_size are buffered,
  // except that a run of examples with the same nonzero Example::group is
  // never split: a full batch whose last example is grouped waits for the
  // next example and grows while it continues the group.
  void Add(Example example);
  // Trains on whatever is buffered (end of a replay).
  void Flush();

  // The event time (the joiner's watermark) that steps from now on happen
  // at: each trained example's Example::feedback_ts_ms is measured against
  // it (feedback_delay()). Call before Add()/Flush().
  void set_event_time_ms(int64_t ms) { event_time_ms_ = ms; }
  const FeedbackDelay& feedback_delay() const { return feedback_delay_; }

  // Called each time a progressive metric takes an impression's prediction
  // for task `task` (once per impression and task, in both join modes), with
  // an example naming the impression (request_id, item_id): for
  // evaluations the trainer cannot do itself, e.g. replay against a
  // simulator's ground truth. Not part of the state.
  using ScoreObserver = std::function<void(const Example& example, int task, double prediction)>;
  void set_score_observer(ScoreObserver observer) { observer_ = std::move(observer); }

  const Model& model() const { return *model_; }
  const ProgressiveMetrics& metrics() const { return metrics_; }
  const TrainerStats& stats() const { return stats_; }
  const TrainerOptions& options() const { return options_; }
  // Examples buffered for the next step.
  size_t buffered() const { return batch_.size(); }

  // Everything of the trainer but its model (the buffered examples, the
  // progressive metrics, the feedback delays, the stats), for snapshots: the model is saved
  // apart (rows incrementally). Restore() on a trainer built from the
  // restored model gives one that continues exactly as this one would.
  void SerializeState(std::string* out) const;
  Status RestoreState(std::string_view state);

  // The model, for snapshots (marking rows clean) and restores. The
  // trainer's metrics and buffer are not touched.
  Model* mutable_model() { return model_.get(); }

 private:
  void TrainBatch();
  bool Full() const;
  void RecordMetrics();
  void Evaluate(const Example& labels);

  const TrainerOptions options_;
  std::unique_ptr<Model> model_;
  ProgressiveMetrics metrics_;
  TrainerStats stats_;
  std::vector<Example> batch_;
  int64_t event_time_ms_ = 0;
  // Predictions of kScoreOnly examples by eval_id, until their final labels.
  std::map<uint64_t, std::vector<double>> scored_;
  FeedbackDelay feedback_delay_;
  ScoreObserver observer_;
  StepResult result_;  // reused across steps
};

}  // namespace ranker::learner
