#include "learner/scorer.h"

#include <algorithm>
#include <cassert>
#include <cmath>

#include "learner/loss.h"

namespace ranker::learner {
namespace {

// Per-thread scratch: steady request sizes allocate nothing.
struct Scratch {
  BatchInput shared;
  BatchInput candidates;
  NetworkCache cache;
  std::vector<int> cols;  // input columns touched by candidates
  Matrix x_cols;          // candidates' touched columns [N x cols]
  Matrix w_cols;          // the first-layer rows of those columns
  Matrix outputs;         // [N x num_tasks]
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// The input columns of the slots marked in slot_used.
void UsedColumns(const BatchInput& in, int cat_slots, int dim, std::vector<int>* cols) {
  cols->clear();
  for (size_t s = 0; s < in.slot_used.size(); ++s) {
    if (!in.slot_used[s]) continue;
    const int slot = static_cast<int>(s);
    if (slot < cat_slots) {
      for (int j = 0; j < dim; ++j) cols->push_back(slot * dim + j);
    } else {
      cols->push_back(cat_slots * dim + (slot - cat_slots));
    }
  }
}

}  // namespace

const Matrix& Scorer::LastOutputs() { return ThreadScratch().outputs; }

void Scorer::Score(const ScoreRequest& request, std::span<const Example> candidates,
                   ScoreResult* result) const {
  const ModelOptions& o = model_.options();
  const Network& net = model_.network();
  const DenseParams& first = model_.params().experts.first;
  Scratch& s = ThreadScratch();
  const InputLayout& layout = model_.layout();
  layout.BuildRow(request.shared, request.shared_dense, model_.embeddings(), &s.shared);
  layout.Build(candidates, model_.embeddings(), InputLayout::Mode::kServe, &s.candidates);
  const Eigen::Index n = static_cast<Eigen::Index>(candidates.size());
  // First expert layer: (x_request W + b) once, plus X_candidate W over
  // the columns candidates touch only.
  UsedColumns(s.candidates, o.categorical_slots, o.embedding_dim, &s.cols);
  const Eigen::Index k = static_cast<Eigen::Index>(s.cols.size());
  s.x_cols.resize(n, k);
  s.w_cols.resize(k, first.w.cols());
  for (Eigen::Index j = 0; j < k; ++j) {
    s.x_cols.col(j) = s.candidates.x.col(s.cols[j]);
    s.w_cols.row(j) = first.w.row(s.cols[j]);
  }
  RowVector shared_pre = s.shared.x * first.w + first.b;
  Matrix& pre = s.cache.experts.first.y;
  pre.resize(n, first.w.cols());
  pre.noalias() = s.x_cols * s.w_cols;
  pre.rowwise() += shared_pre;
  // The gates read the full input rows.
  s.candidates.x.rowwise() += s.shared.x.row(0);
  net.ForwardFromFirst(model_.params(), s.candidates.x, &s.cache);
  Finish(s.cache, request.weights, candidates.size(), result);
}

void Scorer::ScoreExamples(std::span<const Example> examples, ScoreResult* result) const {
  Scratch& s = ThreadScratch();
  model_.layout().Build(examples, model_.embeddings(), InputLayout::Mode::kServe, &s.candidates);
  model_.network().Forward(model_.params(), s.candidates.x, &s.cache);
  Finish(s.cache, {}, examples.size(), result);
}

void Scorer::Finish(const NetworkCache& cache, const std::vector<double>& weights, size_t n,
                    ScoreResult* result) const {
  const std::vector<TaskSpec>& tasks = model_.options().tasks;
  const int num_tasks = static_cast<int>(tasks.size());
  assert(weights.empty() || weights.size() == tasks.size());
  Matrix& outputs = ThreadScratch().outputs;
  outputs.resize(static_cast<Eigen::Index>(n), num_tasks);
  result->num_tasks = num_tasks;
  result->predictions.resize(n * num_tasks);
  result->scores.assign(n, 1.0);
  for (int t = 0; t < num_tasks; ++t) {
    const TaskSpec& task = tasks[t];
    const double w = weights.empty() ? task.score_weight : weights[t];
    outputs.col(t) = model_.network().Output(cache, t).col(0);
    for (size_t i = 0; i < n; ++i) {
      const double pred = ServePrediction(task, outputs(static_cast<Eigen::Index>(i), t));
      result->predictions[i * num_tasks + t] = pred;
      const double base = task.kind == TaskKind::kBinary ? pred : std::max(1 + pred, 0.0);
      if (w != 0) result->scores[i] *= std::pow(base, w);
    }
  }
}

}  // namespace ranker::learner
