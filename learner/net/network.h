// The multi-task network of contract §2 for the architectures of
// ModelOptions::architecture. Same inputs and towers for all:
//   kMmoe         num_experts experts, one softmax gate per task (Ma et al.)
//   kOmoe         num_experts experts, ONE gate shared by all tasks
//   kSharedBottom one expert-shaped bottom network under all towers, no gate
//   kIndependent  one expert-shaped network per task, no gate
//   kPle          ple_levels levels of shared and per-task experts with
//                 per-task and shared gates (Tang et al. 2020; learner/net/ple.h)
// Each task's tower (ReLU hidden layers of tower_hidden, then a linear
// output) reads the gate-weighted sum of expert outputs, or its own bottom
// network's output. Outputs are logits (binary tasks) or predictions on the
// transformed scale (regression). The position tower lives apart
// (learner/net/position_tower.h).
#pragma once

#include <optional>
#include <vector>

#include "learner/net/expert_stack.h"
#include "learner/net/ple.h"
#include "learner/net/softmax_gate.h"
#include "learner/options.h"

namespace ranker::learner {

struct NetworkParams {
  ExpertParams experts;
  std::vector<DenseParams> gates;  // one per gate (see Network::num_gates)
  std::vector<MlpParams> towers;   // one per task
  // kPle only: the experts of levels above the first (Ple::UpperStack).
  std::vector<ExpertParams> upper;

  // Every tensor in a fixed order (optimizer state, checksum, files).
  std::vector<TensorView> Tensors();
  void SetZero();
};

// Caller-owned per-batch state (activations and scratch), reused across
// steps: a steady batch size allocates nothing after the first step.
struct NetworkCache {
  ExpertCache experts;
  std::vector<GateCache> gates;
  std::vector<Matrix> mixed;  // per task: the tower input (gated archs)
  std::vector<MlpCache> towers;
  // Backward scratch.
  std::vector<Matrix> d_experts;
  std::vector<Matrix> d_probs;
  Matrix d_mixed;
  Matrix dx_gate;
  PleCache ple;  // kPle only
  // Storage for a caller's factored form of its input (the trainer's, see
  // ExpertStack's FactoredInput); the network only reads it.
  FactoredInput input_factors;
};

// Holds the shape only; stateless and thread-safe.
class Network {
 public:
  // REQUIRES: options.Validate().ok().
  explicit Network(const ModelOptions& options);

  int input_width() const { return experts_.in(); }
  int num_tasks() const { return num_tasks_; }
  int num_experts() const { return experts_.num_experts(); }
  // 0 for the gate-less architectures.
  int num_gates() const { return num_gates_; }
  // The width of GateWeights(): num_experts(), or for kPle a task gate's
  // (its own experts and the shared ones of the last level).
  int gate_width() const;
  // The PLE routing, or nullptr for the other architectures.
  const Ple* ple() const { return ple_ ? &*ple_ : nullptr; }
  // The gate of task t, or -1 when the architecture has none.
  int GateOfTask(int t) const;
  const ExpertStack& experts() const { return experts_; }

  // Deterministic initialisation from `rng`.
  NetworkParams Init(Rng* rng) const;
  NetworkParams Zeros() const;

  // `factored`: x in factored form for the experts' first layer (see
  // ExpertStack::Forward), or nullptr.
  void Forward(const NetworkParams& p, const ConstMatrixRef& x, NetworkCache* cache,
               const FactoredInput* factored = nullptr) const;
  // Forward for a caller that wrote the first expert layer's pre-activation
  // into cache->experts.first itself; x is still needed by the gates.
  void ForwardFromFirst(const NetworkParams& p, const ConstMatrixRef& x, NetworkCache* cache) const;
  // Task t's output [B x 1]. REQUIRES: a Forward ran with `cache`.
  const Matrix& Output(const NetworkCache& cache, int t) const;
  // Task t's gate weights [B x gate_width()], or nullptr (gate-less); for
  // kPle, its gate of the last level.
  const Matrix* GateWeights(const NetworkCache& cache, int t) const;

  // d_outputs[t] is dL/d(output of task t) [B]. ADDS parameter gradients
  // into *grad (the experts' weight matrices as `expert_w` says, see
  // ExpertStack::DeferredGrads); writes dL/dx [B x input_width()] into *dx
  // (may be nullptr; after a factored Forward, the shared slots' part of
  // it is in cache->experts.d_rows instead, and the experts' part of the
  // columns from FactoredInput::input_grad_columns on is left out, see
  // ExpertStack::Backward).
  // REQUIRES: Forward ran on this batch with `cache`.
  void Backward(const NetworkParams& p, NetworkCache* cache, const std::vector<Vector>& d_outputs,
                NetworkParams* grad, Matrix* dx,
                WeightGrad expert_w = WeightGrad::kAccumulate) const;

 private:
  void ForwardGatesAndTowers(const NetworkParams& p, const ConstMatrixRef& x,
                             NetworkCache* cache) const;
  // Tower t's input: the gate mixture or its bottom network's output.
  ConstMatrixRef TowerInput(const NetworkCache& cache, int t) const;
  void BackwardMixture(NetworkCache* cache, int t) const;
  void BackwardPle(const NetworkParams& p, NetworkCache* cache,
                   const std::vector<Vector>& d_outputs, NetworkParams* grad, Matrix* dx,
                   WeightGrad expert_w) const;

  const Architecture arch_;
  const int num_tasks_;
  const int num_gates_;
  ExpertStack experts_;  // kPle: the first level's experts
  std::optional<Ple> ple_;
  Mlp tower_;
  SoftmaxGate gate_;
};

}  // namespace ranker::learner
