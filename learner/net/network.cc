#include "learner/net/network.h"

namespace ranker::learner {
namespace {

int NumExperts(const ModelOptions& o) {
  switch (o.architecture) {
    case Architecture::kSharedBottom:
      return 1;
    case Architecture::kIndependent:
      return static_cast<int>(o.tasks.size());
    case Architecture::kPle:
      return o.shared_experts + static_cast<int>(o.tasks.size()) * o.task_experts;
    default:
      return o.num_experts;
  }
}

int NumGates(const ModelOptions& o) {
  switch (o.architecture) {
    case Architecture::kMmoe:
      return static_cast<int>(o.tasks.size());
    case Architecture::kOmoe:
      return 1;
    case Architecture::kPle:
      return o.ple_levels * (static_cast<int>(o.tasks.size()) + 1) - 1;
    default:
      return 0;
  }
}

std::vector<int> TowerSizes(const ModelOptions& o) {
  std::vector<int> sizes = {o.expert_hidden.back()};
  sizes.insert(sizes.end(), o.tower_hidden.begin(), o.tower_hidden.end());
  sizes.push_back(1);
  return sizes;
}

// Initial scale of the gate weights: small, so gates start near uniform.
constexpr double kGateGain = 0.1;

}  // namespace

std::vector<TensorView> NetworkParams::Tensors() {
  std::vector<TensorView> out;
  experts.AppendTensors(&out);
  for (DenseParams& g : gates) g.AppendTensors(&out);
  for (MlpParams& t : towers) AppendTensors(&t, &out);
  for (ExpertParams& e : upper) e.AppendTensors(&out);
  return out;
}

void NetworkParams::SetZero() {
  experts.SetZero();
  for (DenseParams& g : gates) g.SetZero();
  for (MlpParams& t : towers) learner::SetZero(&t);
  for (ExpertParams& e : upper) e.SetZero();
}

Network::Network(const ModelOptions& options)
    : arch_(options.architecture),
      num_tasks_(static_cast<int>(options.tasks.size())),
      num_gates_(NumGates(options)),
      experts_(options.input_width(), NumExperts(options), options.expert_hidden),
      tower_(TowerSizes(options), /*relu_last=*/false) {
  if (arch_ == Architecture::kPle) ple_.emplace(options);
}

int Network::GateOfTask(int t) const {
  if (ple_) return ple_->PleGate(ple_->levels() - 1, t);
  if (num_gates_ == 0) return -1;
  return num_gates_ == 1 ? 0 : t;
}

int Network::gate_width() const { return ple_ ? ple_->GateWidth(0) : num_experts(); }

NetworkParams Network::Init(Rng* rng) const {
  NetworkParams p;
  p.experts = experts_.Init(rng);
  if (ple_) ple_->Init(rng, input_width(), &p);
  for (int g = 0; !ple_ && g < num_gates_; ++g) {
    p.gates.push_back(DenseParams::Init(input_width(), num_experts(), kGateGain, rng));
  }
  for (int t = 0; t < num_tasks_; ++t) p.towers.push_back(tower_.Init(rng));
  return p;
}

NetworkParams Network::Zeros() const {
  NetworkParams p;
  p.experts = experts_.Zeros();
  if (ple_) ple_->Zeros(input_width(), &p);
  for (int g = 0; !ple_ && g < num_gates_; ++g) {
    p.gates.push_back(DenseParams::Zeros(input_width(), num_experts()));
  }
  for (int t = 0; t < num_tasks_; ++t) p.towers.push_back(tower_.Zeros());
  return p;
}

void Network::Forward(const NetworkParams& p, const ConstMatrixRef& x, NetworkCache* cache,
                      const FactoredInput* factored) const {
  experts_.Forward(p.experts, x, &cache->experts, factored);
  ForwardGatesAndTowers(p, x, cache);
}

void Network::ForwardFromFirst(const NetworkParams& p, const ConstMatrixRef& x,
                               NetworkCache* cache) const {
  experts_.ForwardFromFirst(p.experts, &cache->experts);
  ForwardGatesAndTowers(p, x, cache);
}

void Network::ForwardGatesAndTowers(const NetworkParams& p, const ConstMatrixRef& x,
                                    NetworkCache* cache) const {
  if (ple_) {
    ple_->Forward(experts_, p, x, cache);
    cache->towers.resize(num_tasks_);
    for (int t = 0; t < num_tasks_; ++t) {
      tower_.Forward(p.towers[t], TowerInput(*cache, t), &cache->towers[t]);
    }
    return;
  }
  cache->gates.resize(num_gates_);
  for (int g = 0; g < num_gates_; ++g) gate_.Forward(p.gates[g], x, &cache->gates[g]);
  cache->towers.resize(num_tasks_);
  cache->mixed.resize(num_tasks_);
  for (int t = 0; t < num_tasks_; ++t) {
    const int g = GateOfTask(t);
    if (g >= 0) {
      const Matrix& probs = cache->gates[g].probs;
      Matrix& mixed = cache->mixed[t];
      mixed.noalias() = probs.col(0).asDiagonal() * experts_.Output(cache->experts, 0);
      for (int e = 1; e < num_experts(); ++e) {
        mixed.noalias() += probs.col(e).asDiagonal() * experts_.Output(cache->experts, e);
      }
    }
    tower_.Forward(p.towers[t], TowerInput(*cache, t), &cache->towers[t]);
  }
}

ConstMatrixRef Network::TowerInput(const NetworkCache& cache, int t) const {
  if (ple_) return ple_->TaskOutput(cache, t);
  if (GateOfTask(t) >= 0) return cache.mixed[t];
  const int e = arch_ == Architecture::kIndependent ? t : 0;
  return experts_.Output(cache.experts, e);
}

const Matrix& Network::Output(const NetworkCache& cache, int t) const {
  return cache.towers[t].layers.back().y;
}

const Matrix* Network::GateWeights(const NetworkCache& cache, int t) const {
  const int g = GateOfTask(t);
  return g >= 0 ? &cache.gates[g].probs : nullptr;
}

void Network::Backward(const NetworkParams& p, NetworkCache* cache,
                       const std::vector<Vector>& d_outputs, NetworkParams* grad, Matrix* dx,
                       WeightGrad expert_w) const {
  const Eigen::Index batch = d_outputs[0].size();
  if (ple_) {
    BackwardPle(p, cache, d_outputs, grad, dx, expert_w);
    return;
  }
  cache->d_experts.resize(num_experts());
  for (Matrix& d : cache->d_experts) d.setZero(batch, experts_.out());
  cache->d_probs.resize(num_gates_);
  for (Matrix& d : cache->d_probs) d.setZero(batch, num_experts());
  for (int t = 0; t < num_tasks_; ++t) {
    const Eigen::Map<const Matrix> dy(d_outputs[t].data(), batch, 1);
    tower_.Backward(p.towers[t], &cache->towers[t], dy, &grad->towers[t], &cache->d_mixed);
    BackwardMixture(cache, t);
  }
  experts_.Backward(p.experts, &cache->experts, cache->d_experts, &grad->experts, dx, expert_w);
  for (int g = 0; g < num_gates_; ++g) {
    gate_.Backward(p.gates[g], cache->gates[g], cache->d_probs[g], &grad->gates[g],
                   dx != nullptr ? &cache->dx_gate : nullptr);
    if (dx != nullptr) *dx += cache->dx_gate;
  }
}

void Network::BackwardPle(const NetworkParams& p, NetworkCache* cache,
                          const std::vector<Vector>& d_outputs, NetworkParams* grad, Matrix* dx,
                          WeightGrad expert_w) const {
  const Eigen::Index batch = d_outputs[0].size();
  cache->ple.d_reps.resize(num_gates_);
  for (int t = 0; t < num_tasks_; ++t) {
    const Eigen::Map<const Matrix> dy(d_outputs[t].data(), batch, 1);
    tower_.Backward(p.towers[t], &cache->towers[t], dy, &grad->towers[t],
                    &cache->ple.d_reps[ple_->PleGate(ple_->levels() - 1, t)]);
  }
  ple_->Backward(experts_, p, cache, grad, dx, expert_w);
}

// Routes dL/d(tower input of t) in cache->d_mixed to the experts (and to
// the gate probabilities for the gated architectures).
void Network::BackwardMixture(NetworkCache* cache, int t) const {
  const int g = GateOfTask(t);
  if (g < 0) {
    const int e = arch_ == Architecture::kIndependent ? t : 0;
    cache->d_experts[e] += cache->d_mixed;
    return;
  }
  const Matrix& probs = cache->gates[g].probs;
  for (int e = 0; e < num_experts(); ++e) {
    cache->d_experts[e].noalias() += probs.col(e).asDiagonal() * cache->d_mixed;
    cache->d_probs[g].col(e) +=
        (cache->d_mixed.array() * experts_.Output(cache->experts, e).array())
            .rowwise()
            .sum()
            .matrix();
  }
}

}  // namespace ranker::learner
