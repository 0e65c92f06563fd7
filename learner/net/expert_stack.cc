#include "learner/net/expert_stack.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

namespace ranker::learner {
namespace {

// Layer sizes of the per-expert tail; a dummy {1, 1} when there is none
// (Mlp needs at least one layer and is then never used).
std::vector<int> TailSizes(const std::vector<int>& hidden) {
  if (hidden.size() < 2) return {1, 1};
  return hidden;
}

// Copies the column runs of src side by side into *out.
template <typename Source>
void GatherRuns(const std::vector<std::pair<int, int>>& runs, const Source& src, Matrix* out) {
  Eigen::Index width = 0;
  for (const auto& [begin, end] : runs) width += end - begin;
  out->resize(src.rows(), width);
  Eigen::Index k = 0;
  for (const auto& [begin, end] : runs) {
    out->middleCols(k, end - begin) = src.middleCols(begin, end - begin);
    k += end - begin;
  }
}

// The inverse scatter: adds the side-by-side runs of src into *out's
// columns.
template <typename Source>
void AddRuns(const std::vector<std::pair<int, int>>& runs, const Source& src, Matrix* out) {
  Eigen::Index k = 0;
  for (const auto& [begin, end] : runs) {
    out->middleCols(begin, end - begin) += src.middleCols(k, end - begin);
    k += end - begin;
  }
}

// The runs clipped to the columns before `limit`, into *out.
void ClipRuns(const std::vector<std::pair<int, int>>& runs, int limit,
              std::vector<std::pair<int, int>>* out) {
  out->clear();
  for (const auto& [begin, end] : runs) {
    if (begin < limit) out->emplace_back(begin, std::min(end, limit));
  }
}

// Examples per block of the factored first layer's forward: a block of
// its output (256 KB for the standard model) stays in L2.
constexpr Eigen::Index kFirstBlock = 128;

// Rows of padding after the units of the column-major dW scratches of
// FactoredBackward: a leading dimension of 1024 floats (4 KB) would put
// every element of a unit's row, read by AddRuns, in the same L1 set.
constexpr Eigen::Index kUnitPadding = 16;

// Batches up to this size take the small-batch paths: the first layer's
// product in one pass over W (SmallBatchProduct), and row-skipping input
// gradients.
constexpr Eigen::Index kSmallBatch = 4;

namespace ei = Eigen::internal;

// Packet types as template arguments drop their vector attributes, which
// GCC reports; the kernel only uses them as Eigen does internally.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

using Full = ei::packet_traits<Real>::type;
using Half = ei::unpacket_traits<Full>::half;

// The sum of the lanes of a whole and a half packet.
template <typename F, typename H>
Real Sum(const F& full, const H& half) {
  if constexpr (std::is_same_v<F, H>) {
    return ei::predux(ei::padd(full, half));
  } else {
    return ei::predux(ei::padd(ei::predux_half_dowto4(full), half));
  }
}

// y += x * w^T for a batch of kBatch rows and a unit-major w [units x in],
// in ONE pass over w that also returns the sum of its squared elements (see
// ExpertCache::first_w_norm2). Per unit, whole packets and then a half
// packet (rows of 136 leave 8), then scalars. The batch size is a template
// argument so that the accumulators stay in registers.
template <int kBatch>
double SmallBatchProductN(const ConstMatrixRef& x, const Matrix& w, Matrix* y) {
  constexpr Eigen::Index kLanes = ei::unpacket_traits<Full>::size;
  constexpr Eigen::Index kHalf = ei::unpacket_traits<Half>::size;
  const Eigen::Index in = w.cols();
  assert(x.rows() == kBatch);
  const Eigen::Index full_end = in - in % kLanes;
  const Eigen::Index half_end =
      kHalf < kLanes && full_end + kHalf <= in ? full_end + kHalf : full_end;
  const Real* xb[kBatch];
  for (int b = 0; b < kBatch; ++b) xb[b] = x.row(b).data();
  Full norm2 = ei::pzero(Full());
  Half norm2_half = ei::pzero(Half());
  double norm2_tail = 0;
  for (Eigen::Index u = 0; u < w.rows(); ++u) {
    const Real* wu = w.row(u).data();
    Full dot[kBatch];
    Half dot_half[kBatch];
    for (int b = 0; b < kBatch; ++b) {
      dot[b] = ei::pzero(Full());
      dot_half[b] = ei::pzero(Half());
    }
    for (Eigen::Index j = 0; j < full_end; j += kLanes) {
      const Full wp = ei::ploadu<Full>(wu + j);
      norm2 = ei::pmadd(wp, wp, norm2);
      for (int b = 0; b < kBatch; ++b) {
        dot[b] = ei::pmadd(ei::ploadu<Full>(xb[b] + j), wp, dot[b]);
      }
    }
    if (half_end > full_end) {
      const Half wp = ei::ploadu<Half>(wu + full_end);
      norm2_half = ei::pmadd(wp, wp, norm2_half);
      for (int b = 0; b < kBatch; ++b) {
        dot_half[b] = ei::pmadd(ei::ploadu<Half>(xb[b] + full_end), wp, dot_half[b]);
      }
    }
    for (int b = 0; b < kBatch; ++b) {
      Real sum = Sum(dot[b], dot_half[b]);
      for (Eigen::Index j = half_end; j < in; ++j) sum += xb[b][j] * wu[j];
      (*y)(b, u) += sum;
    }
    for (Eigen::Index j = half_end; j < in; ++j) norm2_tail += double(wu[j]) * wu[j];
  }
  return static_cast<double>(Sum(norm2, norm2_half)) + norm2_tail;
}

// SmallBatchProductN for a batch of at most kSmallBatch rows.
double SmallBatchProduct(const ConstMatrixRef& x, const Matrix& w, Matrix* y) {
  static_assert(kSmallBatch == 4);
  switch (x.rows()) {
    case 1:
      return SmallBatchProductN<1>(x, w, y);
    case 2:
      return SmallBatchProductN<2>(x, w, y);
    case 3:
      return SmallBatchProductN<3>(x, w, y);
    default:
      return SmallBatchProductN<4>(x, w, y);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace

void ExpertParams::AppendTensors(std::vector<TensorView>* out) {
  first.AppendTensors(out);
  for (MlpParams& m : rest) learner::AppendTensors(&m, out);
}

void ExpertParams::SetZero() {
  first.SetZero();
  for (MlpParams& m : rest) learner::SetZero(&m);
}

ExpertStack::ExpertStack(int in, int num_experts, std::vector<int> hidden)
    : in_(in),
      num_experts_(num_experts),
      hidden_(std::move(hidden)),
      rest_(TailSizes(hidden_), /*relu_last=*/true) {
  assert(num_experts_ >= 1 && !hidden_.empty());
}

ExpertParams ExpertStack::Init(Rng* rng) const {
  ExpertParams p;
  // Drawn in the [in x units] order of DenseParams::Init, then stored
  // unit-major: the same initial values as a row-major layer.
  p.first = DenseParams::Init(in_, num_experts_ * first_width(), 1.0, rng);
  Matrix unit_major = p.first.w.transpose();
  p.first.w = std::move(unit_major);
  if (hidden_.size() > 1) {
    for (int e = 0; e < num_experts_; ++e) p.rest.push_back(rest_.Init(rng));
  }
  return p;
}

ExpertParams ExpertStack::Zeros() const {
  ExpertParams p;
  p.first.w = Matrix::Zero(num_experts_ * first_width(), in_);
  p.first.b = RowVector::Zero(num_experts_ * first_width());
  if (hidden_.size() > 1) {
    for (int e = 0; e < num_experts_; ++e) p.rest.push_back(rest_.Zeros());
  }
  return p;
}

void ExpertStack::Forward(const ExpertParams& p, const ConstMatrixRef& x, ExpertCache* cache,
                          const FactoredInput* factored) const {
  cache->x = BatchView(x);
  cache->factored = factored != nullptr && !factored->slots.empty() ? factored : nullptr;
  Matrix& y = cache->first;
  y.resize(x.rows(), p.first.w.rows());
  cache->first_w_norm2 = std::numeric_limits<double>::infinity();
  if (cache->factored != nullptr) {
    FactoredFirst(p, x, cache);
  } else if (x.rows() <= kSmallBatch) {
    y.rowwise() = p.first.b;
    cache->first_w_norm2 = SmallBatchProduct(x, p.first.w, &y);
    y = y.cwiseMax(Real(0));
  } else {
    // Starting from the bias and accumulating spares the GEMM's zero fill.
    y.rowwise() = p.first.b;
    y.noalias() += x * p.first.w.transpose();
    y = y.cwiseMax(Real(0));
  }
  if (hidden_.size() > 1) ForwardTail(p, cache);
}

// cache->first = ReLU(x W^T + b), block by block of kFirstBlock examples so
// that a block's rows stay in L2 from the bias through the GEMM over the
// columns outside the shared slots and the shared slots' products (of
// their distinct rows, added to the examples that use them) to the ReLU.
void ExpertStack::FactoredFirst(const ExpertParams& p, const ConstMatrixRef& x,
                                ExpertCache* cache) const {
  const FactoredInput& f = *cache->factored;
  GatherRuns(f.rest, x, &cache->x_rest);
  GatherRuns(f.rest, p.first.w, &cache->w_rest);
  cache->products.resize(f.slots.size());
  for (size_t i = 0; i < f.slots.size(); ++i) {
    const SharedSlot& s = f.slots[i];
    const auto w = p.first.w.middleCols(s.column, s.rows.cols());
    cache->products[i].noalias() = s.rows * w.transpose();  // [n x units]
  }
  // Per slot, its next use to add: uses come in example order (any order
  // is still correct: a use is added in the first block at or after its
  // example's, at the latest in the last one).
  cache->next_use.assign(f.slots.size(), 0);
  Matrix& y = cache->first;
  for (Eigen::Index begin = 0; begin < x.rows(); begin += kFirstBlock) {
    const Eigen::Index rows = std::min(kFirstBlock, x.rows() - begin);
    auto block = y.middleRows(begin, rows);
    block.rowwise() = p.first.b;
    block.noalias() += cache->x_rest.middleRows(begin, rows) * cache->w_rest.transpose();
    const bool last = begin + rows == x.rows();
    for (size_t i = 0; i < f.slots.size(); ++i) {
      const auto& uses = f.slots[i].uses;
      size_t& k = cache->next_use[i];
      for (; k < uses.size() && (last || uses[k].first < begin + rows); ++k) {
        y.row(uses[k].first) += cache->products[i].row(uses[k].second);
      }
    }
    block = block.cwiseMax(Real(0));
  }
}

void ExpertStack::ForwardFromFirst(const ExpertParams& p, ExpertCache* cache) const {
  cache->first = cache->first.cwiseMax(Real(0));
  if (hidden_.size() > 1) ForwardTail(p, cache);
}

void ExpertStack::ForwardTail(const ExpertParams& p, ExpertCache* cache) const {
  cache->rest.resize(num_experts_);
  const int h0 = first_width();
  for (int e = 0; e < num_experts_; ++e) {
    rest_.Forward(p.rest[e], cache->first.middleCols(e * h0, h0), &cache->rest[e]);
  }
}

ConstMatrixRef ExpertStack::Output(const ExpertCache& cache, int e) const {
  if (hidden_.size() == 1) return cache.first.middleCols(e * out(), out());
  return cache.rest[e].layers.back().y;
}

void ExpertStack::Backward(const ExpertParams& p, ExpertCache* cache,
                           const std::vector<Matrix>& d_out, ExpertParams* grad, Matrix* dx,
                           WeightGrad w) const {
  FirstDelta(p, cache, d_out, grad, w);
  const Matrix& dz = cache->dfirst;
  if (cache->factored != nullptr) {
    assert(w == WeightGrad::kAccumulate);
    FactoredBackward(p, cache, grad, dx);
    return;
  }
  if (w == WeightGrad::kAccumulate) {
    grad->first.w.noalias() += dz.transpose() * cache->x.get();
    if (dx != nullptr) FirstInputGrad(p, dz, dx);
  } else if (dx != nullptr) {
    dx->setZero(dz.rows(), in_);  // the first layer's share is deferred too
  }
}

double ExpertStack::FirstInputGradBound(const ExpertCache& cache) const {
  // In float, vectorised (in double it took 2.5% of a batch-1 step): a sum
  // that overflows gives an infinite bound, which only means the slower
  // path, and its relative rounding (< 1e-4 for 1024 units) is covered by
  // the factor 2 of the caller's check.
  double max_delta2 = 0;
  for (Eigen::Index b = 0; b < cache.dfirst.rows(); ++b) {
    max_delta2 = std::max(max_delta2, static_cast<double>(cache.dfirst.row(b).squaredNorm()));
  }
  const double bound = std::sqrt(max_delta2) * std::sqrt(cache.first_w_norm2);
  return std::isnan(bound) ? std::numeric_limits<double>::infinity() : bound;
}

void ExpertStack::AddFirstInputGrad(const ExpertParams& p, const ExpertCache& cache,
                                    Matrix* dx) const {
  AddSparseInputGrad(p.first.w, cache.dfirst, dx);
}

// cache->dfirst = dL/d(first layer pre-activation): the experts' tails
// back-propagated, through the ReLU; and the first layer's bias gradient,
// its column sums, added in the same pass (a separate column sum of the
// row-major [B x units] dfirst would walk its columns with a 4 KB stride).
void ExpertStack::FirstDelta(const ExpertParams& p, ExpertCache* cache,
                             const std::vector<Matrix>& d_out, ExpertParams* grad,
                             WeightGrad w) const {
  const int h0 = first_width();
  const Eigen::Index batch = d_out[0].rows();
  cache->dfirst.resize(batch, num_experts_ * h0);
  for (int e = 0; e < num_experts_; ++e) {
    const Matrix* d = &d_out[e];
    if (hidden_.size() > 1) {
      rest_.Backward(p.rest[e], &cache->rest[e], d_out[e], &grad->rest[e], &cache->dx_e, w);
      d = &cache->dx_e;
    }
    const Eigen::Index col = e * h0;
    auto db = grad->first.b.segment(col, h0);
    for (Eigen::Index b = 0; b < batch; ++b) {
      const auto active = cache->first.row(b).segment(col, h0).array() > Real(0);
      auto dz = cache->dfirst.row(b).segment(col, h0);
      dz = active.select(d->row(b).array(), Real(0)).matrix();
      db += dz;
    }
  }
}

// The first layer's dW and dx after a factored Forward: the GEMMs over the
// non-shared columns, and per shared slot the deltas summed per distinct
// row (dW_slot = D^T rows, dL/d(rows) = D W_slot).
void ExpertStack::FactoredBackward(const ExpertParams& p, ExpertCache* cache, ExpertParams* grad,
                                   Matrix* dx) const {
  const FactoredInput& f = *cache->factored;
  const Matrix& dz = cache->dfirst;
  // dW of the non-shared columns [units x K] into a column-major scratch,
  // for the reasons of DenseLayer::Backward: 460 -> 300 us at batch 256.
  cache->dw_rest.resize(dz.cols() + kUnitPadding, cache->x_rest.cols());
  auto dw_rest = cache->dw_rest.topRows(dz.cols());
  dw_rest.noalias() = dz.transpose() * cache->x_rest;
  AddRuns(f.rest, dw_rest, &grad->first.w);
  cache->d_rows.resize(f.slots.size());
  for (size_t i = 0; i < f.slots.size(); ++i) {
    const SharedSlot& s = f.slots[i];
    cache->d_sum.setZero(s.rows.rows(), dz.cols());
    for (const auto& [b, r] : s.uses) cache->d_sum.row(r) += dz.row(b);
    // Through a padded column-major scratch, like dw_rest: 86 -> 55 us for
    // the standard model's shared slots at batch 256.
    cache->dw_slot.resize(dz.cols() + kUnitPadding, s.rows.cols());
    auto dw_slot = cache->dw_slot.topRows(dz.cols());
    dw_slot.noalias() = cache->d_sum.transpose() * s.rows;
    grad->first.w.middleCols(s.column, s.rows.cols()) += dw_slot;
    if (dx != nullptr) {
      cache->d_rows[i].noalias() = cache->d_sum * p.first.w.middleCols(s.column, s.rows.cols());
    }
  }
  if (dx == nullptr) return;
  dx->setZero(dz.rows(), in_);
  // The runs needing dL/dx are a prefix of f.rest, hence of w_rest's
  // columns.
  ClipRuns(f.rest, f.input_grad_columns, &cache->grad_runs);
  int k = 0;
  for (const auto& [begin, end] : cache->grad_runs) k += end - begin;
  cache->dx_rest.noalias() = dz * cache->w_rest.leftCols(k);  // [B x k]
  AddRuns(cache->grad_runs, cache->dx_rest, dx);
}

void ExpertStack::DeferredGrads(const ExpertCache& cache, std::vector<OuterGrad>* out) const {
  out->clear();
  out->push_back({BatchView(cache.dfirst), cache.x});
  if (hidden_.size() < 2) return;
  for (const MlpCache& m : cache.rest) {
    for (const DenseCache& layer : m.layers) out->push_back({layer.x, BatchView(layer.dz)});
  }
}

// dx = dz * W. For small batches, units with a zero delta in every example
// (inactive) are skipped: their rows of W are never read.
void ExpertStack::FirstInputGrad(const ExpertParams& p, const Matrix& dz, Matrix* dx) const {
  if (dz.rows() > kSmallBatch) {
    dx->resize(dz.rows(), in_);
    dx->noalias() = dz * p.first.w;
    return;
  }
  dx->setZero(dz.rows(), in_);
  AddSparseInputGrad(p.first.w, dz, dx);
}

// dx += dz * w, skipping the zero deltas (rows of w of inactive units).
void ExpertStack::AddSparseInputGrad(const Matrix& w, const Matrix& dz, Matrix* dx) {
  for (Eigen::Index u = 0; u < dz.cols(); ++u) {
    for (Eigen::Index b = 0; b < dz.rows(); ++b) {
      const Real d = dz(b, u);
      if (d != 0) dx->row(b).noalias() += d * w.row(u);
    }
  }
}

}  // namespace ranker::learner
