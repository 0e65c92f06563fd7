// Read-only scoring for serving (contract §2, §3 POST /v1/rank): per-task
// predictions and the final ranking score of N candidates for one request,
// WITHOUT the position tower and without changing the model.
//
// The request-level features (user_id, user{}, context{}) are looked up and
// pushed through the first expert layer ONCE per request; per candidate
// only the input columns its own features touch (item_id, item{}, dense{})
// are multiplied. This is exact up to float rounding because every input
// slot is a sum of feature contributions (sum pooling), so
// X = x_request + X_candidate row by row.
//
// Thread-safety: a Scorer borrows a const Model that nobody mutates while
// it is in use (the trainer publishes immutable copies); Score may run on
// many threads at once (each keeps its own thread_local scratch, and a
// block run by a pool helper its own activations).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/worker_pool.h"
#include "learner/event.h"
#include "learner/model.h"

namespace ranker::learner {

struct ScoreRequest {
  // Request-level features: user_id, user.*, context.* (and dense, rarely).
  std::vector<CategoricalFeature> shared;
  std::vector<DenseFeature> shared_dense;
  // Empty, or one exponent per task (ModelOptions::tasks order) replacing
  // the configured score weights for this request.
  std::vector<double> weights;
};

struct ScoreResult {
  int num_tasks = 0;
  // [i * num_tasks + t]: binary: probability (for a listwise task: the
  // softmax of its logits over the candidates scored together, so the
  // share of one click that goes to candidate i); regression: prediction
  // on the label's scale (expm1 clipped at >= 0 for log1p, raw for none).
  std::vector<double> predictions;
  // Per candidate: prod over tasks of p^w (binary) or
  // max(1 + prediction, 0)^w (regression).
  std::vector<double> scores;

  double prediction(int i, int t) const { return predictions[i * num_tasks + t]; }
};

class Scorer {
 public:
  // `model` must outlive the Scorer and stay unchanged while it is used.
  // With a `pool`, Score spreads the candidate blocks (128 candidates each)
  // over the calling thread and the pool's free helpers; the scores are the
  // same bits either way.
  explicit Scorer(const Model& model, WorkerPool* pool = nullptr) : model_(model), pool_(pool) {}

  // Candidates carry their own features (item_id, item{}, dense{}); their
  // position, device and labels are ignored. REQUIRES: weights empty or
  // one per task.
  void Score(const ScoreRequest& request, std::span<const Example> candidates,
             ScoreResult* result) const;

  // The reference path: every example scored on its own full input row (no
  // request/candidate split), position tower left out. Same result as
  // Score() up to float rounding.
  void ScoreExamples(std::span<const Example> examples, ScoreResult* result) const;

  // Raw network outputs (logits / transformed-scale predictions) of the
  // last call on this thread, [B x num_tasks]; for tests.
  static const Matrix& LastOutputs();

 private:
  // Predictions and scores from the raw outputs [N x num_tasks].
  void Finish(const Matrix& outputs, const std::vector<double>& weights, ScoreResult* result) const;

  const Model& model_;
  WorkerPool* const pool_;
};

}  // namespace ranker::learner
