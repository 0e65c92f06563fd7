#include "learner/trainer.h"

#include "base/coding.h"
#include "learner/example_codec.h"
#include "learner/net/loss.h"

namespace ranker::learner {
namespace {

constexpr uint32_t kMagic = 0x52544b52;  // "RKTR"
// Version 1: examples in example format 1. Version 2: format 2 (loss
// weights, group, engagement times) and the feedback delays.
constexpr uint32_t kVersion = 2;

std::vector<int64_t*> StatFields(TrainerStats* s) {
  return {&s->examples_trained, &s->steps, &s->skipped_steps, &s->skipped_examples};
}

// The kept predictions: a count, then (eval_id, one prediction per task).
Status DecodeScored(Decoder* in, size_t tasks, std::map<uint64_t, std::vector<double>>* out) {
  uint64_t n = 0;
  RANKER_RETURN_IF_ERROR(in->GetFixed64(&n));
  if (n > in->remaining() / 16) return Status::Corruption("trainer state: bad scored count");
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    std::vector<double> predictions;
    predictions.reserve(1);
    RANKER_RETURN_IF_ERROR(in->GetFixed64(&id));
    RANKER_RETURN_IF_ERROR(in->GetArray(&predictions, tasks));
    (*out)[id] = std::move(predictions);
  }
  return Status::OK();
}

}  // namespace

StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const ModelOptions& model,
                                                   const OptimizerOptions& optimizer,
                                                   const TrainerOptions& trainer) {
  RANKER_RETURN_IF_ERROR(trainer.Validate());
  StatusOr<std::unique_ptr<Model>> created = Model::Create(model, optimizer);
  if (!created.ok()) return created.status();
  return std::make_unique<Trainer>(std::move(created).value(), trainer);
}

Trainer::Trainer(std::unique_ptr<Model> model, const TrainerOptions& options)
    : options_(options),
      model_(std::move(model)),
      metrics_(model_->options().tasks, model_->network().gate_width(), options.metrics_window,
               options.gate_collapse_entropy) {
  batch_.reserve(options_.batch_size);
}

void Trainer::Add(Example example) {
  if (!IsTrained(example)) return Evaluate(example);
  // A full batch that ended inside a group waited for this example: it
  // trains now unless the example continues that group.
  if (Full() && (example.group == 0 || example.group != batch_.back().group)) TrainBatch();
  batch_.push_back(std::move(example));
  if (Full() && batch_.back().group == 0) TrainBatch();
}

bool Trainer::Full() const { return static_cast<int>(batch_.size()) >= options_.batch_size; }

void Trainer::Flush() {
  if (!batch_.empty()) TrainBatch();
}

void Trainer::TrainBatch() {
  model_->TrainStep(batch_, &result_);
  const int n = result_.batch_size;
  if (result_.skipped) {
    ++stats_.skipped_steps;
    stats_.skipped_examples += n;
    batch_.clear();
    return;
  }
  ++stats_.steps;
  stats_.examples_trained += n;
  for (const Example& e : batch_) {
    for (int64_t ts : e.feedback_ts_ms) feedback_delay_.Add(event_time_ms_ - ts);
  }
  RecordMetrics();
  batch_.clear();
}

void Trainer::RecordMetrics() {
  const int n = result_.batch_size, tasks = result_.num_tasks;
  for (int i = 0; i < n; ++i) {
    const Example& e = batch_[static_cast<size_t>(i)];
    if (e.evaluation == Evaluation::kScoreOnly) {
      std::vector<double>& kept = scored_[e.eval_id];
      kept.resize(tasks);
      for (int t = 0; t < tasks; ++t) kept[t] = result_.prediction(i, t);
    }
    for (int t = 0; t < tasks; ++t) {
      const Matrix& gates = result_.gates[t];
      if (gates.size() > 0) metrics_.AddGates(t, gates.row(i).data(), gates.cols());
      const double label = result_.label(i, t);
      if (e.evaluation == Evaluation::kAtStep && HasLabel(label)) {
        metrics_.Add(t, result_.prediction(i, t), label);
        if (observer_) observer_(e, t, result_.prediction(i, t));
      }
    }
  }
  for (int t = 0; t < tasks; ++t) {
    if (result_.lists[t] > 0) {
      metrics_.AddLists(t, result_.loss[t] * result_.lists[t], result_.lists[t]);
    }
  }
}

