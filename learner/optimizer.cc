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

// The constants of the Adagrad step in packets of type P.
template <typename P>
struct AdagradConstants {
  AdagradConstants(Real lr, Real eps, Real fast_from)
      : lr(ei::pset1<P>(lr)),
        eps(ei::pset1<P>(eps)),
        fast(ei::pset1<P>(fast_from)),
        lr_eps(ei::pset1<P>(lr * eps)),
        half_lr(ei::pset1<P>(lr / 2)),
        three_half_lr(ei::pset1<P>(lr * 3 / 2)),
        max(ei::pset1<P>(std::numeric_limits<Real>::max())) {}
  P lr, eps, fast;
  P lr_eps, half_lr, three_half_lr, max;  // for FastRate
};

// lr / (sqrt(a) + eps) for accumulators a >= fast_from (see FastFrom),
// from Eigen's fast reciprocal square root r = 1/sqrt(a) instead of sqrt
// and a division, the bottleneck of small batches:
// lr / (sqrt(a) + eps) = lr * r / (1 + eps*r) = lr * r * (1 - eps*r) up to
// (eps*r)^2 <= 2^-24 relative, so within a few ulp of the division.
template <typename P>
P FastRate(const P& a, const AdagradConstants<P>& c) {
  const P r = ei::prsqrt(a);
  return ei::pmul(r, ei::psub(c.lr, ei::pmul(c.lr_eps, r)));
}

#if defined(EIGEN_VECTORIZE_AVX512) && !defined(RANKER_DOUBLE)
// The same in fewer operations (small-batch updates are bound by them):
// Eigen's prsqrt refines the 14-bit estimate r0 by one Newton step,
// r = r0 * (1.5 - 0.5 * a * r0^2); folding that step, lr and eps into one
// factor gives lr * r0 * (1.5 - 0.5 * a * r0^2 - eps * r0), which differs
// from lr * r * (1 - eps*r) by eps*r * 2^-13 <= 2^-25 relative. prsqrt's
// masks for 0, denormals and inf are not needed: a >= fast_from is normal,
// and clamping to the largest float keeps the step of an accumulator that
// overflowed finite (and negligible).
template <>
ei::Packet16f FastRate(const ei::Packet16f& a, const AdagradConstants<ei::Packet16f>& c) {
  const __m512 finite = _mm512_min_ps(a, c.max);
  const __m512 r0 = _mm512_rsqrt14_ps(finite);
  const __m512 ar2 = _mm512_mul_ps(_mm512_mul_ps(finite, r0), r0);
  const __m512 factor =
      _mm512_fnmadd_ps(ar2, c.half_lr, _mm512_fnmadd_ps(c.lr_eps, r0, c.three_half_lr));
  return _mm512_mul_ps(r0, factor);
}
#endif

template <typename P>
bool AllZero(const P& g) {
  return !ei::predux_any(ei::pandnot(ei::ptrue(g), ei::pcmp_eq(g, ei::pzero(g))));
}

// How an Adagrad step computes 1 / (sqrt(acc) + eps).
enum class Root {
  kChoose,  // per packet: the fast form if all its accumulators allow it
  kFast,    // the fast form: every accumulator is known to be >= fast_from
};

// The Adagrad step on the packet at w (whose value is `weights`), acc with
// gradient `grad`: acc += g^2, w -= g * lr / (sqrt(acc) + eps), by FastRate
// where the accumulators allow it.
template <Root kRoot, typename P>
void AdagradStep(Real* w, Real* acc, const P& weights, const P& grad,
                 const AdagradConstants<P>& c) {
  const P a = ei::padd(ei::ploadu<P>(acc), ei::pmul(grad, grad));
  ei::pstoreu(acc, a);
  const bool fast = kRoot == Root::kFast || !ei::predux_any(ei::pcmp_lt(a, c.fast));
  const P rate = fast ? FastRate(a, c) : ei::pdiv(c.lr, ei::padd(ei::psqrt(a), c.eps));
  ei::pstoreu(w, ei::psub(weights, ei::pmul(grad, rate)));
}

// The Adagrad step on the packets of type P from index i on; returns where
// it stopped (the first index without a whole packet left).
// Packets whose gradient is all zero are skipped: exact, since g = 0 leaves
// acc and w unchanged, and whole zero rows are common (inactive ReLU
// units, missing inputs).
template <Root kRoot, typename P>
size_t AdagradPackets(Real* w, Real* acc, Real* g, size_t i, size_t n,
                      const AdagradConstants<P>& c) {
  constexpr size_t kLanes = ei::unpacket_traits<P>::size;
  for (; i + kLanes <= n; i += kLanes) {
    const P grad = ei::ploadu<P>(g + i);
    if (AllZero(grad)) continue;
    AdagradStep<kRoot>(w + i, acc + i, ei::ploadu<P>(w + i), grad, c);
    ei::pstoreu(g + i, ei::pzero(grad));
  }
  return i;
}

