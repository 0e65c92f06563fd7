#include "learner/optimizer.h"

#include <algorithm>
#include <cmath>

namespace ranker::learner {

Optimizer::Optimizer(const OptimizerOptions& options) : options_(options) {}

void Optimizer::InitDense(std::span<const TensorView> params) {
  state_.clear();
  for (const TensorView& p : params) {
    if (options_.kind == OptimizerKind::kAdagrad) {
      state_.emplace_back(p.size(), static_cast<Real>(options_.adagrad_initial_accumulator));
    } else {
      state_.emplace_back(2 * p.size(), Real(0));
    }
  }
}

namespace {

using Array = Eigen::Array<Real, Eigen::Dynamic, 1>;
using ArrayMap = Eigen::Map<Array>;
// Eigen's packet math vectorises sqrt and division (a plain loop with
// std::sqrt does not: errno handling keeps it scalar). Chunks small enough
// for L1 let the three statements share one pass over memory.
constexpr size_t kChunk = 512;

}  // namespace

void Optimizer::Adagrad(Real* w, Real* acc, Real* g, size_t n, Real lr) const {
  const Real eps = static_cast<Real>(options_.epsilon);
  for (size_t off = 0; off < n; off += kChunk) {
    const Eigen::Index len = static_cast<Eigen::Index>(std::min(kChunk, n - off));
    ArrayMap W(w + off, len), A(acc + off, len), G(g + off, len);
    A += G.square();
    W -= lr * G / (A.sqrt() + eps);
    G.setZero();
  }
}

void Optimizer::Adam(Real* w, Real* m, Real* v, Real* g, size_t n, Real lr) const {
  const double t = static_cast<double>(step_ == 0 ? 1 : step_);
  const Real b1 = static_cast<Real>(options_.adam_beta1);
  const Real b2 = static_cast<Real>(options_.adam_beta2);
  // Bias corrections folded into the step size and epsilon.
  const double c1 = 1 - std::pow(options_.adam_beta1, t);
  const double c2 = std::sqrt(1 - std::pow(options_.adam_beta2, t));
  const Real step = static_cast<Real>(lr * c2 / c1);
  const Real eps = static_cast<Real>(options_.epsilon * c2);
  for (size_t off = 0; off < n; off += kChunk) {
    const Eigen::Index len = static_cast<Eigen::Index>(std::min(kChunk, n - off));
    ArrayMap W(w + off, len), M(m + off, len), V(v + off, len), G(g + off, len);
    M = b1 * M + (1 - b1) * G;
    V = b2 * V + (1 - b2) * G.square();
    W -= step * M / (V.sqrt() + eps);
    G.setZero();
  }
}

void Optimizer::ApplyDense(std::span<const TensorView> params, std::span<const TensorView> grads) {
  const Real lr = static_cast<Real>(options_.learning_rate);
  for (size_t i = 0; i < params.size(); ++i) {
    const size_t n = params[i].size();
    Real* s = state_[i].data();
    if (options_.kind == OptimizerKind::kAdagrad) {
      Adagrad(params[i].data(), s, grads[i].data(), n, lr);
    } else {
      Adam(params[i].data(), s, s + n, grads[i].data(), n, lr);
    }
  }
}

int Optimizer::RowStateWidth(int dim) const {
  return options_.kind == OptimizerKind::kAdagrad ? dim : 2 * dim;
}

Real Optimizer::RowStateInit() const {
  return options_.kind == OptimizerKind::kAdagrad
             ? static_cast<Real>(options_.adagrad_initial_accumulator)
             : Real(0);
}

void Optimizer::ApplyRow(std::span<Real> row, const Real* grad, int dim) const {
  Real g[256];
  const Real lr = static_cast<Real>(options_.learning_rate * options_.embedding_lr_scale);
  for (int off = 0; off < dim; off += 256) {
    const int n = std::min(dim - off, 256);
    std::copy(grad + off, grad + off + n, g);
    Real* w = row.data() + off;
    Real* s = row.data() + dim + off;
    if (options_.kind == OptimizerKind::kAdagrad) {
      Adagrad(w, s, g, n, lr);
    } else {
      Adam(w, s, s + dim, g, n, lr);
    }
  }
}

void Optimizer::Digest(Digest64* d) const {
  d->UpdateU64(step_);
  for (const std::vector<Real>& s : state_) d->Update(s.data(), sizeof(Real) * s.size());
}

void Optimizer::Serialize(std::string* out) const {
  PutFixed64(out, step_);
  PutFixed64(out, state_.size());
  for (const std::vector<Real>& s : state_) PutArray(out, s.data(), s.size());
}

Status Optimizer::Deserialize(Decoder* in) {
  uint64_t n = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&step_));
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&n));
  if (n != state_.size()) return Status::Corruption("optimizer state: tensor count mismatch");
  for (std::vector<Real>& s : state_) RANKER_RETURN_IF_ERROR(in->GetInto(s.data(), s.size()));
  return Status::OK();
}

}  // namespace ranker::learner
