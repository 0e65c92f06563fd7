// A stack of DenseLayers: ReLU after every hidden layer, and after the last
// one too when `relu_last` (expert bodies) or not (towers, whose last layer
// is a linear output).
#pragma once

#include <vector>

#include "learner/net/dense_layer.h"

namespace ranker::learner {

using MlpParams = std::vector<DenseParams>;

// Caller-owned per-batch state, reused across steps.
struct MlpCache {
  std::vector<DenseCache> layers;
  std::vector<Matrix> dx;  // scratch of Backward
};

// Stateless; thread-safe.
class Mlp {
 public:
  // sizes = {in, h1, ..., out}. REQUIRES: sizes.size() >= 2.
  Mlp(std::vector<int> sizes, bool relu_last);

  int in() const { return sizes_.front(); }
  int out() const { return sizes_.back(); }
  int num_layers() const { return static_cast<int>(sizes_.size()) - 1; }
  // He-uniform weights; the last layer scaled by `last_gain`.
  MlpParams Init(Rng* rng, double last_gain = 1.0) const;
  MlpParams Zeros() const;

  // Returns the output [B x out()], held in *cache.
  const Matrix& Forward(const MlpParams& p, const ConstMatrixRef& x, MlpCache* cache) const;
  // ADDS parameter gradients into *grad (weights as `w` says); writes
  // dL/dx into *dx (may be nullptr). REQUIRES: Forward() ran with `cache`.
  void Backward(const MlpParams& p, MlpCache* cache, const ConstMatrixRef& dy, MlpParams* grad,
                Matrix* dx, WeightGrad w = WeightGrad::kAccumulate) const;

 private:
  const DenseLayer& LayerAt(int i) const { return i + 1 < num_layers() ? hidden_ : last_; }
  std::vector<int> sizes_;
  DenseLayer hidden_{Activation::kRelu};
  DenseLayer last_;
};

void AppendTensors(MlpParams* p, std::vector<TensorView>* out);
void SetZero(MlpParams* p);

}  // namespace ranker::learner
