#include "learner/trainer.h"

#include "base/coding.h"
#include "learner/example_codec.h"

namespace ranker::learner {
namespace {

constexpr uint32_t kMagic = 0x52544b52;  // "RKTR"
constexpr uint32_t kVersion = 1;

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
      metrics_(model_->options().tasks, model_->network().gate_width(), options.metrics_window,
               options.gate_collapse_entropy) {
  batch_.reserve(options_.batch_size);
}

void Trainer::Add(Example example) {
  batch_.push_back(std::move(example));
  if (static_cast<int>(batch_.size()) >= options_.batch_size) TrainBatch();
}

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
  for (int t = 0; t < result_.num_tasks; ++t) {
    const Matrix& gates = result_.gates[t];
    for (int i = 0; i < n; ++i) {
      if (gates.size() > 0) metrics_.AddGates(t, gates.row(i).data(), gates.cols());
      const double label = result_.label(i, t);
      if (HasLabel(label)) metrics_.Add(t, result_.prediction(i, t), label);
    }
    if (result_.lists[t] > 0) {
      metrics_.AddLists(t, result_.loss[t] * result_.lists[t], result_.lists[t]);
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
}

Status Trainer::RestoreState(std::string_view state) {
  Decoder in(state, "trainer state");
  uint32_t magic = 0, version = 0;
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&magic));
  if (magic != kMagic) return Status::Corruption("trainer state: bad magic number");
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&version));
  if (version != kVersion) {
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
  if (n >= static_cast<uint64_t>(options_.batch_size)) {
    return Status::Corruption("trainer state: " + std::to_string(n) +
                              " buffered examples, batch_size is " +
                              std::to_string(options_.batch_size));
  }
  std::vector<Example> batch(n);
  for (Example& e : batch) RANKER_RETURN_IF_ERROR(DecodeExample(&in, &e));
  std::string metrics;
  RANKER_RETURN_IF_ERROR(in.GetString(&metrics));
  if (!in.done()) return Status::Corruption("trainer state: trailing bytes");
  RANKER_RETURN_IF_ERROR(metrics_.Deserialize(metrics));
  stats_ = stats;
  batch_ = std::move(batch);
  batch_.reserve(options_.batch_size);
  return Status::OK();
}

}  // namespace ranker::learner
