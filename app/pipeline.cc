#include "app/pipeline.h"

namespace ranker::app {
namespace {

std::vector<std::string> TaskNames(const Config& config) {
  std::vector<std::string> names;
  for (const learner::TaskSpec& t : config.model.tasks) names.push_back(t.name);
  return names;
}

}  // namespace

StatusOr<std::unique_ptr<LearningPipeline>> LearningPipeline::Create(const Config& config) {
  RANKER_RETURN_IF_ERROR(config.Validate());
  StatusOr<std::unique_ptr<learner::Trainer>> trainer =
      learner::Trainer::Create(config.model, config.optimizer, config.train);
  if (!trainer.ok()) return trainer.status();
  return std::unique_ptr<LearningPipeline>(
      new LearningPipeline(config, std::move(trainer).value()));
}

LearningPipeline::LearningPipeline(const Config& config, std::unique_ptr<learner::Trainer> trainer)
    : config_(config),
      decoder_(config.ingest),
      joiner_(config.join, TaskNames(config)),
      trainer_(std::move(trainer)) {}

void LearningPipeline::Consume(ingest::DecodeResult&& result) {
  ++events_consumed_;
  if (!result.ok()) {
    rejects_.Add(result.error().reason);
    return;
  }
  joiner_.Add(std::move(result).event(), &ready_);
  Train(&ready_);
}

void LearningPipeline::Finish() {
  joiner_.Flush(&ready_);
  Train(&ready_);
  trainer_->Flush();
}

void LearningPipeline::Train(std::vector<learner::Example>* ready) {
  for (learner::Example& ex : *ready) trainer_->Add(std::move(ex));
  ready->clear();
}

}  // namespace ranker::app
