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
