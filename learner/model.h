// The learned model: owns ALL learned state (network parameters, position
// tower, embedding rows, input layout and dense-feature statistics,
// optimizer state, the position-dropout stream, the step counter) and
// trains it one batch at a time.
//
// Determinism: the same options and the same ordered batches give
// bit-identical state, hence the same ParamChecksum() (on the same build and
// CPU: Eigen's kernels depend on both).
//
// Thread-safety: none. One trainer thread owns a Model and calls TrainStep;
// scorers read an immutable copy (Clone(), published as
// shared_ptr<const Model>) through learner/scorer.h, where every const
// method is safe to call concurrently. A copy shares the embedding rows
// with the trainer's model (learner/embedding_table.h): the trainer's
// later writes never change it, and neither side waits for the other.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "learner/embedding_table.h"
#include "learner/event.h"
#include "learner/input_layout.h"
#include "learner/net/network.h"
#include "learner/net/position_tower.h"
#include "learner/optimizer.h"
#include "learner/options.h"

namespace ranker::learner {

// What TrainStep saw and did, for progressive (prequential) metrics.
struct StepResult {
  bool skipped = false;  // loss or a gradient was non-finite: nothing applied
  int batch_size = 0;
  int num_tasks = 0;
  // [i * num_tasks + t], made BEFORE the update: the probability (position
  // tower included) for binary tasks, the prediction on the transformed
  // scale for regression.
  std::vector<double> predictions;
  // [i * num_tasks + t]: the transformed label, kNoLabel when missing.
  std::vector<double> labels;
  // Per task: gate weights [B x num_experts]; 0 x 0 for gate-less archs.
  std::vector<Matrix> gates;
  // Per task: the mean loss over its labelled examples, or for a listwise
  // task over its lists with a click (BatchListwiseLoss), whose number is
  // in `lists` (0 for pointwise tasks). The predictions of a listwise task
  // are the softmax within each list.
  std::vector<double> loss;
  std::vector<int> labelled;  // per task: examples with a label
  std::vector<int> lists;

  double prediction(int i, int t) const { return predictions[i * num_tasks + t]; }
  double label(int i, int t) const { return labels[i * num_tasks + t]; }
};

// The training objective's gradient at the current state (gradient checks,
// diagnostics): what the next TrainStep(batch) would apply.
struct ModelGradients {
  double loss = 0;  // sum over tasks of loss_weight * mean loss
  NetworkParams network;
  MlpParams position;          // empty without the position tower
  std::vector<uint64_t> keys;  // distinct embedding keys of the batch
  Matrix rows;                 // [keys x dim]: dL/d(row)
};

class Model {
 public:
  static StatusOr<std::unique_ptr<Model>> Create(const ModelOptions& model,
                                                 const OptimizerOptions& optimizer);

  // ONE forward/backward/update on the batch: predictions first (before the
  // update), then gradients, then, if the loss and every gradient are
  // finite, the update (new embedding rows, slot and device bindings,
  // dense-feature statistics, parameters, optimizer state). Otherwise
  // NOTHING changes and the step is reported skipped.
  // REQUIRES: !batch.empty().
  void TrainStep(std::span<const Example> batch, StepResult* result);
  StepResult TrainStep(std::span<const Example> batch);

  // The gradient the next TrainStep(batch) would apply, with no state
  // change (only scratch buffers are reused).
  ModelGradients Gradients(std::span<const Example> batch);

  // Digest of every learned value, optimizer state included: the dense
  // part's bytes, then the embedding table's digest (an order-independent
  // sum of per-row hashes kept at O(rows changed), see EmbeddingTable).
  // Same options and stream, same value: with or without copies,
  // snapshots or restores in between. On the trainer's model, call it on
  // the trainer's thread (it folds the rows written since the last fold).
  uint64_t ParamChecksum() const;
  std::string ParamChecksumHex() const;
  // The param_checksum of the releases before the incremental digest (rows
  // digested one by one in key order): O(rows log rows), only to verify
  // snapshots that recorded it (snapshot state version 1).
  std::string LegacyParamChecksumHex() const;

  // A self-checking binary image (magic, format version, shape digest,
  // trailing checksum).
  void Serialize(std::string* out) const;
  // Corruption on a damaged image; InvalidArgument when it was written
  // with options of a different shape.
  static StatusOr<std::unique_ptr<Model>> Deserialize(std::string_view data,
                                                      const ModelOptions& model,
                                                      const OptimizerOptions& optimizer);
  // A copy to publish to scorers: O(dense part) plus the digest fold of
  // the rows written since the last fold; the embedding rows are shared,
  // not copied (see EmbeddingTable's copy). The copy is clean (no dirty
  // rows) and equal in every learned value (same ParamChecksum). Call it
  // on the trainer's thread when this is the trainer's model.
  std::unique_ptr<Model> Clone() const;

