#include "learner/scorer.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

#include "learner/loss.h"

namespace ranker::learner {
namespace {

// Per-thread scratch: steady request sizes allocate nothing.
struct Scratch {
  BatchInput shared;
  BatchInput candidates;
  NetworkCache cache;
  std::vector<std::pair<int, int>> ranges;  // input columns candidates touch
  RowVector shared_pre;                     // x_request * W^T + b
  Matrix outputs;                           // [N x num_tasks]
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// The input columns of the slots marked in slot_used, as maximal runs
// [begin, end).
void UsedRanges(const BatchInput& in, int cat_slots, int dim,
                std::vector<std::pair<int, int>>* ranges) {
  ranges->clear();
  for (size_t s = 0; s < in.slot_used.size(); ++s) {
    if (!in.slot_used[s]) continue;
    const int slot = static_cast<int>(s);
    const int begin = slot < cat_slots ? slot * dim : cat_slots * dim + (slot - cat_slots);
    const int end = slot < cat_slots ? begin + dim : begin + 1;
    if (!ranges->empty() && ranges->back().second == begin) {
      ranges->back().second = end;
    } else {
      ranges->emplace_back(begin, end);
    }
  }
}

}  // namespace

const Matrix& Scorer::LastOutputs() { return ThreadScratch().outputs; }

void Scorer::Score(const ScoreRequest& request, std::span<const Example> candidates,
                   ScoreResult* result) const {
  const ModelOptions& o = model_.options();
  const Matrix& w = model_.params().experts.first.w;  // unit-major [units x in]
  Scratch& s = ThreadScratch();
  const InputLayout& layout = model_.layout();
  layout.BuildRow(request.shared, request.shared_dense, model_.embeddings(), &s.shared);
  layout.Build(candidates, model_.embeddings(), InputLayout::Mode::kServe, &s.candidates);
  // First expert layer: (x_request W^T + b) once, plus X_candidate W^T
  // over the column runs candidates touch only.
  UsedRanges(s.candidates, o.categorical_slots, o.embedding_dim, &s.ranges);
  s.shared_pre.noalias() = s.shared.x * w.transpose();
  s.shared_pre += model_.params().experts.first.b;
  Matrix& pre = s.cache.experts.first;
  pre.resize(static_cast<Eigen::Index>(candidates.size()), w.rows());
  for (Eigen::Index i = 0; i < pre.rows(); ++i) pre.row(i) = s.shared_pre;
  for (const auto& [begin, end] : s.ranges) {
    pre.noalias() += s.candidates.x.middleCols(begin, end - begin) *
                     w.middleCols(begin, end - begin).transpose();
  }
  // The gates read the full input rows.
  s.candidates.x.rowwise() += s.shared.x.row(0);
  model_.network().ForwardFromFirst(model_.params(), s.candidates.x, &s.cache);
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