void Trainer::Evaluate(const Example& labels) {
  for (const Example& e : batch_) {
    if (e.eval_id == labels.eval_id) {
      TrainBatch();
      break;
    }
  }
  auto it = scored_.find(labels.eval_id);
  if (it == scored_.end()) return;  // its step was refused (non-finite)
  const std::vector<TaskSpec>& tasks = model_->options().tasks;
  for (size_t t = 0; t < tasks.size() && t < labels.labels.size(); ++t) {
    const double label = TransformLabel(tasks[t], labels.labels[t]);
    if (!HasLabel(label)) continue;
    metrics_.Add(static_cast<int>(t), it->second[t], label);
    if (observer_) observer_(labels, static_cast<int>(t), it->second[t]);
  }
  if (labels.evaluation == Evaluation::kFinalLabelsOnly) scored_.erase(it);
}

void Trainer::SerializeState(std::string* out) const {
  PutFixed32(out, kMagic);
  PutFixed32(out, kVersion);
  TrainerStats stats = stats_;
  for (int64_t* f : StatFields(&stats)) PutFixed64(out, static_cast<uint64_t>(*f));
  PutFixed64(out, batch_.size());
  for (const Example& e : batch_) EncodeExample(e, out);
  std::string metrics;
  metrics_.Serialize(&metrics);
  PutString(out, metrics);
  std::string delays;
  feedback_delay_.Serialize(&delays);
  PutString(out, delays);
  PutFixed64(out, scored_.size());
  for (const auto& [id, predictions] : scored_) {
    PutFixed64(out, id);
    PutArray(out, predictions.data(), predictions.size());
  }
}

Status Trainer::RestoreState(std::string_view state) {
  Decoder in(state, "trainer state");
  uint32_t magic = 0, version = 0;
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&magic));
  if (magic != kMagic) return Status::Corruption("trainer state: bad magic number");
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&version));
  if (version < 1 || version > kVersion) {
    return Status::Corruption("trainer state: unsupported version " + std::to_string(version));
  }
  TrainerStats stats;
  for (int64_t* f : StatFields(&stats)) {
    uint64_t v = 0;
    RANKER_RETURN_IF_ERROR(in.GetFixed64(&v));
    *f = static_cast<int64_t>(v);
  }
  uint64_t n = 0;
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&n));
  if (n > in.remaining() / 8) return Status::Corruption("trainer state: bad example count");
  std::vector<Example> batch(n);
  const int format = version == 1 ? 1 : kExampleFormat;
  for (Example& e : batch) RANKER_RETURN_IF_ERROR(DecodeExample(&in, &e, format));
  // Only a batch waiting for the rest of a group may be full.
  if (n >= static_cast<uint64_t>(options_.batch_size) && batch.back().group == 0) {
    return Status::Corruption("trainer state: " + std::to_string(n) +
                              " buffered examples, batch_size is " +
                              std::to_string(options_.batch_size));
  }
  std::string metrics, delays;
  RANKER_RETURN_IF_ERROR(in.GetString(&metrics));
  std::map<uint64_t, std::vector<double>> scored;
  if (version >= 2) {
    RANKER_RETURN_IF_ERROR(in.GetString(&delays));
    RANKER_RETURN_IF_ERROR(DecodeScored(&in, model_->options().tasks.size(), &scored));
  }
  if (!in.done()) return Status::Corruption("trainer state: trailing bytes");
  FeedbackDelay feedback_delay;
  if (version >= 2) RANKER_RETURN_IF_ERROR(feedback_delay.Deserialize(delays));
  RANKER_RETURN_IF_ERROR(metrics_.Deserialize(metrics));
  feedback_delay_ = std::move(feedback_delay);
  scored_ = std::move(scored);
  stats_ = stats;
  batch_ = std::move(batch);
  batch_.reserve(options_.batch_size);
  return Status::OK();
}

}  // namespace ranker::learner
