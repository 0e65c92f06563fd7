// The fully connected layer y = act(x * W + b) over a row-major batch, the
// building block of experts, gates and towers.
#pragma once

#include <vector>

#include "base/random.h"
#include "learner/tensor.h"

namespace ranker::learner {

enum class Activation { kIdentity, kRelu };

// Parameters of one layer; gradients use the same struct.
struct DenseParams {
  Matrix w;     // [in x out]
  RowVector b;  // [1 x out]

  // Zero-filled parameters of the given shape.
  static DenseParams Zeros(int in, int out);
  // He-uniform weights U(-sqrt(6/in), +sqrt(6/in)) scaled by `gain`, zero
  // bias. Draws in*out values from `rng` in row-major order.
  static DenseParams Init(int in, int out, double gain, Rng* rng);
  int in() const { return static_cast<int>(w.rows()); }
  int out() const { return static_cast<int>(w.cols()); }
  void SetZero();
  // Appends views of w then b to *out (the order of optimizer state,
  // checksums and serialisation).
  void AppendTensors(std::vector<TensorView>* out);
};

// What a Backward does with the gradient of a weight matrix W.
enum class WeightGrad {
  kAccumulate,  // ADD it into the gradient struct, like every other tensor
  // Leave it implicit as a sum of outer products over the batch (x^T dz
  // for a DenseLayer), for an optimizer that applies it without
  // materialising it (Optimizer::ApplyAdagradOuter); the gradient struct's
  // W is not touched. Biases are accumulated either way.
  kDeferred,
};

// A column-major matrix: scratch for products whose GEMM runs faster into a
// column-major result (see DenseLayer::Backward).
using ColMatrix = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;

// Per-batch state of one layer: caller-owned, reused across steps (sized on
// first use and on batch-size changes only, so steady-state steps do not
// allocate).
struct DenseCache {
  BatchView x;  // the input of Forward (borrowed: see Forward)
  Matrix y;     // the output of Forward
  // dL/d(pre-activation), set by Backward for ReLU layers and for
  // WeightGrad::kDeferred (then dL/dW = x^T dz).
  mutable Matrix dz;
  mutable ColMatrix dw;  // scratch of Backward: x^T dz of large batches
};

// Holds no tensors: parameters, gradients and activations are caller-owned,
// so one layer serves the trainer, the scorers and the gradient checks.
// Thread-safe: const and stateless.
class DenseLayer {
 public:
  explicit DenseLayer(Activation act) : act_(act) {}
  Activation activation() const { return act_; }

  // Returns cache->y. REQUIRES: x.cols() == p.in(); x is caller-owned
  // storage (a Matrix or a block of one) that stays unchanged until
  // Backward: the cache keeps a view of it, not a copy.
  const Matrix& Forward(const DenseParams& p, const ConstMatrixRef& x, DenseCache* cache) const;
  // Applies the activation to a pre-activation already in cache->y (for
  // callers that computed x * W + b themselves, e.g. the scorer's split
  // first layer). cache->x is left untouched.
  // Adds the bias (when `b` is given) and applies the activation in one
  // pass over cache->y.
  void Activate(DenseCache* cache, const RowVector* b = nullptr) const;
  // ADDS dL/dW, dL/db into *grad; writes dL/dx into *dx (may be nullptr).
  // REQUIRES: Forward() ran on this batch with `cache`; dy is [B x out].
  void Backward(const DenseParams& p, const DenseCache& cache, const ConstMatrixRef& dy,
                DenseParams* grad, Matrix* dx, WeightGrad w = WeightGrad::kAccumulate) const;

 private:
  const Activation act_;
};

}  // namespace ranker::learner
