#include "learner/optimizer.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <type_traits>

namespace ranker::learner {

namespace {

using Array = Eigen::Array<Real, Eigen::Dynamic, 1>;
using ArrayMap = Eigen::Map<Array>;
// Eigen's packet math vectorises sqrt and division (a plain loop with
// std::sqrt does not: errno handling keeps it scalar). Chunks small enough
// for L1 let the three statements share one pass over memory.
constexpr size_t kChunk = 512;

namespace ei = Eigen::internal;

// Packet types as template arguments drop their vector attributes, which
// GCC reports; the kernels only use them as Eigen does internally.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

// 1 / (sqrt(a) + eps) ~= r * (1 - eps * r), r = 1/sqrt(a) (see below).
template <typename P>
P RsqrtPlusEps(const P& a, const P& eps, const P& one) {
  const P r = ei::prsqrt(a);
  return ei::pmul(r, ei::psub(one, ei::pmul(eps, r)));
}

// The Adagrad step on the packets of type P from index i on; returns where
// it stopped (the first index without a whole packet left).
// Packets whose gradient is all zero are skipped: exact, since g = 0 leaves
// acc and w unchanged, and whole zero rows are common (inactive ReLU
// units, missing inputs). Packets whose accumulators are all >= fast_from
// (see FastFrom) use Eigen's fast reciprocal square root r = 1/sqrt(acc)
// instead of sqrt and a division, the bottleneck of small batches:
// 1 / (sqrt(acc) + eps) = r / (1 + eps*r) = r * (1 - eps*r) up to
// (eps*r)^2 <= 2^-24 relative, so the step is within a few ulp of the
// division.
template <typename P>
size_t AdagradPackets(Real* w, Real* acc, Real* g, size_t i, size_t n, Real lr, Real eps,
                      Real fast_from) {
  constexpr size_t kLanes = ei::unpacket_traits<P>::size;
  const P vlr = ei::pset1<P>(lr), veps = ei::pset1<P>(eps), vfast = ei::pset1<P>(fast_from);
  const P zero = ei::pzero(vlr), all = ei::ptrue(vlr), one = ei::pset1<P>(Real(1));
  for (; i + kLanes <= n; i += kLanes) {
    const P grad = ei::ploadu<P>(g + i);
    if (!ei::predux_any(ei::pandnot(all, ei::pcmp_eq(grad, zero)))) continue;
    const P a = ei::padd(ei::ploadu<P>(acc + i), ei::pmul(grad, grad));
    ei::pstoreu(acc + i, a);
    const P scaled = ei::pmul(vlr, grad);
    const P step = ei::predux_any(ei::pcmp_lt(a, vfast))
                       ? ei::pdiv(scaled, ei::padd(ei::psqrt(a), veps))
                       : ei::pmul(scaled, RsqrtPlusEps(a, veps, one));
    ei::pstoreu(w + i, ei::psub(ei::ploadu<P>(w + i), step));
    ei::pstoreu(g + i, zero);
  }
  return i;
}

// One Adagrad step on n values in ONE pass: acc += g^2,
// w -= lr * g / (sqrt(acc) + eps), g = 0; whole packets, then half and
// quarter packets (rows of 136 leave 8), then scalars.
void AdagradPass(Real* w, Real* acc, Real* g, size_t n, Real lr, Real eps, Real fast_from) {
  using Full = ei::packet_traits<Real>::type;
  using Half = ei::unpacket_traits<Full>::half;
  using Quarter = ei::unpacket_traits<Half>::half;
  size_t i = AdagradPackets<Full>(w, acc, g, 0, n, lr, eps, fast_from);
  if constexpr (!std::is_same_v<Half, Full>) {
    i = AdagradPackets<Half>(w, acc, g, i, n, lr, eps, fast_from);
  }
  if constexpr (!std::is_same_v<Quarter, Half>) {
    i = AdagradPackets<Quarter>(w, acc, g, i, n, lr, eps, fast_from);
  }
  for (; i < n; ++i) {
    if (g[i] == 0) continue;
    acc[i] += g[i] * g[i];
    w[i] -= lr * g[i] / (std::sqrt(acc[i]) + eps);
    g[i] = 0;
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// The accumulator value from which eps * r <= 2^-12 (r = 1/sqrt(acc)), so
// that dropping (eps*r)^2 in RsqrtPlusEps stays below float rounding:
// 1.7e-9 for eps = 1e-8, below any accumulator that starts at the default
// 0.001. Infinite (never) in the double build, where Eigen's rsqrt is less
// accurate than the division.
Real FastFrom(double epsilon) {
  if (!std::is_same_v<Real, float>) return std::numeric_limits<Real>::infinity();
  const double root = 1.01 * epsilon * 4096.0;
  return static_cast<Real>(std::min(std::max(root * root, 1e-30), 1e30));
}

}  // namespace

Optimizer::Optimizer(const OptimizerOptions& options)
    : options_(options), fast_from_(FastFrom(options.epsilon)) {}

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

void Optimizer::Adagrad(Real* w, Real* acc, Real* g, size_t n, Real lr) const {
  AdagradPass(w, acc, g, n, lr, static_cast<Real>(options_.epsilon), fast_from_);
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
  for (size_t i = 0; i < params.size(); ++i) ApplyDenseTensor(i, params[i], grads[i]);
}

void Optimizer::ApplyDenseTensor(size_t i, TensorView param, TensorView grad) {
  const Real lr = static_cast<Real>(options_.learning_rate);
  const size_t n = param.size();
  Real* s = state_[i].data();
  if (options_.kind == OptimizerKind::kAdagrad) {
    Adagrad(param.data(), s, grad.data(), n, lr);
  } else {
    Adam(param.data(), s, s + n, grad.data(), n, lr);
  }
}

namespace {

// Hints the cache to fetch n Reals at p (rows the next iteration updates:
// active rows are scattered, which defeats the hardware prefetcher).
void Prefetch(const Real* p, size_t n) {
  constexpr size_t kLine = 64 / sizeof(Real);
  for (size_t k = 0; k < n; k += kLine) __builtin_prefetch(p + k, 1);
}

}  // namespace

void Optimizer::ApplyAdagradOuter(size_t i, TensorView w, const ConstMatrixRef& left,
                                  const ConstMatrixRef& right) {
  assert(options_.kind == OptimizerKind::kAdagrad);
  const Eigen::Index cols = right.cols();
  assert(w.size() == static_cast<size_t>(left.cols() * cols));
  const Real lr = static_cast<Real>(options_.learning_rate);
  Real* acc = state_[i].data();
  active_rows_.clear();
  for (Eigen::Index r = 0; r < left.cols(); ++r) {
    Eigen::Index b = 0;
    while (b < left.rows() && left(b, r) == 0) ++b;
    if (b < left.rows()) active_rows_.push_back(r);
  }
  const size_t n = static_cast<size_t>(cols);
  for (size_t k = 0; k < active_rows_.size(); ++k) {
    if (k + 1 < active_rows_.size()) {
      const size_t next = static_cast<size_t>(active_rows_[k + 1]) * n;
      Prefetch(w.data() + next, n);
      Prefetch(acc + next, n);
    }
    const Eigen::Index r = active_rows_[k];
    outer_row_.noalias() = left(0, r) * right.row(0);
    for (Eigen::Index b = 1; b < left.rows(); ++b) {
      if (left(b, r) != 0) outer_row_.noalias() += left(b, r) * right.row(b);
    }
    const size_t off = static_cast<size_t>(r) * n;
    Adagrad(w.data() + off, acc + off, outer_row_.data(), n, lr);
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
