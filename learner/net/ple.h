// Progressive Layered Extraction (Tang et al., RecSys 2020): the routing of
// Architecture::kPle above its first level of experts.
//
// Every level has `shared_experts` (S) shared experts and, for each of the
// T tasks, `task_experts` (m) experts of that task. Experts are numbered
// per level: shared ones [0, S), then task t's [S + t*m, S + (t+1)*m).
// Per level and "group" (each task, and the shared group below the last
// level) a softmax gate mixes the group's experts into the group's
// representation:
//   task t:  its own m experts, then the S shared ones (gate width m + S);
//   shared:  all S + T*m experts of the level (gate width S + T*m).
// Level 0's experts and gates read the input x; at level l > 0 a group's
// experts and gate read that group's representation of level l - 1 (task
// experts their task's, shared experts the shared one). Task t's tower
// reads its representation of the last level. ple_levels == 1 is the
// Customized Gate Control (CGC) of the paper: no shared gate at all.
//
// Level 0's experts are the Network's ExpertStack (one fused first layer,
// factored inputs, the scorer's request/candidate split all apply); the
// upper levels' experts are one ExpertStack per (level, group) over that
// group's representation, with the layer sizes of `expert_hidden`.
//
// Parameters: NetworkParams::gates holds every gate, level by level, the
// tasks' before the shared one (PleGate()); NetworkParams::upper holds the
// upper stacks, level by level, tasks then shared (UpperStack()).
//
// Holds the shape only; stateless and thread-safe.
#pragma once

#include <vector>

#include "learner/net/expert_stack.h"
#include "learner/net/softmax_gate.h"
#include "learner/options.h"

namespace ranker::learner {

struct NetworkParams;
struct NetworkCache;

// Caller-owned per-batch state of the upper levels, reused across steps.
struct PleCache {
  std::vector<Matrix> reps;                  // [PleGate(l, g)]: group g's representation [B x out]
  std::vector<ExpertCache> upper;            // per upper stack
  std::vector<std::vector<Matrix>> d_upper;  // per upper stack: dL/d(expert outputs)
  std::vector<Matrix> d_reps;                // [PleGate(l, g)]: dL/d(reps)
  std::vector<Matrix> d_probs;               // per gate: dL/d(gate weights)
  Matrix dx;                                 // Backward scratch
};

class Ple {
 public:
  // REQUIRES: options.Validate().ok(); architecture kPle.
  explicit Ple(const ModelOptions& options);

  int levels() const { return levels_; }
  int num_tasks() const { return num_tasks_; }
  int shared_experts() const { return shared_; }
  int task_experts() const { return per_task_; }
  // Experts per level: S + T*m.
  int experts_per_level() const { return shared_ + num_tasks_ * per_task_; }
  int num_gates() const { return levels_ * (num_tasks_ + 1) - 1; }
  // Index of the gate (and representation) of group g at level l; g ==
  // num_tasks() is the shared group (absent at the last level).
  int PleGate(int level, int group) const { return level * (num_tasks_ + 1) + group; }
  // Index into NetworkParams::upper of group g's experts at level l >= 1.
  int UpperStack(int level, int group) const { return (level - 1) * (num_tasks_ + 1) + group; }
  int num_upper() const { return (levels_ - 1) * (num_tasks_ + 1); }
  // The width of group g's gate: m + S for a task, S + T*m for the shared.
  int GateWidth(int group) const;

  // Appends the gates and upper stacks to *p (drawn from rng in that order).
  void Init(Rng* rng, int input_width, NetworkParams* p) const;
  void Zeros(int input_width, NetworkParams* p) const;

  // Runs the gates and the upper levels. REQUIRES: level 0's experts ran
  // with cache->experts (Forward or ForwardFromFirst); x is the input they
  // read (the caller's storage, unchanged until Backward).
  void Forward(const ExpertStack& first, const NetworkParams& p, const ConstMatrixRef& x,
               NetworkCache* cache) const;
  // Task t's representation of the last level (its tower's input).
  ConstMatrixRef TaskOutput(const NetworkCache& cache, int t) const;

  // REQUIRES: Forward ran with `cache`, and cache->ple.d_reps[PleGate(
  // levels() - 1, t)] holds dL/d(TaskOutput(t)) for every task. ADDS the
  // parameter gradients into *grad (level 0's first expert layer's weights
  // as `expert_w` says); writes dL/dx into *dx (may be nullptr), with the
  // same factored/deferred conventions as ExpertStack::Backward.
  void Backward(const ExpertStack& first, const NetworkParams& p, NetworkCache* cache,
                NetworkParams* grad, Matrix* dx, WeightGrad expert_w) const;

 private:
  // Global expert index k of level l as (stack, expert within it); stack -1
  // is level 0's fused stack.
  std::pair<int, int> Locate(int level, int k) const;
  // The experts group g's gate mixes, in gate-weight order.
  std::vector<int> GateExperts(int group) const;
  ConstMatrixRef ExpertOut(const ExpertStack& first, const NetworkCache& cache, int level,
                           int k) const;
  const ExpertStack& Stack(int group) const {
    return group == num_tasks_ ? shared_stack_ : task_stack_;
  }
  int Groups(int level) const { return level + 1 < levels_ ? num_tasks_ + 1 : num_tasks_; }
  void MixLevel(const ExpertStack& first, const NetworkParams& p, const ConstMatrixRef& x,
                int level, NetworkCache* cache) const;
  void BackwardMixture(const ExpertStack& first, int level, NetworkCache* cache,
                       std::vector<Matrix>* d_first) const;
  void BackwardLevel(const NetworkParams& p, int level, NetworkCache* cache,
                     NetworkParams* grad) const;

  const int levels_;
  const int num_tasks_;
  const int shared_;
  const int per_task_;
  const int input_width_;
  ExpertStack shared_stack_;  // an upper level's shared experts
  ExpertStack task_stack_;    // an upper level's experts of one task
  SoftmaxGate gate_;
};

}  // namespace ranker::learner
