#include "learner/trainer.h"

namespace ranker::learner {

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
  }
  batch_.clear();
}

}  // namespace ranker::learner
