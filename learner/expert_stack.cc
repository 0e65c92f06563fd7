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
  p.first = DenseParams::Init(in_, num_experts_ * first_width(), 1.0, rng);
  if (hidden_.size() > 1) {
    for (int e = 0; e < num_experts_; ++e) p.rest.push_back(rest_.Init(rng));
  }
  return p;
}

ExpertParams ExpertStack::Zeros() const {
  ExpertParams p;
  p.first = DenseParams::Zeros(in_, num_experts_ * first_width());
  if (hidden_.size() > 1) {
    for (int e = 0; e < num_experts_; ++e) p.rest.push_back(rest_.Zeros());
  }
  return p;
}

void ExpertStack::Forward(const ExpertParams& p, const ConstMatrixRef& x,
                          ExpertCache* cache) const {
  first_.Forward(p.first, x, &cache->first);
  if (hidden_.size() > 1) ForwardTail(p, cache);
}

void ExpertStack::ForwardFromFirst(const ExpertParams& p, ExpertCache* cache) const {
  first_.Activate(&cache->first);
  if (hidden_.size() > 1) ForwardTail(p, cache);
}

void ExpertStack::ForwardTail(const ExpertParams& p, ExpertCache* cache) const {
  cache->rest.resize(num_experts_);
  const int h0 = first_width();
  for (int e = 0; e < num_experts_; ++e) {
    rest_.Forward(p.rest[e], cache->first.y.middleCols(e * h0, h0), &cache->rest[e]);
  }
}

ConstMatrixRef ExpertStack::Output(const ExpertCache& cache, int e) const {
  if (hidden_.size() == 1) return cache.first.y.middleCols(e * out(), out());
  return cache.rest[e].layers.back().y;
}

void ExpertStack::Backward(const ExpertParams& p, ExpertCache* cache,
                           const std::vector<Matrix>& d_out, ExpertParams* grad,
                           Matrix* dx) const {
  const int h0 = first_width();
  const Matrix* dfirst = &d_out[0];
  if (hidden_.size() > 1) {
    cache->dfirst.resize(d_out[0].rows(), num_experts_ * h0);
    for (int e = 0; e < num_experts_; ++e) {
      rest_.Backward(p.rest[e], &cache->rest[e], d_out[e], &grad->rest[e], &cache->dx_e);
      cache->dfirst.middleCols(e * h0, h0) = cache->dx_e;
    }
    dfirst = &cache->dfirst;
  } else if (num_experts_ > 1) {
    cache->dfirst.resize(d_out[0].rows(), num_experts_ * h0);
    for (int e = 0; e < num_experts_; ++e) cache->dfirst.middleCols(e * h0, h0) = d_out[e];
    dfirst = &cache->dfirst;
  }
  first_.Backward(p.first, cache->first, *dfirst, &grad->first, dx);
}

}  // namespace ranker::learner
