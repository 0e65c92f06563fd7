#include "learner/options.h"

#include <set>

namespace ranker::learner {

Status ModelOptions::Validate() const {
  if (tasks.empty()) return Status::InvalidArgument("tasks: at least one task is required");
  std::set<std::string> names;
  for (const TaskSpec& t : tasks) {
    if (t.name.empty()) return Status::InvalidArgument("tasks: a task has an empty name");
    if (!names.insert(t.name).second) {
      return Status::InvalidArgument("tasks: duplicate task name '" + t.name + "'");
    }
    if (!(t.loss_weight >= 0)) {
      return Status::InvalidArgument("tasks." + t.name + ".loss_weight must be >= 0");
    }
    if (t.loss == ListLoss::kListwise && t.kind != TaskKind::kBinary) {
      return Status::InvalidArgument("tasks." + t.name + ".loss: listwise needs a binary task");
    }
  }
  if (categorical_slots < 1) return Status::InvalidArgument("model.categorical_slots must be >= 1");
  if (embedding_dim < 1) return Status::InvalidArgument("model.embedding_dim must be >= 1");
  if (dense_slots < 0) return Status::InvalidArgument("model.dense_slots must be >= 0");
  if (num_experts < 1) return Status::InvalidArgument("model.num_experts must be >= 1");
  if (expert_hidden.empty())
    return Status::InvalidArgument("model.expert_hidden must not be empty");
  for (int h : expert_hidden) {
    if (h < 1) return Status::InvalidArgument("model.expert_hidden sizes must be >= 1");
  }
  if (architecture == Architecture::kPle) {
    if (ple_levels < 1 || ple_levels > 8) {
      return Status::InvalidArgument("model.ple_levels must be in [1, 8]");
    }
    if (shared_experts < 1) return Status::InvalidArgument("model.shared_experts must be >= 1");
    if (task_experts < 1) return Status::InvalidArgument("model.task_experts must be >= 1");
  }
  for (int h : tower_hidden) {
    if (h < 1) return Status::InvalidArgument("model.tower_hidden sizes must be >= 1");
  }
  if (max_position < 1) return Status::InvalidArgument("model.max_position must be >= 1");
  if (max_devices < 1) return Status::InvalidArgument("model.max_devices must be >= 1");
  if (position_tower_hidden < 1) {
    return Status::InvalidArgument("model.position_tower_hidden must be >= 1");
  }
  if (!(position_dropout >= 0 && position_dropout < 1)) {
    return Status::InvalidArgument("model.position_dropout must be in [0, 1)");
  }
  if (!(embedding_init_scale >= 0)) {
    return Status::InvalidArgument("model.embedding_init_scale must be >= 0");
  }
  if (embedding_admit_after < 0 || embedding_admit_after > 65535) {
    return Status::InvalidArgument("model.embedding_admit_after must be in [0, 65535]");
  }
  if (embedding_admit_sketch_bytes < 64 || embedding_admit_sketch_bytes > (int64_t{1} << 30)) {
    return Status::InvalidArgument("model.embedding_admit_sketch_bytes must be in [64, 2^30]");
  }
  if (embedding_ttl_ms < 0) return Status::InvalidArgument("model.embedding_ttl_ms must be >= 0");
  if (position_tower) {
    bool found = false;
    for (const TaskSpec& t : tasks) {
      if (t.name == position_task) {
        if (t.kind != TaskKind::kBinary) {
          return Status::InvalidArgument("model.position_task '" + position_task +
                                         "' must be a binary task");
        }
        found = true;
      }
    }
    if (!found) {
      return Status::InvalidArgument(
          "model.position_task '" + position_task +
          "' is not a configured task (set model.position_tower: false?)");
    }
  }
  return Status::OK();
}

Status OptimizerOptions::Validate() const {
  if (!(learning_rate > 0)) return Status::InvalidArgument("optimizer.learning_rate must be > 0");
  if (!(adagrad_initial_accumulator >= 0)) {
    return Status::InvalidArgument("optimizer.adagrad_initial_accumulator must be >= 0");
  }
  if (!(adam_beta1 >= 0 && adam_beta1 < 1))
    return Status::InvalidArgument("optimizer.adam_beta1 must be in [0, 1)");
  if (!(adam_beta2 >= 0 && adam_beta2 < 1))
    return Status::InvalidArgument("optimizer.adam_beta2 must be in [0, 1)");
  if (!(epsilon > 0)) return Status::InvalidArgument("optimizer.epsilon must be > 0");
  if (!(embedding_lr_scale > 0))
    return Status::InvalidArgument("optimizer.embedding_lr_scale must be > 0");
  return Status::OK();
}

Status TrainerOptions::Validate() const {
  if (batch_size < 1) return Status::InvalidArgument("train.batch_size must be >= 1");
  if (metrics_window < 1) return Status::InvalidArgument("train.metrics_window must be >= 1");
  if (!(gate_collapse_entropy >= 0 && gate_collapse_entropy <= 1)) {
    return Status::InvalidArgument("train.gate_collapse_entropy must be in [0, 1]");
  }
  return Status::OK();
}

}  // namespace ranker::learner
