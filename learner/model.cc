#include "learner/model.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/random.h"
#include "learner/net/loss.h"

namespace ranker::learner {
namespace {

// Appends the columns [begin, end) to runs, merged with the last run when
// adjacent.
void AddRun(int begin, int end, std::vector<std::pair<int, int>>* runs) {
  if (begin >= end) return;
  if (!runs->empty() && runs->back().second == begin) {
    runs->back().second = end;
  } else {
    runs->emplace_back(begin, end);
  }
}

// Separates the position-dropout stream from the initialisation stream.
constexpr uint64_t kDropoutSalt = 0x70d1d0b5a1e7ULL;

// Adagrad batches up to this size apply the experts' weight gradients
// from the layers' deltas and inputs (Optimizer::ApplyAdagradOuter) instead
// of materialising them: for small batches the memory traffic of the
// update, not the arithmetic, is the cost, and the outer products let it
// skip inactive units.
constexpr size_t kMaxDeferredBatch = 4;

// Batches of at least this size multiply a categorical slot's embedding
// rows by the first expert layer once per distinct row of the batch
// (ExpertStack's FactoredInput) when the slot has at most one distinct row
// per kShareRatio examples (countries, devices, categories, ...): fewer
// multiply-adds than once per example, the same result up to rounding.
// 4, not 2: a slot with about B/2 distinct rows saves few multiply-adds,
// and its per-row products and sums, narrow GEMMs (inner size 16) and
// row-by-row additions, cost more than its 16 columns in the batch GEMMs
// (at batch 256 of the standard model: -90 us a step for a 129-row slot).
constexpr size_t kMinFactoredBatch = 64;
constexpr int32_t kShareRatio = 4;

// Describes in.x in factored form: the categorical slots with few distinct
// rows become SharedSlots; the other used columns stay in f->rest (slots no
// example uses are all zero and are left out).
void FactorInput(const BatchInput& in, int cat_slots, int dim, FactoredInput* f) {
  FindSharedSlots(in, cat_slots, dim, kShareRatio, &f->slots, &f->counts, &f->index, &f->scratch);
  f->rest.clear();
  for (int s = 0; s < cat_slots; ++s) {
    if (f->counts[s] > 0 && f->index[s] < 0) AddRun(s * dim, (s + 1) * dim, &f->rest);
  }
  AddRun(cat_slots * dim, static_cast<int>(in.x.cols()), &f->rest);
  f->input_grad_columns = cat_slots * dim;  // dense features have no rows to train
}

// After a factored step, the experts' part of the shared slots' row
// gradients (left out of dx) comes per distinct row: adds it into
// *row_grads (rows indexed like BatchInput::keys).
void AddSharedRowGradients(const ExpertCache& experts, Matrix* row_grads) {
  if (experts.factored == nullptr) return;
  for (size_t i = 0; i < experts.factored->slots.size(); ++i) {
    const SharedSlot& slot = experts.factored->slots[i];
    for (size_t r = 0; r < slot.ids.size(); ++r) {
      row_grads->row(slot.ids[r]) += experts.d_rows[i].row(static_cast<Eigen::Index>(r));
    }
  }
}

// Whether G = left^T * right is finite: |G(r, c)| <= sum_b max|left(b, .)|
// * max|right(b, .)| bounds every element and every partial sum of it.
bool OuterGradientBounded(const OuterGrad& g) {
  const BatchView::Map left = g.left.get(), right = g.right.get();
  double bound = 0;
  for (Eigen::Index b = 0; b < left.rows(); ++b) {
    bound += static_cast<double>(left.row(b).cwiseAbs().maxCoeff()) *
             static_cast<double>(right.row(b).cwiseAbs().maxCoeff());
  }
  return bound < static_cast<double>(std::numeric_limits<Real>::max());
}

int FindTask(const ModelOptions& o, std::string_view name) {
  for (size_t t = 0; t < o.tasks.size(); ++t) {
    if (o.tasks[t].name == name) return static_cast<int>(t);
  }
  return -1;
}

Real SumOf(ConstTensorView v) {
  return Eigen::Map<const Eigen::Array<Real, Eigen::Dynamic, 1>>(
             v.data(), static_cast<Eigen::Index>(v.size()))
      .sum();
}

}  // namespace

Model::Model(const ModelOptions& model, const OptimizerOptions& optimizer, bool initialise)
    : options_(model),
      optimizer_options_(optimizer),
      network_(model),
      position_(model),
      pos_task_(model.position_tower ? FindTask(model, model.position_task) : -1),
      table_(model.embedding_dim, Optimizer(optimizer).RowStateWidth(model.embedding_dim),
             Optimizer(optimizer).RowStateInit(), model.seed, model.embedding_init_scale,
             RowPolicy::Of(model)),
      layout_(model),
      optimizer_(optimizer) {
  grads_ = network_.Zeros();
  if (pos_task_ >= 0) pos_grads_ = position_.Zeros();
  if (!initialise) return;  // Clone() copies the parameters and binds the views
  Rng rng(model.seed);
  params_ = network_.Init(&rng);
  if (pos_task_ >= 0) pos_params_ = position_.Init(&rng);
  BindViews();
  optimizer_.InitDense(param_views_);
}

StatusOr<std::unique_ptr<Model>> Model::Create(const ModelOptions& model,
                                               const OptimizerOptions& optimizer) {
  RANKER_RETURN_IF_ERROR(model.Validate());
  RANKER_RETURN_IF_ERROR(optimizer.Validate());
  return std::unique_ptr<Model>(new Model(model, optimizer));
}

void Model::BindViews() {
  param_views_ = params_.Tensors();
  grad_views_ = grads_.Tensors();
  AppendTensors(&pos_params_, &param_views_);
  AppendTensors(&pos_grads_, &grad_views_);
}

std::unique_ptr<Model> Model::Clone() const {
  std::unique_ptr<Model> m(new Model(options_, optimizer_options_, /*initialise=*/false));
  m->params_ = params_;
  m->pos_params_ = pos_params_;
  m->table_ = table_;
  m->layout_ = layout_;
  m->optimizer_ = optimizer_;
  m->steps_ = steps_;
  m->dropout_ordinal_ = dropout_ordinal_;
  std::string devices;
  position_.Serialize(&devices);
  Decoder in(devices, "position tower");
  const Status st = m->position_.Deserialize(&in);
  assert(st.ok());
  (void)st;
  m->BindViews();
  return m;
}

int Model::TaskIndex(std::string_view name) const { return FindTask(options_, name); }

size_t Model::num_parameters() const {
  size_t n = table_.size() * static_cast<size_t>(options_.embedding_dim);
  for (const TensorView& v : param_views_) n += v.size();
  return n;
}

bool Model::DropPosition(uint64_t ordinal) const {
  if (options_.position_dropout <= 0) return false;
  Rng rng(HashCombine(options_.seed ^ kDropoutSalt, ordinal));
  return rng.Bernoulli(options_.position_dropout);
}

void Model::ForwardPosition(std::span<const Example> batch) {
  pos_idx_.resize(batch.size());
  dev_idx_.resize(batch.size());
  pending_devices_.clear();
  for (size_t b = 0; b < batch.size(); ++b) {
    const bool dropped = DropPosition(dropout_ordinal_ + b);
    pos_idx_[b] = dropped ? 0 : position_.PositionIndex(batch[b].position);
    dev_idx_[b] = position_.DeviceIndex(batch[b].device, &pending_devices_);
  }
  position_.BuildInput(pos_idx_, dev_idx_, &pos_x_);
  position_.Forward(pos_params_, pos_x_, &pos_cache_);
}

// Fills the per-task outputs, predictions, labels and losses and the
// dL/d(output) of each task; returns the weighted total loss.
double Model::Losses(std::span<const Example> batch, StepResult* r) {
  const int num_tasks = network_.num_tasks();
  const Eigen::Index n = static_cast<Eigen::Index>(batch.size());
  outputs_.resize(num_tasks);
  d_outputs_.resize(num_tasks);
  targets_.resize(batch.size());
  groups_.resize(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) groups_[i] = batch[i].group;
  double total = 0;
  for (int t = 0; t < num_tasks; ++t) {
    const TaskSpec& task = options_.tasks[t];
    outputs_[t] = network_.Output(cache_, t).col(0);
    if (t == pos_task_) outputs_[t] += pos_cache_.layers.back().y.col(0);
    weights_.clear();
    for (Eigen::Index i = 0; i < n; ++i) {
      const std::vector<double>& labels = batch[i].labels;
      targets_[i] =
          TransformLabel(task, static_cast<size_t>(t) < labels.size() ? labels[t] : kNoLabel);
      const double out = outputs_[t][i];
      const double pred = task.kind == TaskKind::kBinary ? Sigmoid(out) : out;
      r->predictions[i * num_tasks + t] = pred;
      r->labels[i * num_tasks + t] = targets_[i];
      LossWeights(batch, t, i, pred);
    }
    if (task.loss == ListLoss::kListwise) {
      r->loss[t] = ListwiseLoss(task, t, r);
      if (r->lists[t] > 0) total += task.loss_weight * r->loss[t];
    } else {
      r->loss[t] =
          BatchTaskLoss(task, outputs_[t], targets_, &d_outputs_[t], &r->labelled[t], weights_);
      // BatchTaskLoss averages over the task's labelled examples. Under a
      // delayed-feedback correction the step averages over the whole batch
      // instead: immediate mode's batches mix click negatives, lone positive
      // corrections and watch examples with the click masked, and the
      // per-task mean gave a correction among masked examples the weight of
      // a whole batch (issue 16: the CTR came out 85% too high). Other
      // tasks keep the per-task mean, which balances a sparsely labelled
      // task (e.g. watch time only on clicks) against the others.
      double share = 1.0;
      if (CorrectionOf(task) != DelayedFeedback::kNone && r->labelled[t] > 0 &&
          r->labelled[t] < n) {
        share = static_cast<double>(r->labelled[t]) / static_cast<double>(n);
        d_outputs_[t] *= static_cast<Real>(share);
      }
      if (r->labelled[t] > 0) total += task.loss_weight * r->loss[t] * share;
    }
    const Matrix* gates = network_.GateWeights(cache_, t);
    if (gates != nullptr) {
      r->gates[t] = *gates;
    } else {
      r->gates[t].resize(0, 0);
    }
  }
  return total;
}

// Appends example i's loss weight for task t to weights_ once some example
// of the batch needs one (weights_ stays empty, meaning all 1, otherwise).
void Model::LossWeights(std::span<const Example> batch, int t, Eigen::Index i, double pred) {
  const TaskSpec& task = options_.tasks[t];
  const DelayedFeedback correction = CorrectionOf(task);
  double w = LossWeight(batch[i], static_cast<size_t>(t));
  if (correction != DelayedFeedback::kNone && HasLabel(targets_[i])) {
    w *= DelayedFeedbackWeight(correction, pred, targets_[i]);
  }
  if (weights_.empty() && w == 1.0) return;
  if (weights_.empty()) weights_.assign(static_cast<size_t>(i), 1.0);
  weights_.push_back(w);
}

// Task t's listwise loss (targets_ and outputs_[t] filled): the within-list
// softmax replaces the sigmoid as the reported prediction.
double Model::ListwiseLoss(const TaskSpec& task, int t, StepResult* r) {
  const double loss = BatchListwiseLoss(task, outputs_[t], targets_, groups_, &d_outputs_[t],
                                        &list_probs_, &r->lists[t]);
  int labelled = 0;
  for (size_t i = 0; i < targets_.size(); ++i) {
    r->predictions[i * r->num_tasks + t] = list_probs_[i];
    labelled += HasLabel(targets_[i]) ? 1 : 0;
  }
  r->labelled[t] = labelled;
  return loss;
}

double Model::ComputeGradients(std::span<const Example> batch, StepResult* r, bool allow_deferred) {
  assert(!batch.empty());
  const int num_tasks = network_.num_tasks();
  r->skipped = false;
  r->batch_size = static_cast<int>(batch.size());
  r->num_tasks = num_tasks;
  r->predictions.resize(batch.size() * num_tasks);
  r->labels.resize(batch.size() * num_tasks);
  r->gates.resize(num_tasks);
  r->loss.assign(num_tasks, 0.0);
  r->labelled.assign(num_tasks, 0);
  r->lists.assign(num_tasks, 0);

  layout_.Build(batch, table_, InputLayout::Mode::kTrain, &input_);
  if (pos_task_ >= 0) ForwardPosition(batch);
  deferred_ = allow_deferred && optimizer_options_.kind == OptimizerKind::kAdagrad &&
              batch.size() <= kMaxDeferredBatch;
  const FactoredInput* factored = nullptr;
  if (!deferred_ && batch.size() >= kMinFactoredBatch) {
    FactorInput(input_, options_.categorical_slots, options_.embedding_dim, &cache_.input_factors);
    factored = &cache_.input_factors;
  }
  network_.Forward(params_, input_.x, &cache_, factored);
  const double total = Losses(batch, r);
  const bool deferred_backward = deferred_;
  network_.Backward(params_, &cache_, d_outputs_, &grads_, &dx_,
                    deferred_ ? WeightGrad::kDeferred : WeightGrad::kAccumulate);
  outer_.clear();
  if (deferred_) network_.experts().DeferredGrads(cache_.experts, &outer_);
  if (!std::all_of(outer_.begin(), outer_.end(), OuterGradientBounded)) {
    // Materialise them, so the finiteness check sees every value.
    for (size_t k = 0; k < outer_.size(); ++k) {
      const BatchView::Map left = outer_[k].left.get(), right = outer_[k].right.get();
      Eigen::Map<Matrix>(grad_views_[2 * k].data(), left.cols(), right.cols()).noalias() +=
          left.transpose() * right;
    }
    deferred_ = false;
    outer_.clear();
  }
  // The first expert layer's share of dx was deferred with its weight
  // gradient: Apply computes it in its pass over that layer's weights when
  // a bound proves the rows' gradients finite with it (so that the step is
  // still checked before anything changes); otherwise it is added now.
  deferred_input_grad_ = deferred_ && DeferredInputGradBounded();
  if (deferred_backward && !deferred_input_grad_) {
    network_.experts().AddFirstInputGrad(params_.experts, cache_.experts, &dx_);
  }
  if (pos_task_ >= 0) {
    const Eigen::Map<const Matrix> dy(d_outputs_[pos_task_].data(), r->batch_size, 1);
    position_.Backward(pos_params_, &pos_cache_, dy, &pos_grads_);
  }
  layout_.RowGradients(input_, dx_, &row_grads_);
  AddSharedRowGradients(cache_.experts, &row_grads_);
  return total;
}

// Whether the embedding rows' gradients stay finite once the deferred
// input gradient of the first expert layer is added to dx_ (which holds
// the rest): each of them sums at most uses.size() elements of dx, and each
// element is at most max|dx_| + the experts' bound; the factor 2 covers
// the rounding of the sums.
bool Model::DeferredInputGradBounded() const {
  const double experts = network_.experts().FirstInputGradBound(cache_.experts);
  const double rest = dx_.size() > 0 ? static_cast<double>(dx_.cwiseAbs().maxCoeff()) : 0.0;
  const double uses = static_cast<double>(input_.uses.size());
  return 2 * uses * (rest + experts) < static_cast<double>(std::numeric_limits<Real>::max());
}

bool Model::IsDeferred(size_t tensor) const {
  return deferred_ && tensor % 2 == 0 && tensor / 2 < outer_.size();
}

// A sum is finite only if every term is; a false alarm needs a gradient sum
// beyond the float range, which is a divergent step anyway.
bool Model::GradientsFinite() const {
  Real sum = row_grads_.sum();
  for (size_t i = 0; i < grad_views_.size(); ++i) {
    if (IsDeferred(i)) continue;  // zeros
    sum += SumOf(grad_views_[i]);
  }
  return std::isfinite(sum);
}

void Model::DiscardGradients() {
  for (const TensorView& g : grad_views_) std::fill(g.begin(), g.end(), Real(0));
}

void Model::Apply(size_t batch_size) {
  layout_.Commit(input_);
  if (pos_task_ >= 0) {
    position_.Commit(pending_devices_, dev_idx_);
    dropout_ordinal_ += batch_size;
  }
  optimizer_.BeginStep();
  for (size_t i = 0; i < param_views_.size(); ++i) {
    if (IsDeferred(i)) {
      // Tensor 0 is the first expert layer's W (ExpertStack::DeferredGrads).
      const OuterGrad& g = outer_[i / 2];
      Matrix* input_grad = i == 0 && deferred_input_grad_ ? &first_dx_ : nullptr;
      optimizer_.ApplyAdagradOuter(i, param_views_[i], g.left.get(), g.right.get(), input_grad);
    } else {
      optimizer_.ApplyDenseTensor(i, param_views_[i], grad_views_[i]);
    }
  }
  if (deferred_input_grad_) {
    dx_ += first_dx_;
    layout_.RowGradients(input_, dx_, &row_grads_);
  }
  const int dim = options_.embedding_dim;
  for (size_t k = 0; k < input_.keys.size(); ++k) {
    optimizer_.ApplyRow(table_.Mutable(input_.keys[k], input_.key_ts[k]),
                        row_grads_.row(static_cast<Eigen::Index>(k)).data(), dim);
  }
  table_.EndStep(input_.sightings);  // admission counts, clock, expiry
  ++steps_;
}

void Model::TrainStep(std::span<const Example> batch, StepResult* result) {
  const double total = ComputeGradients(batch, result, /*allow_deferred=*/true);
  if (!std::isfinite(total) || !GradientsFinite()) {
    DiscardGradients();
    result->skipped = true;
    return;
  }
  Apply(batch.size());
}

StepResult Model::TrainStep(std::span<const Example> batch) {
  StepResult r;
  TrainStep(batch, &r);
  return r;
}

ModelGradients Model::Gradients(std::span<const Example> batch) {
  StepResult r;
  ModelGradients g;
  g.loss = ComputeGradients(batch, &r, /*allow_deferred=*/false);
  g.network = grads_;
  g.position = pos_grads_;
  g.keys = input_.keys;
  g.rows = row_grads_;
  DiscardGradients();
  return g;
}

PositionBiasReport Model::PositionBias() const {
  if (pos_task_ < 0) {
    PositionBiasReport r;
    for (int i = 1; i <= options_.max_position; ++i) r.positions.push_back(i);
    r.click_logit_offset.assign(options_.max_position, 0.0);
    return r;
  }
  return position_.Bias(pos_params_);
}

}  // namespace ranker::learner
