// Central-difference gradient checking for the double build of the learner.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "base/random.h"
#include "learner/tensor.h"

namespace ranker::learner::testing {

static_assert(sizeof(Real) == sizeof(double), "gradient checks need the double build");

constexpr double kStep = 1e-6;
constexpr double kRelTol = 1e-6;
// Absolute slack for gradients that are ~0 (cancellation in the difference).
constexpr double kAbsTol = 1e-9;

// Compares analytic[i] with (f(x + h e_i) - f(x - h e_i)) / 2h for every
// element of `x` (perturbed in place and restored). Returns the number of
// elements checked.
inline int CheckGradient(const std::string& what, TensorView x, ConstTensorView analytic,
                         const std::function<double()>& f) {
  EXPECT_EQ(x.size(), analytic.size()) << what;
  int mismatches = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kStep;
    const double up = f();
    x[i] = saved - kStep;
    const double down = f();
    x[i] = saved;
    const double numeric = (up - down) / (2 * kStep);
    const double tol = kRelTol * std::max(std::abs(numeric), std::abs(analytic[i])) + kAbsTol;
    if (std::abs(numeric - analytic[i]) > tol && ++mismatches <= 5) {
      ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic[i] << " numeric " << numeric;
    }
  }
  return static_cast<int>(x.size());
}

inline Matrix RandomMatrix(Eigen::Index rows, Eigen::Index cols, Rng* rng, double scale = 1) {
  Matrix m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = scale * (2 * rng->Uniform() - 1);
  return m;
}

// "base#i" (built by appending: GCC 12 warns falsely on "lit" + string).
inline std::string Named(const char* base, size_t i) {
  std::string s(base);
  s += '#';
  s += std::to_string(i);
  return s;
}

// sum(y .* r): a scalar whose gradient w.r.t. y is r (any upstream gradient).
inline double Project(const Matrix& y, const Matrix& r) { return (y.array() * r.array()).sum(); }

}  // namespace ranker::learner::testing