  // Snapshots store the embedding rows one by one (only changed ones each
  // time) and everything else as one blob. SerializeState() writes the
  // blob: the image of Serialize() without the rows (same checks). The
  // rows come from embeddings().ExportRow(). Restore() builds a model from
  // the blob and every row (key, ExportRow bytes); the result's
  // ParamChecksum equals the saved model's, and its rows are clean.
  void SerializeState(std::string* out) const;
  static StatusOr<std::unique_ptr<Model>> Restore(
      std::string_view state, std::span<const std::pair<uint64_t, std::string>> rows,
      const ModelOptions& model, const OptimizerOptions& optimizer);
  // Restore() without the rows: the caller imports them one at a time
  // (mutable_embeddings()->ImportRow), so a restore streamed from the store
  // never holds the rows twice. Same errors as Restore().
  static StatusOr<std::unique_ptr<Model>> RestoreState(std::string_view state,
                                                       const ModelOptions& model,
                                                       const OptimizerOptions& optimizer);
  // A follower's next version: the state blob (as Restore), the rows of
  // `base` (shared, not copied; none when base is null), then `changed`
  // rows imported and `removed` keys dropped. O(dense part + changed +
  // removed); `base` is not changed and may be in use by readers.
  static StatusOr<std::unique_ptr<Model>> RestoreDelta(
      std::string_view state, const Model* base,
      std::span<const std::pair<uint64_t, std::string>> changed, std::span<const uint64_t> removed,
      const ModelOptions& model, const OptimizerOptions& optimizer);
  // Starts a new dirty period of `channel` (EmbeddingTable::kDirtyChannels:
  // 0 after a snapshot captured the changes, 1 after a model-topic broadcast).
  void ClearDirtyRows(int channel = 0) { table_.ClearDirty(channel); }

  // contract §3 position_bias; zeros without the position tower.
  PositionBiasReport PositionBias() const;

  uint64_t steps() const { return steps_; }
  size_t embedding_rows() const { return table_.size(); }
  // Dense parameters plus embedding weights (optimizer state excluded).
  size_t num_parameters() const;
  // The index of the task named `name`, or -1.
  int TaskIndex(std::string_view name) const;

  // Read access for the scorer and tests.
  const ModelOptions& options() const { return options_; }
  const Network& network() const { return network_; }
  const NetworkParams& params() const { return params_; }
  const InputLayout& layout() const { return layout_; }
  const EmbeddingTable& embeddings() const { return table_; }
  // Write access for gradient checks and fault-injection tests.
  NetworkParams* mutable_params() { return &params_; }
  MlpParams* mutable_position_params() { return &pos_params_; }
  EmbeddingTable* mutable_embeddings() { return &table_; }

  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

 private:
  // `initialise`: draw the initial parameters (false: Clone() copies them).
  Model(const ModelOptions& model, const OptimizerOptions& optimizer, bool initialise = true);
  void BindViews();
  double ComputeGradients(std::span<const Example> batch, StepResult* r, bool allow_deferred);
  bool IsDeferred(size_t tensor) const;
  bool DeferredInputGradBounded() const;
  void ForwardPosition(std::span<const Example> batch);
  double Losses(std::span<const Example> batch, StepResult* r);
  void LossWeights(std::span<const Example> batch, int t, Eigen::Index i, double pred);
  double ListwiseLoss(const TaskSpec& task, int t, StepResult* r);
  bool GradientsFinite() const;
  void DiscardGradients();
  void Apply(size_t batch_size);
  bool DropPosition(uint64_t ordinal) const;
  uint64_t ShapeDigest() const;
  void DigestDense(Digest64* d) const;
  void SerializeBody(std::string* out, bool with_rows) const;
  Status DeserializeBody(Decoder* in, bool with_rows);
  void WriteImage(std::string* out, bool with_rows) const;
  static StatusOr<std::unique_ptr<Model>> ReadImage(std::string_view data, bool with_rows,
                                                    const ModelOptions& model,
                                                    const OptimizerOptions& optimizer);

  ModelOptions options_;
  OptimizerOptions optimizer_options_;
  Network network_;
  PositionTower position_;
  int pos_task_ = -1;  // task the position tower adds to, or -1
  // Learned state.
  NetworkParams params_;
  MlpParams pos_params_;
  EmbeddingTable table_;
  InputLayout layout_;
  Optimizer optimizer_;
  uint64_t steps_ = 0;
  uint64_t dropout_ordinal_ = 0;  // training examples seen by the dropout
  // Gradients (zero between steps) and views of every dense tensor.
  NetworkParams grads_;
  MlpParams pos_grads_;
  std::vector<TensorView> param_views_;
  std::vector<TensorView> grad_views_;
  // This step left the experts' weight gradients implicit
  // (WeightGrad::kDeferred, small Adagrad batches): grads_ holds zeros for
  // them and Apply() updates from outer_ (views into cache_), the layers'
  // deltas and inputs. outer_[k] is the gradient of tensor 2k.
  bool deferred_ = false;
  std::vector<OuterGrad> outer_;
  // The first expert layer's share of dx_ is deferred too (see
  // ExpertStack::Backward): Apply has the optimizer compute it into
  // first_dx_ while it updates that layer, then adds it to dx_ and derives
  // the rows' gradients; until then row_grads_ lacks it.
  bool deferred_input_grad_ = false;
  Matrix first_dx_;
  // Per-step scratch, reused.
  BatchInput input_;
  NetworkCache cache_;
  MlpCache pos_cache_;
  Matrix pos_x_;
  std::vector<int> pos_idx_, dev_idx_;
  std::vector<std::string> pending_devices_;
  std::vector<Vector> outputs_, d_outputs_;
  std::vector<double> targets_, list_probs_;
  std::vector<double> weights_;  // per example of one task; empty = all 1
  std::vector<uint64_t> groups_;
  Matrix dx_, row_grads_;
};

}  // namespace ranker::learner
