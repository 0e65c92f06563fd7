#include "learner/net/ple.h"

#include "learner/net/network.h"

namespace ranker::learner {
namespace {

// Initial scale of the gate weights, as Network's: gates start near uniform.
constexpr double kGateGain = 0.1;

}  // namespace

Ple::Ple(const ModelOptions& o)
    : levels_(o.ple_levels),
      num_tasks_(static_cast<int>(o.tasks.size())),
      shared_(o.shared_experts),
      per_task_(o.task_experts),
      input_width_(o.input_width()),
      shared_stack_(o.expert_hidden.back(), o.shared_experts, o.expert_hidden),
      task_stack_(o.expert_hidden.back(), o.task_experts, o.expert_hidden) {}

int Ple::GateWidth(int group) const {
  return group == num_tasks_ ? experts_per_level() : per_task_ + shared_;
}

std::vector<int> Ple::GateExperts(int group) const {
  std::vector<int> out;
  if (group == num_tasks_) {
    for (int k = 0; k < experts_per_level(); ++k) out.push_back(k);
    return out;
  }
  for (int j = 0; j < per_task_; ++j) out.push_back(shared_ + group * per_task_ + j);
  for (int k = 0; k < shared_; ++k) out.push_back(k);
  return out;
}

std::pair<int, int> Ple::Locate(int level, int k) const {
  if (level == 0) return {-1, k};
  if (k < shared_) return {UpperStack(level, num_tasks_), k};
  return {UpperStack(level, (k - shared_) / per_task_), (k - shared_) % per_task_};
}

ConstMatrixRef Ple::ExpertOut(const ExpertStack& first, const NetworkCache& cache, int level,
                              int k) const {
  const auto [stack, e] = Locate(level, k);
  if (stack < 0) return first.Output(cache.experts, e);
  const int group = stack % (num_tasks_ + 1);
  return Stack(group).Output(cache.ple.upper[stack], e);
}

void Ple::Init(Rng* rng, int input_width, NetworkParams* p) const {
  const int width = task_stack_.out();
  for (int l = 0; l < levels_; ++l) {
    for (int g = 0; g < Groups(l); ++g) {
      p->gates.push_back(
          DenseParams::Init(l == 0 ? input_width : width, GateWidth(g), kGateGain, rng));
    }
  }
  for (int s = 0; s < num_upper(); ++s) {
    p->upper.push_back(Stack(s % (num_tasks_ + 1)).Init(rng));
  }
}

void Ple::Zeros(int input_width, NetworkParams* p) const {
  const int width = task_stack_.out();
  for (int l = 0; l < levels_; ++l) {
    for (int g = 0; g < Groups(l); ++g) {
      p->gates.push_back(DenseParams::Zeros(l == 0 ? input_width : width, GateWidth(g)));
    }
  }
  for (int s = 0; s < num_upper(); ++s) p->upper.push_back(Stack(s % (num_tasks_ + 1)).Zeros());
}

void Ple::Forward(const ExpertStack& first, const NetworkParams& p, const ConstMatrixRef& x,
                  NetworkCache* cache) const {
  PleCache& c = cache->ple;
  c.reps.resize(num_gates());
  c.upper.resize(num_upper());
  cache->gates.resize(num_gates());
  for (int l = 0; l < levels_; ++l) {
    for (int g = 0; l > 0 && g <= num_tasks_; ++g) {
      const int s = UpperStack(l, g);
      Stack(g).Forward(p.upper[s], c.reps[PleGate(l - 1, g)], &c.upper[s]);
    }
    MixLevel(first, p, x, l, cache);
  }
}

// Each group's gate over its input, then its representation: the
// gate-weighted sum of its experts' outputs.
void Ple::MixLevel(const ExpertStack& first, const NetworkParams& p, const ConstMatrixRef& x,
                   int level, NetworkCache* cache) const {
  PleCache& c = cache->ple;
  for (int g = 0; g < Groups(level); ++g) {
    const int gi = PleGate(level, g);
    const ConstMatrixRef in = level == 0 ? x : ConstMatrixRef(c.reps[PleGate(level - 1, g)]);
    const Matrix& probs = gate_.Forward(p.gates[gi], in, &cache->gates[gi]);
    const std::vector<int> experts = GateExperts(g);
    Matrix& rep = c.reps[gi];
    rep.noalias() = probs.col(0).asDiagonal() * ExpertOut(first, *cache, level, experts[0]);
    for (size_t j = 1; j < experts.size(); ++j) {
      rep.noalias() += probs.col(static_cast<Eigen::Index>(j)).asDiagonal() *
                       ExpertOut(first, *cache, level, experts[j]);
    }
  }
}

ConstMatrixRef Ple::TaskOutput(const NetworkCache& cache, int t) const {
  return cache.ple.reps[PleGate(levels_ - 1, t)];
}

void Ple::Backward(const ExpertStack& first, const NetworkParams& p, NetworkCache* cache,
                   NetworkParams* grad, Matrix* dx, WeightGrad expert_w) const {
  PleCache& c = cache->ple;
  const Eigen::Index batch = c.reps[0].rows();
  c.d_probs.resize(num_gates());
  c.d_upper.resize(num_upper());
  for (int l = levels_ - 1; l >= 0; --l) {
    if (l == 0) {
      cache->d_experts.resize(experts_per_level());
      for (Matrix& d : cache->d_experts) d.setZero(batch, first.out());
    } else {
      for (int g = 0; g <= num_tasks_; ++g) {
        std::vector<Matrix>& d = c.d_upper[UpperStack(l, g)];
        d.resize(Stack(g).num_experts());
        for (Matrix& m : d) m.setZero(batch, Stack(g).out());
      }
    }
    BackwardMixture(first, l, cache, &cache->d_experts);
    if (l > 0) BackwardLevel(p, l, cache, grad);
  }
  first.Backward(p.experts, &cache->experts, cache->d_experts, &grad->experts, dx, expert_w);
  for (int g = 0; g < Groups(0); ++g) {
    const int gi = PleGate(0, g);
    gate_.Backward(p.gates[gi], cache->gates[gi], c.d_probs[gi], &grad->gates[gi],
                   dx != nullptr ? &c.dx : nullptr);
    if (dx != nullptr) *dx += c.dx;
  }
}

// Routes dL/d(representation) of each group of `level` to its experts'
// outputs (d_first at level 0, PleCache::d_upper above) and to its gate's
// weights.
void Ple::BackwardMixture(const ExpertStack& first, int level, NetworkCache* cache,
                          std::vector<Matrix>* d_first) const {
  PleCache& c = cache->ple;
  for (int g = 0; g < Groups(level); ++g) {
    const int gi = PleGate(level, g);
    const Matrix& d_rep = c.d_reps[gi];
    const Matrix& probs = cache->gates[gi].probs;
    const std::vector<int> experts = GateExperts(g);
    c.d_probs[gi].setZero(d_rep.rows(), static_cast<Eigen::Index>(experts.size()));
    for (size_t j = 0; j < experts.size(); ++j) {
      const Eigen::Index col = static_cast<Eigen::Index>(j);
      const auto [stack, e] = Locate(level, experts[j]);
      Matrix& d_out = stack < 0 ? (*d_first)[e] : c.d_upper[stack][e];
      d_out.noalias() += probs.col(col).asDiagonal() * d_rep;
      c.d_probs[gi].col(col) = (d_rep.array() * ExpertOut(first, *cache, level, experts[j]).array())
                                   .rowwise()
                                   .sum()
                                   .matrix();
    }
  }
}

// The upper stacks and gates of `level` (> 0) back to the representations
// of level - 1 they read.
void Ple::BackwardLevel(const NetworkParams& p, int level, NetworkCache* cache,
                        NetworkParams* grad) const {
  PleCache& c = cache->ple;
  for (int g = 0; g <= num_tasks_; ++g) {
    Matrix& d_in = c.d_reps[PleGate(level - 1, g)];
    const int s = UpperStack(level, g);
    Stack(g).Backward(p.upper[s], &c.upper[s], c.d_upper[s], &grad->upper[s], &c.dx);
    d_in = c.dx;
    if (g == num_tasks_ && level + 1 == levels_) continue;  // no shared gate at the top
    const int gi = PleGate(level, g);
    gate_.Backward(p.gates[gi], cache->gates[gi], c.d_probs[gi], &grad->gates[gi], &c.dx);
    d_in += c.dx;
  }
}

}  // namespace ranker::learner
