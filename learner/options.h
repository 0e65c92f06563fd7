// Options of the learner: model shape, tasks, optimizer, trainer. Plain
// structs with in-class defaults (the defaults ARE the standard benchmark
// model of contract §6); app/ turns YAML/flags/env into these and calls
// Validate() before use.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace ranker::learner {

enum class Architecture {
  kMmoe,          // K shared experts, one softmax gate per task
  kSharedBottom,  // one shared network under all towers
  kOmoe,          // K shared experts, one softmax gate shared by all tasks
  kIndependent,   // one network per task (no sharing)
  kPle,           // Progressive Layered Extraction (Tang et al. 2020), learner/net/ple.h
};

enum class TaskKind {
  kBinary,      // logistic loss; score contribution p^w
  kRegression,  // squared loss (on log1p(label) unless transform == kNone);
                // score contribution (1 + prediction)^w
};

enum class LabelTransform { kLog1p, kNone };

// The loss of a binary task over the examples of one list (the impressions
// of one request: Example::group).
enum class ListLoss {
  kPointwise,  // logistic loss per example
  // Softmax over the list's logits; the loss is the cross-entropy of the
  // list's click distribution (the clicked examples, equally weighted) to
  // that softmax (a multinomial likelihood). A list without a click adds
  // no loss; a list of one example has zero gradient. Binary tasks only.
  kListwise,
};
// How a binary task that trains on every impression at once (the joiner's
// immediate mode: a possibly fake negative now, a positive duplicate when
// the click joins) is corrected for the clicks that arrive later.
enum class DelayedFeedback {
  kNone = 0,
  // Fake-negative weighting (Ktena et al., RecSys 2019): positives weighted
  // (1 + p), negatives (1 - p)(1 + p). See FakeNegativeWeight().
  kFakeNegativeWeighting = 1,
  // The positive-unlabeled loss of the same paper: the positive duplicate's
  // loss is -log p + log(1 - p), which retracts the fake negative it
  // corrects; negatives take the plain log loss. See
  // PositiveUnlabeledLoss().
  kPositiveUnlabeled = 2,
  // DEFER (Gu et al., KDD 2021) with a zero waiting window: every
  // impression is trained twice, at once (a possibly fake negative) and
  // again with its real label (a positive when the click joins, a real
  // negative when the window closes without one); positives weighted 2,
  // negatives (1 - p) / (1 - p / 2). See DeferWeight().
  kDefer = 3,
};

struct TaskSpec {
  std::string name;
  TaskKind kind = TaskKind::kBinary;
  LabelTransform transform = LabelTransform::kLog1p;  // regression only
  double score_weight = 1.0;             // exponent in the ranking score (contract §2)
  double loss_weight = 1.0;              // weight of this task's loss in training
  ListLoss loss = ListLoss::kPointwise;  // binary only
  // Binary tasks: weight each example's loss by fake-negative weighting
  // (Ktena et al., RecSys 2019), for a task trained on every impression at
  // once as a negative plus a positive duplicate on a click (the joiner's
  // immediate mode sets it). See FakeNegativeWeight().
  bool fake_negative_weighting = false;
  // The delayed-feedback correction of a binary task; kNone with
  // fake_negative_weighting set means kFakeNegativeWeighting (see
  // CorrectionOf()).
  DelayedFeedback delayed_feedback = DelayedFeedback::kNone;
};

// The correction task `t` trains with.
inline DelayedFeedback CorrectionOf(const TaskSpec& t) {
  if (t.kind != TaskKind::kBinary) return DelayedFeedback::kNone;
  if (t.delayed_feedback != DelayedFeedback::kNone) return t.delayed_feedback;
  return t.fake_negative_weighting ? DelayedFeedback::kFakeNegativeWeighting
                                   : DelayedFeedback::kNone;
}

