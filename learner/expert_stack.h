// The experts of a mixture (or the bottom networks of the gate-less
// architectures): E identical MLPs of ReLU layers over the same input. The
// first layers of all experts are FUSED into one DenseLayer of width E*h0
// (one GEMM X[B x in] * W[in x E*h0] instead of E small ones); expert e owns
// columns [e*h0, (e+1)*h0) of it. Later layers are per-expert MLPs.
#pragma once

#include <vector>

#include "learner/mlp.h"

namespace ranker::learner {

struct ExpertParams {
  DenseParams first;           // [in x E*h0]
  std::vector<MlpParams> rest;  // per expert, layers 2..L (empty when L == 1)

  void AppendTensors(std::vector<TensorView>* out);
  void SetZero();
};

// Caller-owned per-batch state, reused across steps.
struct ExpertCache {
  DenseCache first;
  std::vector<MlpCache> rest;
  Matrix dfirst;  // scratch of Backward: dL/d(first layer output)
  Matrix dx_e;    // scratch of Backward
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

  void Forward(const ExpertParams& p, const ConstMatrixRef& x, ExpertCache* cache) const;
  // The tail of Forward for a caller that wrote the first layer's
  // PRE-activation x*W + b into cache->first.y itself (the scorer's split
  // of request and candidate columns).
  void ForwardFromFirst(const ExpertParams& p, ExpertCache* cache) const;
  // Expert e's output [B x out()]. REQUIRES: Forward ran; valid until the
  // next Forward with `cache`.
  ConstMatrixRef Output(const ExpertCache& cache, int e) const;

  // d_out[e] is dL/d(expert e's output) [B x out()]. ADDS parameter
  // gradients into *grad; writes dL/dx into *dx (may be nullptr).
  void Backward(const ExpertParams& p, ExpertCache* cache, const std::vector<Matrix>& d_out,
                ExpertParams* grad, Matrix* dx) const;

 private:
  void ForwardTail(const ExpertParams& p, ExpertCache* cache) const;

  const int in_;
  const int num_experts_;
  const std::vector<int> hidden_;
  DenseLayer first_{Activation::kRelu};
  Mlp rest_;  // meaningful only when hidden_.size() > 1
};

}  // namespace ranker::learner
