#include "learner/expert_stack.h"

#include <cassert>
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
void AddRuns(const std::vector<std::pair<int, int>>& runs, const Matrix& src, Matrix* out) {
  Eigen::Index k = 0;
  for (const auto& [begin, end] : runs) {
    out->middleCols(begin, end - begin) += src.middleCols(k, end - begin);
    k += end - begin;
  }
}

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
  // Starting from the bias and accumulating spares the GEMM's zero fill.
  y.rowwise() = p.first.b;
  if (cache->factored != nullptr) {
    FactoredFirst(p, x, cache);
  } else {
    y.noalias() += x * p.first.w.transpose();
  }
  y = y.cwiseMax(Real(0));
  if (hidden_.size() > 1) ForwardTail(p, cache);
}

// cache->first += x W^T: one GEMM over the columns outside the shared slots,
// plus, per shared slot, the products of its distinct rows added to the
// examples that use them.
void ExpertStack::FactoredFirst(const ExpertParams& p, const ConstMatrixRef& x,
                                ExpertCache* cache) const {
  const FactoredInput& f = *cache->factored;
  GatherRuns(f.rest, x, &cache->x_rest);
  GatherRuns(f.rest, p.first.w, &cache->w_rest);
  Matrix& y = cache->first;
  y.noalias() += cache->x_rest * cache->w_rest.transpose();
  for (const SharedSlot& s : f.slots) {
    const auto w = p.first.w.middleCols(s.column, s.rows.cols());
    cache->products.noalias() = s.rows * w.transpose();  // [n x units]
    for (const auto& [b, r] : s.uses) y.row(b) += cache->products.row(r);
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
  grad->first.b.noalias() += dz.colwise().sum();
  if (cache->factored != nullptr) {
    assert(w == WeightGrad::kAccumulate);
    FactoredBackward(p, cache, grad, dx);
    return;
  }
  if (w == WeightGrad::kAccumulate) {
    grad->first.w.noalias() += dz.transpose() * cache->x.get();
  }
  if (dx != nullptr) FirstInputGrad(p, dz, dx);
}

// cache->dfirst = dL/d(first layer pre-activation): the experts' tails
// back-propagated, through the ReLU.
void ExpertStack::FirstDelta(const ExpertParams& p, ExpertCache* cache,
                             const std::vector<Matrix>& d_out, ExpertParams* grad,
                             WeightGrad w) const {
  const int h0 = first_width();
  cache->dfirst.resize(d_out[0].rows(), num_experts_ * h0);
  for (int e = 0; e < num_experts_; ++e) {
    const Matrix* d = &d_out[e];
    if (hidden_.size() > 1) {
      rest_.Backward(p.rest[e], &cache->rest[e], d_out[e], &grad->rest[e], &cache->dx_e, w);
      d = &cache->dx_e;
    }
    const auto active = cache->first.middleCols(e * h0, h0).array() > Real(0);
    cache->dfirst.middleCols(e * h0, h0) = active.select(d->array(), Real(0)).matrix();
  }
}

// The first layer's dW and dx after a factored Forward: the GEMMs over the
// non-shared columns, and per shared slot the deltas summed per distinct
// row (dW_slot = D^T rows, dL/d(rows) = D W_slot).
void ExpertStack::FactoredBackward(const ExpertParams& p, ExpertCache* cache, ExpertParams* grad,
                                   Matrix* dx) const {
  const FactoredInput& f = *cache->factored;
  const Matrix& dz = cache->dfirst;
  cache->dw_rest.noalias() = dz.transpose() * cache->x_rest;  // [units x K]
  AddRuns(f.rest, cache->dw_rest, &grad->first.w);
  cache->d_rows.resize(f.slots.size());
  for (size_t i = 0; i < f.slots.size(); ++i) {
    const SharedSlot& s = f.slots[i];
    cache->d_sum.setZero(s.rows.rows(), dz.cols());
    for (const auto& [b, r] : s.uses) cache->d_sum.row(r) += dz.row(b);
    grad->first.w.middleCols(s.column, s.rows.cols()).noalias() +=
        cache->d_sum.transpose() * s.rows;
    if (dx != nullptr) {
      cache->d_rows[i].noalias() = cache->d_sum * p.first.w.middleCols(s.column, s.rows.cols());
    }
  }
  if (dx == nullptr) return;
  dx->setZero(dz.rows(), in_);
  cache->dx_rest.noalias() = dz * cache->w_rest;  // [B x K]
  AddRuns(f.rest, cache->dx_rest, dx);
}

void ExpertStack::DeferredGrads(const ExpertCache& cache, std::vector<OuterGrad>* out) const {
  out->clear();
  out->push_back({BatchView(cache.dfirst), cache.x});
  if (hidden_.size() < 2) return;
  for (const MlpCache& m : cache.rest) {
    for (const DenseCache& layer : m.layers) out->push_back({layer.x, BatchView(layer.dz)});
  }
}

// Batches up to this size take the row-skipping path of FirstInputGrad.
constexpr Eigen::Index kSparseBatch = 4;

// dx = dz * W. For small batches, units with a zero delta in every example
// (inactive) are skipped: their rows of W are never read.
void ExpertStack::FirstInputGrad(const ExpertParams& p, const Matrix& dz, Matrix* dx) const {
  const Matrix& w = p.first.w;
  if (dz.rows() > kSparseBatch) {
    dx->resize(dz.rows(), in_);
    dx->noalias() = dz * w;
    return;
  }
  dx->setZero(dz.rows(), in_);
  for (Eigen::Index u = 0; u < dz.cols(); ++u) {
    for (Eigen::Index b = 0; b < dz.rows(); ++b) {
      const Real d = dz(b, u);
      if (d != 0) dx->row(b).noalias() += d * w.row(u);
    }
  }
}

}  // namespace ranker::learner
