// The experts of a mixture (or the bottom networks of the gate-less
// architectures): E identical MLPs of ReLU layers over the same input. The
// first layers of all experts are FUSED into one layer of width E*h0 (one
// GEMM over the batch instead of E small ones); expert e owns units
// [e*h0, (e+1)*h0) of it. Later layers are per-expert MLPs.
//
// The fused first layer is stored UNIT-MAJOR: first.w is [E*h0 x in], row
// u holding the input weights of unit u (the transpose of DenseParams'
// usual [in x out]). The units a small batch leaves inactive (ReLU at 0)
// are then whole rows that Backward's dL/dx and a sparse optimizer update
// skip without touching their memory.
#pragma once

#include <limits>
#include <utility>
#include <vector>

#include "learner/net/mlp.h"

namespace ranker::learner {

struct ExpertParams {
  DenseParams first;            // UNIT-MAJOR: w [E*h0 x in], b [1 x E*h0]
  std::vector<MlpParams> rest;  // per expert, layers 2..L (empty when L == 1)

  void AppendTensors(std::vector<TensorView>* out);
  void SetZero();
};

// An input batch X given in factored form, for batches in which many rows
// repeat a value of some input slot (a country, a device, a category):
// X's columns [column, column + width) of a SHARED slot are, in every
// example, the sum of that example's rows of the slot (sum pooling), and
// the first layer multiplies each distinct row by its weights ONCE per
// batch instead of once per example (and likewise aggregates the weight
// gradient per distinct row). Exact up to float rounding.
struct SharedSlot {
  int column = 0;  // first input column; the width is rows.cols()
  Matrix rows;     // [n x width]: the distinct rows occurring in the slot
  // (example, row index): rows[row] is part of x[example, slot columns].
  std::vector<std::pair<int32_t, int32_t>> uses;
  std::vector<int32_t> ids;  // the caller's id of each row (unused here)
};
struct FactoredInput {
  std::vector<SharedSlot> slots;
  // Every input column outside the shared slots, as runs [begin, end).
  std::vector<std::pair<int, int>> rest;
  // The input columns from this one on need no dL/dx (the dense features:
  // no embedding row receives it); Backward leaves them 0 in dx.
  int input_grad_columns = std::numeric_limits<int>::max();
  std::vector<int32_t> scratch, counts, index;  // the builder's (unused here)
};

// Caller-owned per-batch state, reused across steps.
struct ExpertCache {
  BatchView x;  // the Forward input (borrowed, see Forward)
  // The first layer's output [B x E*h0]; the scorer writes its
  // pre-activation here itself (ForwardFromFirst).
  Matrix first;
  std::vector<MlpCache> rest;
  // dL/d(first layer pre-activation) [B x E*h0], set by Backward.
  Matrix dfirst;
  Matrix dx_e;  // scratch of Backward
  // The factored form of x given to Forward, or nullptr (borrowed: see
  // Forward).
  const FactoredInput* factored = nullptr;
  // Per shared slot: dL/d(its rows) [n x width] through the experts, set by
  // Backward with a FactoredInput and a dx.
  std::vector<Matrix> d_rows;
  // Scratch of the factored first layer: per shared slot, the products of
  // its rows [n x units] and its next use to add (see FactoredFirst).
  std::vector<Matrix> products;
  std::vector<size_t> next_use;
  Matrix x_rest, w_rest, d_sum, dx_rest;
  ColMatrix dw_rest, dw_slot;  // [units + padding x K or width], see FactoredBackward
  std::vector<std::pair<int, int>> grad_runs;
  // The sum of the squares of the first layer's weights at Forward, for
  // FirstInputGradBound: computed in the same pass as the product for
  // small batches, +inf otherwise (and inf or NaN if a weight is not
  // finite).
  double first_w_norm2 = 0;
};

// One weight gradient left implicit by Backward(WeightGrad::kDeferred):
// G = left^T * right, summed over the batch rows of both.
struct OuterGrad {
  BatchView left;   // [B x W.rows()]
  BatchView right;  // [B x W.cols()]
};

// Stateless; thread-safe.
class ExpertStack {
 public:
  // hidden = {h0, ..., h_{L-1}}: the layer widths of ONE expert.
  // REQUIRES: num_experts >= 1, hidden non-empty.
  ExpertStack(int in, int num_experts, std::vector<int> hidden);

