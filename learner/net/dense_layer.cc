#include "learner/net/dense_layer.h"

#include <cmath>

namespace ranker::learner {

DenseParams DenseParams::Zeros(int in, int out) {
  DenseParams p;
  p.w = Matrix::Zero(in, out);
  p.b = RowVector::Zero(out);
  return p;
}

DenseParams DenseParams::Init(int in, int out, double gain, Rng* rng) {
  DenseParams p = Zeros(in, out);
  const double limit = gain * std::sqrt(6.0 / in);
  Real* w = p.w.data();
  for (Eigen::Index i = 0; i < p.w.size(); ++i) {
    w[i] = static_cast<Real>((2 * rng->Uniform() - 1) * limit);
  }
  return p;
}

void DenseParams::SetZero() {
  w.setZero();
  b.setZero();
}

void DenseParams::AppendTensors(std::vector<TensorView>* out) {
  out->push_back(View(w));
  out->push_back(View(b));
}

const Matrix& DenseLayer::Forward(const DenseParams& p, const ConstMatrixRef& x,
                                  DenseCache* cache) const {
  cache->x = BatchView(x);
  cache->y.resize(x.rows(), p.out());
  cache->y.noalias() = x * p.w;
  Activate(cache, &p.b);
  return cache->y;
}

void DenseLayer::Activate(DenseCache* cache, const RowVector* b) const {
  Matrix& y = cache->y;
  if (b == nullptr) {
    if (act_ == Activation::kRelu) y = y.cwiseMax(Real(0));
  } else if (act_ == Activation::kRelu) {
    y = (y.rowwise() + *b).cwiseMax(Real(0));
  } else {
    y.rowwise() += *b;
  }
}

namespace {

// Batches from this size on compute dL/dW = x^T dz into a column-major
// scratch when the layer narrows (in > out), then add it to the row-major
// gradient. Eigen evaluates a product into a row-major matrix as the
// transposed product, so the GEMM's row panels (48 rows wide with AVX-512)
// would run over the `out` columns, and it would pack x by reading 4 of its
// columns down all the batch rows at a time: for an expert's block of the
// fused first layer (row stride 4 KB) every one of those rows falls in the
// same L1 set. Into a column-major result the panels run over `in` and x's
// rows are read contiguously: 62 -> 44 us for an expert's 128x64 layer at
// batch 256 (the extra add is ~2 us); no gain for widening layers, and a
// loss for small batches.
constexpr Eigen::Index kColMajorGradBatch = 64;

}  // namespace

void DenseLayer::Backward(const DenseParams& p, const DenseCache& cache, const ConstMatrixRef& dy,
                          DenseParams* grad, Matrix* dx, WeightGrad w) const {
  const auto apply = [&](const auto& dz) {
    if (w == WeightGrad::kAccumulate) {
      if (dz.rows() >= kColMajorGradBatch && p.in() > p.out()) {
        cache.dw.noalias() = cache.x.get().transpose() * dz;
        grad->w += cache.dw;
      } else {
        grad->w.noalias() += cache.x.get().transpose() * dz;
      }
    }
    grad->b.noalias() += dz.colwise().sum();
    if (dx != nullptr) {
      dx->resize(dy.rows(), p.in());
      dx->noalias() = dz * p.w.transpose();
    }
  };
  if (act_ == Activation::kRelu) {
    cache.dz.resize(dy.rows(), dy.cols());
    cache.dz.array() = (cache.y.array() > Real(0)).select(dy.array(), Real(0));
    apply(cache.dz);
  } else if (w == WeightGrad::kDeferred) {
    cache.dz = dy;
    apply(cache.dz);
  } else {
    apply(dy);
  }
}

}  // namespace ranker::learner
