// The optimizers of the learner: Adagrad (the default) and Adam with bias
// correction, over the dense parameter tensors and over embedding rows
// (sparse: only the rows a batch touched are updated, with learning rate
// learning_rate * embedding_lr_scale). Adam on rows is "lazy": a row's
// moments decay only when it is updated, bias-corrected with the global
// step. All optimizer state is model state: serialised and checksummed.
//
// Not thread-safe: owned and used by the single trainer.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/coding.h"
#include "base/hash.h"
#include "learner/options.h"
#include "learner/tensor.h"

namespace ranker::learner {

class Optimizer {
 public:
  // REQUIRES: options.Validate().ok().
  explicit Optimizer(const OptimizerOptions& options);

  // Allocates the dense state for tensors of these sizes (in this order).
  void InitDense(std::span<const TensorView> params);

  // Starts an update: advances the step counter used by Adam's bias
  // correction. Call once per applied batch, before the Apply* calls.
  void BeginStep() { ++step_; }
  uint64_t step() const { return step_; }

  // Updates every params[i] with grads[i], then zeroes grads[i] (so the
  // next Backward can accumulate into them). REQUIRES: same sizes as
  // InitDense.
  void ApplyDense(std::span<const TensorView> params, std::span<const TensorView> grads);
  // The same for tensor i (InitDense order) alone.
  void ApplyDenseTensor(size_t i, TensorView param, TensorView grad);

  // Adagrad on tensor i, a row-major [left.cols() x right.cols()] weight
  // matrix W whose gradient is a sum of outer products over a batch,
  // G = left^T * right (left [B x rows], right [B x cols]: a layer's deltas
  // and inputs, or inputs and deltas), WITHOUT materialising G: rows whose
  // column of `left` is zero (inactive ReLU units) are skipped, and so are
  // zero packets of a row (zero inputs). Equal to ApplyDenseTensor(i, w, G)
  // up to the rounding of G's sum over the batch; cheaper for small B.
  // If left_w is given, also sets *left_w = left * W [B x cols] with W as
  // it was BEFORE the update (the input gradient of a unit-major layer
  // x * W^T, left being its deltas), in the same pass over W's rows.
  // REQUIRES: Adagrad; w.size() == rows * cols; G finite; with left_w,
  // left * W finite and W finite on the rows of active units.
  void ApplyAdagradOuter(size_t i, TensorView w, const ConstMatrixRef& left,
                         const ConstMatrixRef& right, Matrix* left_w = nullptr);

  // Optimizer values stored per embedding row of `dim` weights, and their
  // initial value.
  int RowStateWidth(int dim) const;
  Real RowStateInit() const;
  // Updates one row: row = [weights (dim), state (RowStateWidth(dim))].
  void ApplyRow(std::span<Real> row, const Real* grad, int dim) const;

  void Digest(Digest64* d) const;
  void Serialize(std::string* out) const;
  // REQUIRES: InitDense ran with the same sizes as the serialised one.
  Status Deserialize(Decoder* in);

 private:
  // fast_root: every accumulator of acc is >= fast_from_ (see fast_root_).
  void Adagrad(Real* w, Real* acc, Real* g, size_t n, Real lr, bool fast_root) const;
  void CheckFastRoot();
  void ActiveRows(const ConstMatrixRef& left);
  void Adam(Real* w, Real* m, Real* v, Real* g, size_t n, Real lr) const;

  OptimizerOptions options_;
  // Accumulators from which Adagrad multiplies by rsqrt(acc) instead of
  // dividing by sqrt(acc) + eps (see optimizer.cc).
  Real fast_from_;
  uint64_t step_ = 0;
  // Per dense tensor: Adagrad accumulators, or Adam's m then v.
  std::vector<std::vector<Real>> state_;
  // Per dense tensor: Adagrad whose accumulators are all >= fast_from_, so
  // that every step takes the fast root without testing each packet. Set
  // by InitDense and Deserialize; stays true since accumulators never
  // decrease.
  std::vector<uint8_t> fast_root_;
  // Scratch of ApplyAdagradOuter.
  std::vector<Eigen::Index> active_rows_;
  std::vector<size_t> live_packets_;
  std::vector<const Real*> src_;
  std::vector<Real*> dst_;
};

}  // namespace ranker::learner