  int in() const { return in_; }
  int num_experts() const { return num_experts_; }
  int first_width() const { return hidden_.front(); }
  int out() const { return hidden_.back(); }

  ExpertParams Init(Rng* rng) const;
  ExpertParams Zeros() const;

  // REQUIRES: x is caller-owned storage unchanged until Backward (the
  // cache keeps a view of it). `factored` (may be nullptr or have no
  // slots) describes x (see FactoredInput) and must likewise outlive
  // Backward.
  void Forward(const ExpertParams& p, const ConstMatrixRef& x, ExpertCache* cache,
               const FactoredInput* factored = nullptr) const;
  // The tail of Forward for a caller that wrote the first layer's
  // PRE-activation x*W^T + b into cache->first itself (the scorer's split
  // of request and candidate columns). Not for Backward.
  void ForwardFromFirst(const ExpertParams& p, ExpertCache* cache) const;
  // Expert e's output [B x out()]. REQUIRES: Forward ran; valid until the
  // next Forward with `cache`.
  ConstMatrixRef Output(const ExpertCache& cache, int e) const;

  // d_out[e] is dL/d(expert e's output) [B x out()]. ADDS parameter
  // gradients into *grad (every weight matrix as `w` says); writes dL/dx
  // into *dx (may be nullptr). After a factored Forward, dx's columns of
  // the shared slots are left 0 (their gradient, per distinct row, is in
  // cache->d_rows), and so are the columns from
  // FactoredInput::input_grad_columns on. REQUIRES: w == kAccumulate after
  // a factored Forward.
  // With kDeferred, dx is left 0: the first layer's input gradient
  // cache->dfirst * first.w is deferred with its weight gradient, for the
  // optimizer to compute in its pass over first.w
  // (Optimizer::ApplyAdagradOuter's left_w) or for AddFirstInputGrad.
  void Backward(const ExpertParams& p, ExpertCache* cache, const std::vector<Matrix>& d_out,
                ExpertParams* grad, Matrix* dx, WeightGrad w = WeightGrad::kAccumulate) const;
  // After Backward(kDeferred): a bound on the absolute value of every
  // element of the deferred input gradient dfirst * first.w and of every
  // partial sum of it (over units in any order), from the norms of the
  // deltas and of the weights (Cauchy-Schwarz); +inf when Forward did not
  // compute the weights' norm or when it is not finite.
  double FirstInputGradBound(const ExpertCache& cache) const;
  // After Backward(kDeferred) of at most 4 examples: dx += dfirst * first.w.
  void AddFirstInputGrad(const ExpertParams& p, const ExpertCache& cache, Matrix* dx) const;
  // After Backward(kDeferred): the gradient of every weight matrix, in
  // ExpertParams::AppendTensors order (where the weights are the tensors
  // at even positions: each is followed by its bias). Views into `cache`.
  void DeferredGrads(const ExpertCache& cache, std::vector<OuterGrad>* out) const;

 private:
  void ForwardTail(const ExpertParams& p, ExpertCache* cache) const;
  void FirstDelta(const ExpertParams& p, ExpertCache* cache, const std::vector<Matrix>& d_out,
                  ExpertParams* grad, WeightGrad w) const;
  void FirstInputGrad(const ExpertParams& p, const Matrix& dz, Matrix* dx) const;
  static void AddSparseInputGrad(const Matrix& w, const Matrix& dz, Matrix* dx);
  void FactoredFirst(const ExpertParams& p, const ConstMatrixRef& x, ExpertCache* cache) const;
  void FactoredBackward(const ExpertParams& p, ExpertCache* cache, ExpertParams* grad,
                        Matrix* dx) const;

  const int in_;
  const int num_experts_;
  const std::vector<int> hidden_;
  Mlp rest_;  // meaningful only when hidden_.size() > 1
};

}  // namespace ranker::learner
