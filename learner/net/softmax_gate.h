// The gate of a mixture of experts (Ma et al. 2018): a linear map of the
// input to one logit per expert, then a row-wise softmax. Its rows are the
// mixture weights of the experts for each example.
#pragma once

#include "learner/net/dense_layer.h"

namespace ranker::learner {

// Caller-owned per-batch state, reused across steps.
struct GateCache {
  DenseCache logits;
  Matrix probs;            // [B x num_experts], rows sum to 1
  mutable Matrix dlogits;  // scratch of Backward
};

// Stateless; thread-safe.
class SoftmaxGate {
 public:
  // Returns cache->probs. REQUIRES: x.cols() == p.in().
  const Matrix& Forward(const DenseParams& p, const ConstMatrixRef& x, GateCache* cache) const;
  // ADDS dL/dW, dL/db into *grad; writes dL/dx into *dx (may be nullptr).
  // dprobs is dL/dprobs [B x num_experts]. REQUIRES: Forward() ran.
  void Backward(const DenseParams& p, const GateCache& cache, const ConstMatrixRef& dprobs,
                DenseParams* grad, Matrix* dx) const;

 private:
  DenseLayer linear_{Activation::kIdentity};
};

}  // namespace ranker::learner