struct ModelOptions {
  Architecture architecture = Architecture::kMmoe;
  // Default tasks of contract §2.
  std::vector<TaskSpec> tasks = {
      {"click", TaskKind::kBinary, LabelTransform::kLog1p, 1.0, 1.0, ListLoss::kPointwise},
      {"watch", TaskKind::kRegression, LabelTransform::kLog1p, 1.0, 1.0, ListLoss::kPointwise},
  };
  // Input layout: categorical_slots embeddings of embedding_dim, then
  // dense_slots standardised dense values. Fields are bound to slots on first
  // sight (user_id, item_id, context.device first); see learner/README.
  int categorical_slots = 8;
  int embedding_dim = 16;
  int dense_slots = 8;
  // Experts (or the shared bottom / per-task networks): hidden layer sizes,
  // ReLU after each. The last size is the width the towers see.
  int num_experts = 8;
  std::vector<int> expert_hidden = {128, 64};
  // kPle: levels of extraction (1 = Customized Gate Control), and per
  // level the shared experts and the experts of each task (each shaped by
  // expert_hidden; num_experts is unused). The defaults give 8 experts a
  // level for the two default tasks, as many as mmoe's.
  int ple_levels = 2;
  int shared_experts = 4;
  int task_experts = 2;
  // Task towers: hidden sizes (ReLU), then a linear output of width 1.
  std::vector<int> tower_hidden = {32};
  // Position-bias tower (Zhao et al. 2019): added to the click logit in
  // training only.
  bool position_tower = true;
  int max_position = 20;  // positions above are clipped to this
  int max_devices = 8;    // distinct devices learned; more share "other"
  // 32: with 8, per-device curves were shrunk toward the average by up to
  // 0.23 logit on the learning test; 32 units cost ~1.3k parameters.
  int position_tower_hidden = 32;
  double position_dropout = 0.1;  // fraction of training examples whose position is dropped
  // Name of the binary task the position tower adds to.
  std::string position_task = "click";
  // Seed of every initialisation and of position dropout.
  uint64_t seed = 1;
  // Scale of the uniform initialisation of embedding rows: U(-s, s).
  double embedding_init_scale = 0.05;
  // Frequency admission (0 or 1 = off: every value gets a row on first
  // sight). With N > 1 a categorical value gets its own embedding row on its
  // N-th sighting in training; until then training treats it as missing
  // (zero vector, no update) and so does serving. Counted in a count-min
  // sketch (learner/embedding_table.h): hash collisions can admit a value a
  // few sightings early (rarely late), and old counts age out. <= 65535.
  int embedding_admit_after = 0;
  // Size of that sketch (4 rows of 16-bit counters; used only with
  // admission on): more bytes, fewer values admitted early.
  int64_t embedding_admit_sketch_bytes = 1 << 20;
  // Expiry (0 = off): a row no training example has used for this long in
  // event time (Example::ts_ms; the clock is the newest one trained on) is
  // removed; the value starts over from its initial weights (and admission
  // counting) when seen again. Bounds the rows on an endless stream.
  int64_t embedding_ttl_ms = 0;

  int input_width() const { return categorical_slots * embedding_dim + dense_slots; }
  Status Validate() const;
};

enum class OptimizerKind { kAdagrad, kAdam };

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdagrad;
  double learning_rate = 0.05;
  // Small, so the first updates of a rarely seen embedding row are not
  // swamped by the initial value: losses are batch means, so a row seen once
  // in a batch of 32 gets a gradient ~1/32 of a per-example one (0.1, the
  // Keras default, cost ~0.01 click AUC on the learning tests).
  double adagrad_initial_accumulator = 0.001;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double epsilon = 1e-8;
  // Embedding rows: learning rate multiplier (sparse updates).
  double embedding_lr_scale = 1.0;
  Status Validate() const;
};

struct TrainerOptions {
  int batch_size = 32;         // 1 = pure online SGD
  int metrics_window = 10000;  // examples in the "recent" progressive window
  // A gate whose normalised entropy of mean weights (GateHealth::entropy)
  // falls below this is reported collapsed onto few experts.
  double gate_collapse_entropy = 0.1;
  Status Validate() const;
};

}  // namespace ranker::learner