using Full = ei::packet_traits<Real>::type;
using Half = ei::unpacket_traits<Full>::half;
using Quarter = ei::unpacket_traits<Half>::half;

// The constants of the Adagrad step in each packet size.
struct AdagradParams {
  AdagradParams(Real lr, Real eps, Real fast_from)
      : lr(lr),
        eps(eps),
        full(lr, eps, fast_from),
        half(lr, eps, fast_from),
        quarter(lr, eps, fast_from) {}
  Real lr, eps;
  AdagradConstants<Full> full;
  AdagradConstants<Half> half;
  AdagradConstants<Quarter> quarter;
};

// One Adagrad step on n values in ONE pass: acc += g^2,
// w -= lr * g / (sqrt(acc) + eps), g = 0; whole packets, then half and
// quarter packets (rows of 136 leave 8), then scalars.
template <Root kRoot>
void AdagradPass(Real* w, Real* acc, Real* g, size_t n, const AdagradParams& c) {
  size_t i = AdagradPackets<kRoot>(w, acc, g, 0, n, c.full);
  if constexpr (!std::is_same_v<Half, Full>) i = AdagradPackets<kRoot>(w, acc, g, i, n, c.half);
  if constexpr (!std::is_same_v<Quarter, Half>) {
    i = AdagradPackets<kRoot>(w, acc, g, i, n, c.quarter);
  }
  for (; i < n; ++i) {
    if (g[i] == 0) continue;
    acc[i] += g[i] * g[i];
    w[i] -= c.lr * g[i] / (std::sqrt(acc[i]) + c.eps);
    g[i] = 0;
  }
}

// Row r of G = left^T * right (see Optimizer::ApplyAdagradOuter): the sum
// over the batch rows b of left(b, r) * right.row(b), and where to add
// left(b, r) * W.row(r) for the input gradient left * W, if wanted.
struct OuterRow {
  const Real* coef;  // left(0, r); left(b, r) is coef[b * coef_stride]
  Eigen::Index coef_stride;
  const Real* const* src;  // right.row(b)
  Real* const* dst;        // (left * W).row(b)
  Eigen::Index batch;

  Real Coef(Eigen::Index b) const { return coef[b * coef_stride]; }
};

// The batch size of a row: kBatch when it is a compile-time constant (> 0:
// the loops over the batch unroll), else row.batch.
template <int kBatch>
Eigen::Index BatchOf(const OuterRow& row) {
  return kBatch > 0 ? kBatch : row.batch;
}

// The packets of type P at column j of a row of G (summed in batch order,
// as a materialised row would be) and, with kInputGrad, of the input
// gradient: dst[b] += left(b, r) * W's packet (whose value is `weights`).
// Terms with left(b, r) == 0 add nothing (W is finite: see
// ApplyAdagradOuter).
template <bool kInputGrad, int kBatch, typename P>
P OuterPacket(const OuterRow& row, size_t j, const P& weights) {
  P g = ei::pzero(weights);
  for (Eigen::Index b = 0; b < BatchOf<kBatch>(row); ++b) {
    const P coef = ei::pset1<P>(row.Coef(b));
    g = ei::padd(g, ei::pmul(coef, ei::ploadu<P>(row.src[b] + j)));
    if constexpr (kInputGrad) {
      ei::pstoreu(row.dst[b] + j, ei::padd(ei::ploadu<P>(row.dst[b] + j), ei::pmul(coef, weights)));
    }
  }
  return g;
}

// The Adagrad step (and input gradient) on the packet of type P at
// column j of a row.
template <Root kRoot, bool kInputGrad, int kBatch, typename P>
void OuterStep(Real* w, Real* acc, const OuterRow& row, size_t j, const AdagradConstants<P>& c) {
  const P weights = ei::ploadu<P>(w + j);
  AdagradStep<kRoot>(w + j, acc + j, weights, OuterPacket<kInputGrad, kBatch>(row, j, weights), c);
}

// OuterStep on the packets of type P of a row from column j on; returns
// where it stopped. Zero gradients need no test: the step leaves their
// weights and accumulators unchanged.
template <Root kRoot, bool kInputGrad, int kBatch, typename P>
size_t OuterPackets(Real* w, Real* acc, const OuterRow& row, size_t j, size_t n,
                    const AdagradConstants<P>& c) {
  constexpr size_t kLanes = ei::unpacket_traits<P>::size;
  for (; j + kLanes <= n; j += kLanes) OuterStep<kRoot, kInputGrad, kBatch>(w, acc, row, j, c);
  return j;
}

