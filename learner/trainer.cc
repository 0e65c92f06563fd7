#include "learner/trainer.h"

#include "base/coding.h"
#include "learner/example_codec.h"

namespace ranker::learner {
namespace {

constexpr uint32_t kMagic = 0x52544b52;  // "RKTR"
// Version 1: examples in example format 1. Version 2: format 2 (loss
// weights, group, engagement times) and the feedback delays.
constexpr uint32_t kVersion = 2;

std::vector<int64_t*> StatFields(TrainerStats* s) {
  return {&s->examples_trained, &s->steps, &s->skipped_steps, &s->skipped_examples};
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
      metrics_(model_->options().tasks, model_->network().num_experts(), options.metrics_window) {
  batch_.reserve(options_.batch_size);
}

void Trainer::Add(Example example) {
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
  for (int t = 0; t < result_.num_tasks; ++t) {
    const Matrix& gates = result_.gates[t];
    for (int i = 0; i < n; ++i) {
      if (gates.size() > 0) metrics_.AddGates(t, gates.row(i).data(), gates.cols());
      const double label = result_.label(i, t);
      if (HasLabel(label)) metrics_.Add(t, result_.prediction(i, t), label);
    }
  }
  batch_.clear();
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
  if (version >= 2) RANKER_RETURN_IF_ERROR(in.GetString(&delays));
  if (!in.done()) return Status::Corruption("trainer state: trailing bytes");
  FeedbackDelay feedback_delay;
  if (version >= 2) RANKER_RETURN_IF_ERROR(feedback_delay.Deserialize(delays));
  RANKER_RETURN_IF_ERROR(metrics_.Deserialize(metrics));
  feedback_delay_ = std::move(feedback_delay);
  stats_ = stats;
  batch_ = std::move(batch);
  batch_.reserve(options_.batch_size);
  return Status::OK();
}

}  // namespace ranker::learner
