#include "learner/scorer.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

#include "learner/net/loss.h"

namespace ranker::learner {
namespace {

// Candidates are scored in blocks of this many rows, so the first expert
// layer's activations of a block (kBlock x units, 512 KB for the standard
// model) stay in L2 from the first layer's GEMM through the experts' second
// layers; whole 500-candidate activations (2 MB) would stream through L3
// on every pass.
constexpr Eigen::Index kBlock = 128;

// A candidate-side embedding slot with at most one distinct row per this
// many candidates (item categories, creators of a popular slate) is
// multiplied by the first layer once per distinct row, not per candidate.
constexpr int32_t kShareRatio = 2;

// Per-thread scratch: steady request sizes allocate nothing.
struct Scratch {
  BatchInput shared;
  BatchInput candidates;
  NetworkCache cache;
  std::vector<std::pair<int, int>> ranges;  // input columns candidates touch
  // Candidate slots with few distinct rows (see kShareRatio): per slot, its
  // distinct rows, and per candidate use (candidate, row index), in
  // candidate order; products[i] = slots[i].rows * W_slot^T [n x units].
  std::vector<SharedSlot> slots;
  std::vector<Matrix> products;
  std::vector<int32_t> local, count;  // scratch of FindSharedSlots
  std::vector<int32_t> shared_index;  // per categorical slot: its index in `slots`, or -1
  RowVector shared_pre;               // x_request * W^T + b
  Matrix cand_x;                      // candidates' touched columns [N x K]
  Matrix cand_w;                      // W's touched columns [units x K]
  Matrix outputs;                     // [N x num_tasks]
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// A block's activations, per thread: the blocks of one request may run on
// several threads at once (Scorer's WorkerPool), each reading the caller's
// Scratch and writing its own rows of the outputs.
NetworkCache& BlockCache() {
  thread_local NetworkCache cache;
  return cache;
}

// The input columns of the slots marked in slot_used and not shared
// (shared_index[s] >= 0 for categorical slots), as maximal runs [begin, end).
void UsedRanges(const BatchInput& in, int cat_slots, int dim,
                const std::vector<int32_t>& shared_index,
                std::vector<std::pair<int, int>>* ranges) {
  ranges->clear();
  for (size_t s = 0; s < in.slot_used.size(); ++s) {
    if (!in.slot_used[s] || (s < shared_index.size() && shared_index[s] >= 0)) continue;
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

// Packs the column runs of x and w side by side into *x_out and *w_out, so
// the candidate part of the first layer is ONE GEMM of inner size K = the
// number of touched columns.
void GatherColumns(const std::vector<std::pair<int, int>>& ranges, const Matrix& x, const Matrix& w,
                   Matrix* x_out, Matrix* w_out) {
  Eigen::Index k = 0;
  for (const auto& [begin, end] : ranges) k += end - begin;
  x_out->resize(x.rows(), k);
  w_out->resize(w.rows(), k);
  k = 0;
  for (const auto& [begin, end] : ranges) {
    x_out->middleCols(k, end - begin) = x.middleCols(begin, end - begin);
    w_out->middleCols(k, end - begin) = w.middleCols(begin, end - begin);
    k += end - begin;
  }
}

// Copies the task outputs of a forward over rows [row, row + n) into
// outputs [N x num_tasks].
void CollectOutputs(const Network& network, const NetworkCache& cache, Eigen::Index row,
                    Matrix* outputs) {
  for (int t = 0; t < network.num_tasks(); ++t) {
    const Matrix& y = network.Output(cache, t);
    outputs->col(t).segment(row, y.rows()) = y.col(0);
  }
}

// A listwise task's serving probabilities: the softmax of its logits over
// the candidates of the request.
void ListProbabilities(const Matrix& outputs, int t, std::vector<double>* out) {
  out->resize(static_cast<size_t>(outputs.rows()));
  for (Eigen::Index i = 0; i < outputs.rows(); ++i) (*out)[i] = outputs(i, t);
  SoftmaxInPlace(*out);
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
  // over the columns candidates touch only; the slots with few distinct
  // rows once per distinct row.
  FindSharedSlots(s.candidates, o.categorical_slots, o.embedding_dim, kShareRatio, &s.slots,
                  &s.count, &s.shared_index, &s.local);
  UsedRanges(s.candidates, o.categorical_slots, o.embedding_dim, s.shared_index, &s.ranges);
  GatherColumns(s.ranges, s.candidates.x, w, &s.cand_x, &s.cand_w);
  s.products.resize(s.slots.size());
  for (size_t i = 0; i < s.slots.size(); ++i) {
    const SharedSlot& slot = s.slots[i];
    s.products[i].noalias() = slot.rows * w.middleCols(slot.column, slot.rows.cols()).transpose();
  }
  s.shared_pre.noalias() = s.shared.x * w.transpose();
  s.shared_pre += model_.params().experts.first.b;
  // The gates read the full input rows.
  s.candidates.x.rowwise() += s.shared.x.row(0);
  const Eigen::Index n = static_cast<Eigen::Index>(candidates.size());
  s.outputs.resize(n, model_.network().num_tasks());
  // Each block is computed alone (the same products whichever thread runs
  // it), so the scores do not depend on how the blocks were spread.
  const auto block = [&](int b) {
    const Eigen::Index row = b * kBlock;
    const Eigen::Index rows = std::min(kBlock, n - row);
    NetworkCache& cache = BlockCache();
    Matrix& pre = cache.experts.first;
    pre.resize(rows, w.rows());
    pre.rowwise() = s.shared_pre;
    pre.noalias() += s.cand_x.middleRows(row, rows) * s.cand_w.transpose();
    for (size_t i = 0; i < s.slots.size(); ++i) {
      const auto& uses = s.slots[i].uses;  // in candidate order
      auto u = std::lower_bound(uses.begin(), uses.end(), row,
                                [](const auto& use, Eigen::Index r) { return use.first < r; });
      for (; u != uses.end() && u->first < row + rows; ++u) {
        pre.row(u->first - row) += s.products[i].row(u->second);
      }
    }
    model_.network().ForwardFromFirst(model_.params(), s.candidates.x.middleRows(row, rows),
                                      &cache);
    CollectOutputs(model_.network(), cache, row, &s.outputs);
  };
  const int blocks = static_cast<int>((n + kBlock - 1) / kBlock);
  if (pool_ != nullptr) {
    pool_->ParallelFor(blocks, block);
  } else {
    for (int b = 0; b < blocks; ++b) block(b);
  }
  Finish(s.outputs, request.weights, result);
}

void Scorer::ScoreExamples(std::span<const Example> examples, ScoreResult* result) const {
  Scratch& s = ThreadScratch();
  model_.layout().Build(examples, model_.embeddings(), InputLayout::Mode::kServe, &s.candidates);
  model_.network().Forward(model_.params(), s.candidates.x, &s.cache);
  s.outputs.resize(static_cast<Eigen::Index>(examples.size()), model_.network().num_tasks());
  CollectOutputs(model_.network(), s.cache, 0, &s.outputs);
  Finish(s.outputs, {}, result);
}

void Scorer::Finish(const Matrix& outputs, const std::vector<double>& weights,
                    ScoreResult* result) const {
  const std::vector<TaskSpec>& tasks = model_.options().tasks;
  const int num_tasks = static_cast<int>(tasks.size());
  assert(weights.empty() || weights.size() == tasks.size());
  const size_t n = static_cast<size_t>(outputs.rows());
  result->num_tasks = num_tasks;
  result->predictions.resize(n * num_tasks);
  result->scores.assign(n, 1.0);
  thread_local std::vector<double> list_probs;
  for (int t = 0; t < num_tasks; ++t) {
    const TaskSpec& task = tasks[t];
    const double w = weights.empty() ? task.score_weight : weights[t];
    const bool listwise = task.loss == ListLoss::kListwise;
    if (listwise) ListProbabilities(outputs, t, &list_probs);
    for (size_t i = 0; i < n; ++i) {
      const double pred = listwise
                              ? list_probs[i]
                              : ServePrediction(task, outputs(static_cast<Eigen::Index>(i), t));
      result->predictions[i * num_tasks + t] = pred;
      const double base = task.kind == TaskKind::kBinary ? pred : std::max(1 + pred, 0.0);
      if (w == 1) {
        result->scores[i] *= base;
      } else if (w != 0) {
        result->scores[i] *= std::pow(base, w);
      }
    }
  }
}

}  // namespace ranker::learner