// Adagrad on a row of n columns of G = left^T * right WITHOUT
// materialising it: each packet is summed in registers and applied at
// once, so a row costs one pass over its weights and accumulators (which
// also serves the input gradient) and no other stores. Whole packets are
// visited only at the columns `live` lists (elsewhere right, G and, for
// the input gradient, the columns of ... ); the tail takes half and
// quarter packets (rows of 136 leave 8), then scalars.
template <Root kRoot, bool kInputGrad, int kBatch>
void OuterAdagradRow(Real* w, Real* acc, const OuterRow& row, const std::vector<size_t>& live,
                     size_t n, const AdagradParams& c) {
  for (size_t j : live) OuterStep<kRoot, kInputGrad, kBatch>(w, acc, row, j, c.full);
  size_t j = n - n % ei::unpacket_traits<Full>::size;
  if constexpr (!std::is_same_v<Half, Full>) {
    j = OuterPackets<kRoot, kInputGrad, kBatch>(w, acc, row, j, n, c.half);
  }
  if constexpr (!std::is_same_v<Quarter, Half>) {
    j = OuterPackets<kRoot, kInputGrad, kBatch>(w, acc, row, j, n, c.quarter);
  }
  for (; j < n; ++j) {
    Real g = 0;
    for (Eigen::Index b = 0; b < BatchOf<kBatch>(row); ++b) {
      g += row.Coef(b) * row.src[b][j];
      if constexpr (kInputGrad) row.dst[b][j] += row.Coef(b) * w[j];
    }
    if (g == 0) continue;
    acc[j] += g * g;
    w[j] -= c.lr * g / (std::sqrt(acc[j]) + c.eps);
  }
}

