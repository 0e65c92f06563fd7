#include "learner/net/softmax_gate.h"

namespace ranker::learner {

const Matrix& SoftmaxGate::Forward(const DenseParams& p, const ConstMatrixRef& x,
                                   GateCache* cache) const {
  const Matrix& z = linear_.Forward(p, x, &cache->logits);
  // Subtracting the row max keeps exp() finite for any logits.
  cache->probs = (z.colwise() - z.rowwise().maxCoeff()).array().exp().matrix();
  cache->probs.array().colwise() /= cache->probs.rowwise().sum().array();
  return cache->probs;
}

void SoftmaxGate::Backward(const DenseParams& p, const GateCache& cache,
                           const ConstMatrixRef& dprobs, DenseParams* grad, Matrix* dx) const {
  // dz = p * (dp - <dp, p>) row by row: the softmax Jacobian-vector product.
  const auto& pr = cache.probs.array();
  cache.dlogits =
      (pr * (dprobs.array().colwise() - (dprobs.array() * pr).rowwise().sum())).matrix();
  linear_.Backward(p, cache.logits, cache.dlogits, grad, dx);
}

}  // namespace ranker::learner
