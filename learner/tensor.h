// The numeric types of the learner. `Real` is float in the service and
// double in the gradient-check build (RANKER_DOUBLE, target
// ranker_learner_f64), so the same sources serve both. Matrices are
// row-major with one example per row: a batch is a [B x width] Matrix.
#pragma once

#include <cstddef>
#include <span>

// GCC 12 reports false -Wmaybe-uninitialized inside its AVX-512 intrinsics
// headers when Eigen is built with -march=native (GCC PR 105593); the
// diagnostic's location is the intrinsics header, so silencing it around
// this include covers every use.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
#include <Eigen/Core>

namespace ranker::learner {

#ifdef RANKER_DOUBLE
using Real = double;
#else
using Real = float;
#endif

using Matrix = Eigen::Matrix<Real, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using Vector = Eigen::Matrix<Real, Eigen::Dynamic, 1>;
using RowVector = Eigen::Matrix<Real, 1, Eigen::Dynamic>;
// A read-only view of a batch (a whole Matrix or a block of one).
using ConstMatrixRef = Eigen::Ref<const Matrix>;

// A borrowed, re-pointable view of a batch (a whole Matrix or a block of
// one): what a layer cache keeps of its Forward input for Backward, instead
// of a copy. The viewed matrix must outlive the view's use and must not be
// resized meanwhile.
class BatchView {
 public:
  using Map = Eigen::Map<const Matrix, 0, Eigen::OuterStride<>>;
  BatchView() = default;
  // REQUIRES: m views caller-owned storage (a Matrix or a block of one),
  // not a temporary the Ref had to materialise.
  explicit BatchView(const ConstMatrixRef& m)
      : data_(m.data()), rows_(m.rows()), cols_(m.cols()), stride_(m.outerStride()) {}
  Map get() const { return Map(data_, rows_, cols_, Eigen::OuterStride<>(stride_)); }
  Eigen::Index rows() const { return rows_; }
  Eigen::Index cols() const { return cols_; }

 private:
  const Real* data_ = nullptr;
  Eigen::Index rows_ = 0;
  Eigen::Index cols_ = 0;
  Eigen::Index stride_ = 0;
};

// A flat view of one parameter tensor: what the optimizer, the checksum and
// serialisation iterate over. Borrowed: valid while the owning struct lives
// and is not resized.
using TensorView = std::span<Real>;
using ConstTensorView = std::span<const Real>;

template <typename Derived>
TensorView View(Eigen::PlainObjectBase<Derived>& m) {
  return TensorView(m.data(), static_cast<size_t>(m.size()));
}

}  // namespace ranker::learner