// The first columns of the whole packets of `right` with a nonzero in some
// row, or of all of them.
void LivePackets(const ConstMatrixRef& right, bool all, std::vector<size_t>* live) {
  constexpr size_t kLanes = ei::unpacket_traits<Full>::size;
  live->clear();
  const size_t n = static_cast<size_t>(right.cols());
  for (size_t j = 0; j + kLanes <= n; j += kLanes) {
    for (Eigen::Index b = 0; b < right.rows(); ++b) {
      if (all || !AllZero(ei::ploadu<Full>(right.row(b).data() + j))) {
        live->push_back(j);
        break;
      }
    }
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// The accumulator value from which eps * r <= 2^-12 (r = 1/sqrt(acc)), so
// that dropping (eps*r)^2 in FastRate stays below float rounding:
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
  CheckFastRoot();
}

void Optimizer::CheckFastRoot() {
  fast_root_.clear();
  for (const std::vector<Real>& s : state_) {
    fast_root_.push_back(options_.kind == OptimizerKind::kAdagrad &&
                         std::all_of(s.begin(), s.end(), [&](Real a) { return a >= fast_from_; }));
  }
}

void Optimizer::Adagrad(Real* w, Real* acc, Real* g, size_t n, Real lr, bool fast_root) const {
  const AdagradParams c(lr, static_cast<Real>(options_.epsilon), fast_from_);
  if (fast_root) {
    AdagradPass<Root::kFast>(w, acc, g, n, c);
  } else {
    AdagradPass<Root::kChoose>(w, acc, g, n, c);
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
  for (size_t i = 0; i < params.size(); ++i) ApplyDenseTensor(i, params[i], grads[i]);
}

void Optimizer::ApplyDenseTensor(size_t i, TensorView param, TensorView grad) {
  const Real lr = static_cast<Real>(options_.learning_rate);
  const size_t n = param.size();
  Real* s = state_[i].data();
  if (options_.kind == OptimizerKind::kAdagrad) {
    Adagrad(param.data(), s, grad.data(), n, lr, fast_root_[i]);
  } else {
    Adam(param.data(), s, s + n, grad.data(), n, lr);
  }
}

namespace {

// Hints the cache to fetch n Reals at p (rows a later iteration updates:
// active rows are scattered, which defeats the hardware prefetcher).
void Prefetch(const Real* p, size_t n) {
  constexpr size_t kLine = 64 / sizeof(Real);
  for (size_t k = 0; k < n; k += kLine) __builtin_prefetch(p + k, 1);
}

// How many active rows ahead ApplyAdagradOuter prefetches.
constexpr size_t kPrefetchRows = 2;

}  // namespace

void Optimizer::ApplyAdagradOuter(size_t i, TensorView w, const ConstMatrixRef& left,
                                  const ConstMatrixRef& right, Matrix* left_w) {
  assert(options_.kind == OptimizerKind::kAdagrad);
  const Eigen::Index batch = left.rows();
  const size_t n = static_cast<size_t>(right.cols());
  assert(w.size() == static_cast<size_t>(left.cols()) * n);
  ActiveRows(left);
  LivePackets(right, /*all=*/left_w != nullptr, &live_packets_);
  src_.resize(batch);
  dst_.resize(batch);
  if (left_w != nullptr) left_w->setZero(batch, static_cast<Eigen::Index>(n));
  for (Eigen::Index b = 0; b < batch; ++b) {
    src_[b] = right.row(b).data();
    dst_[b] = left_w != nullptr ? left_w->row(b).data() : nullptr;
  }
  OuterRow row{nullptr, left.outerStride(), src_.data(), dst_.data(), batch};
  const AdagradParams c(static_cast<Real>(options_.learning_rate),
                        static_cast<Real>(options_.epsilon), fast_from_);
  const auto apply = [&](auto kernel) {
    for (size_t k = 0; k < active_rows_.size(); ++k) {
      if (k + kPrefetchRows < active_rows_.size()) {
        const size_t ahead = static_cast<size_t>(active_rows_[k + kPrefetchRows]) * n;
        Prefetch(w.data() + ahead, n);
        Prefetch(state_[i].data() + ahead, n);
      }
      const Eigen::Index r = active_rows_[k];
      row.coef = left.data() + r;
      const size_t off = static_cast<size_t>(r) * n;
      kernel(w.data() + off, state_[i].data() + off, row, live_packets_, n, c);
    }
  };
  const auto apply_batch = [&](auto fast, auto input_grad) {
    constexpr Root kRoot = decltype(fast)::value ? Root::kFast : Root::kChoose;
    constexpr bool kInputGrad = decltype(input_grad)::value;
    if (batch == 1) {
      apply(OuterAdagradRow<kRoot, kInputGrad, 1>);
    } else {
      apply(OuterAdagradRow<kRoot, kInputGrad, 0>);
    }
  };
  if (fast_root_[i]) {
    if (left_w != nullptr) {
      apply_batch(std::true_type(), std::true_type());
    } else {
      apply_batch(std::true_type(), std::false_type());
    }
  } else if (left_w != nullptr) {
    apply_batch(std::false_type(), std::true_type());
  } else {
    apply_batch(std::false_type(), std::false_type());
  }
}

// The rows of G = left^T * right that are not all zero: the columns of
// left with a nonzero (branch-free: whether a ReLU unit is active is
// unpredictable).
void Optimizer::ActiveRows(const ConstMatrixRef& left) {
  active_rows_.resize(static_cast<size_t>(left.cols()));
  size_t count = 0;
  Eigen::Index r = 0;
#if defined(EIGEN_VECTORIZE_AVX512) && !defined(RANKER_DOUBLE)
  // Batch 1, one contiguous row: the indices of 16 values at a time,
  // compressed to those of the nonzero ones (the scalar loop below took
  // ~5% of a batch-1 training step).
  static_assert(sizeof(Eigen::Index) == 8);
  if (left.rows() == 1) {
    const __m512i eight = _mm512_set1_epi64(8);
    __m512i low = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    for (; r + 16 <= left.cols(); r += 16) {
      const __mmask16 active =
          _mm512_cmp_ps_mask(_mm512_loadu_ps(left.data() + r), _mm512_setzero_ps(), _CMP_NEQ_UQ);
      const __m512i high = _mm512_add_epi64(low, eight);
      _mm512_mask_compressstoreu_epi64(active_rows_.data() + count, static_cast<__mmask8>(active),
                                       low);
      count += static_cast<size_t>(__builtin_popcount(active & 0xff));
      _mm512_mask_compressstoreu_epi64(active_rows_.data() + count,
                                       static_cast<__mmask8>(active >> 8), high);
      count += static_cast<size_t>(__builtin_popcount(active >> 8));
      low = _mm512_add_epi64(high, eight);
    }
  }
#endif
  for (; r < left.cols(); ++r) {
    bool active = false;
    for (Eigen::Index b = 0; b < left.rows(); ++b) active |= left(b, r) != 0;
    active_rows_[count] = r;
    count += active;
  }
  active_rows_.resize(count);
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
      Adagrad(w, s, g, n, lr, /*fast_root=*/false);
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
  CheckFastRoot();
  return Status::OK();
}

}  // namespace ranker::learner
