#include "service/pipeline.h"

#include <algorithm>

#include "base/coding.h"

namespace ranker::app {
namespace {

constexpr uint32_t kMagic = 0x50504b52;  // "RKPP"
constexpr uint32_t kVersion = 1;

std::vector<std::string> TaskNames(const PipelineOptions& config) {
  std::vector<std::string> names;
  for (const learner::TaskSpec& t : config.model.tasks) names.push_back(t.name);
  return names;
}

// The joiner against the tasks: windows name configured tasks, immediate
// mode has a binary click task to correct.
Status ValidateJoin(const PipelineOptions& c) {
  auto task = [&](const std::string& name) -> const learner::TaskSpec* {
    for (const learner::TaskSpec& t : c.model.tasks) {
      if (t.name == name) return &t;
    }
    return nullptr;
  };
  for (const auto& [name, ms] : c.join.task_window_ms) {
    if (task(name) == nullptr) {
      return Status::InvalidArgument("tasks[" + name + "].window_ms: no task named '" + name + "'");
    }
  }
  const bool listwise = std::any_of(
      c.model.tasks.begin(), c.model.tasks.end(),
      [](const learner::TaskSpec& t) { return t.loss == learner::ListLoss::kListwise; });
  if (listwise && c.join.mode == learner::JoinMode::kImmediate) {
    return Status::InvalidArgument(
        "join.mode: immediate trains impressions one by one; a listwise task (tasks[].loss: "
        "listwise) needs whole requests: use join.mode window");
  }
  if (listwise && !c.join.group_requests) {
    return Status::InvalidArgument(
        "join.group_requests: a listwise task (tasks[].loss: listwise) needs it true");
  }
  if (c.join.mode != learner::JoinMode::kImmediate) return Status::OK();
  const learner::TaskSpec* click = task(c.join.click_task);
  if (click == nullptr || click->kind != learner::TaskKind::kBinary) {
    return Status::InvalidArgument("join.mode: immediate needs join.click_task ('" +
                                   c.join.click_task + "') to be a binary task");
  }
  return Status::OK();
}

}  // namespace

Status PipelineOptions::Validate() const {
  RANKER_RETURN_IF_ERROR(model.Validate());
  RANKER_RETURN_IF_ERROR(optimizer.Validate());
  RANKER_RETURN_IF_ERROR(train.Validate());
  RANKER_RETURN_IF_ERROR(join.Validate());
  RANKER_RETURN_IF_ERROR(ingest.Validate());
  return ValidateJoin(*this);
}

StatusOr<std::unique_ptr<LearningPipeline>> LearningPipeline::Create(
    const PipelineOptions& config) {
  RANKER_RETURN_IF_ERROR(config.Validate());
  StatusOr<std::unique_ptr<learner::Trainer>> trainer =
      learner::Trainer::Create(config.model, config.optimizer, config.train);
  if (!trainer.ok()) return trainer.status();
  return std::unique_ptr<LearningPipeline>(
      new LearningPipeline(config, std::move(trainer).value()));
}

LearningPipeline::LearningPipeline(const PipelineOptions& config,
                                   std::unique_ptr<learner::Trainer> trainer)
    : options_(config),
      decoder_(config.ingest),
      joiner_(std::make_unique<learner::Joiner>(config.join, TaskNames(config))),
      trainer_(std::move(trainer)) {}

void LearningPipeline::Consume(ingest::DecodeResult&& result) {
  ++events_consumed_;
  if (!result.ok()) {
    rejects_.Add(result.error().reason);
    return;
  }
  learner::Event& event = result.event();
  const bool watermark = event.type == learner::EventType::kWatermark;
  // Window mode: remember when a joined click was consumed until its window
  // closes. (Immediate mode trains it within this Add: see Train.)
  const bool follow = wall_ms_ >= 0 && event.type == learner::EventType::kClick &&
                      joiner_->options().mode == learner::JoinMode::kWindow;
  const int64_t joined = joiner_->stats().joined_clicks;
  if (follow) {
    const std::string request_id = event.example.request_id, item_id = event.example.item_id;
    joiner_->Add(std::move(event), &ready_);
    if (joiner_->stats().joined_clicks > joined) {
      publish_delay_.Consumed(request_id, item_id, wall_ms_);
    }
  } else {
    joiner_->Add(std::move(event), &ready_);
  }
  Train(&ready_);
  // Event time moved on without new impressions (an idle stream): what the
  // joiner released trains now instead of waiting for a full batch.
  if (watermark) Flush();
}

void LearningPipeline::Flush() {
  trainer_->Flush();
  if (tap_ != nullptr) tap_->OnFlush();
}

void LearningPipeline::Finish() {
  joiner_->Flush(&ready_);
  Train(&ready_);
  Flush();
}

void LearningPipeline::Train(std::vector<learner::Example>* ready) {
  const int64_t event_time = joiner_->watermark_ms();
  trainer_->set_event_time_ms(event_time);
  for (learner::Example& ex : *ready) {
    if (learner::IsTrained(ex)) {
      // The joiner sets feedback_ts_ms on the example that first brings a click.
      if (wall_ms_ >= 0 && !ex.feedback_ts_ms.empty()) {
        if (joiner_->options().mode == learner::JoinMode::kImmediate) {
          publish_delay_.HandedAt(handed_, wall_ms_);  // the click consumed just now
        } else {
          publish_delay_.Handed(ex.request_id, ex.item_id, handed_);
        }
      }
      ++handed_;
    }
    if (tap_ != nullptr) tap_->OnExample(ex, event_time);
    trainer_->Add(std::move(ex));
  }
  ready->clear();
}

void LearningPipeline::MarkPublished(int64_t now_ms) {
  // The trainer takes examples in the order handed; the rest wait in its batch.
  publish_delay_.Published(handed_ - trainer_->buffered(), now_ms);
}

void LearningPipeline::SerializeState(std::string* out) const {
  PutFixed32(out, kMagic);
  PutFixed32(out, kVersion);
  PutFixed64(out, static_cast<uint64_t>(events_consumed_));
  PutFixed64(out, ingest::kRejectReasonCount);
  rejects_.ForEach([&](ingest::RejectReason, std::string_view, uint64_t n) { PutFixed64(out, n); });
  std::string part;
  joiner_->Serialize(&part);
  PutString(out, part);
  part.clear();
  trainer_->SerializeState(&part);
  PutString(out, part);
}

Status LearningPipeline::Restore(std::unique_ptr<learner::Model> model, std::string_view state) {
  Decoder in(state, "pipeline state");
  uint32_t magic = 0, version = 0;
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&magic));
  if (magic != kMagic) return Status::Corruption("pipeline state: bad magic number");
  RANKER_RETURN_IF_ERROR(in.GetFixed32(&version));
  if (version != kVersion) {
    return Status::Corruption("pipeline state: unsupported version " + std::to_string(version));
  }
  uint64_t consumed = 0, reasons = 0;
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&consumed));
  RANKER_RETURN_IF_ERROR(in.GetFixed64(&reasons));
  if (reasons != ingest::kRejectReasonCount) {
    return Status::Corruption("pipeline state: " + std::to_string(reasons) +
                              " reject reasons, this build has " +
                              std::to_string(ingest::kRejectReasonCount));
  }
  std::vector<uint64_t> rejects(reasons);
  for (uint64_t& n : rejects) RANKER_RETURN_IF_ERROR(in.GetFixed64(&n));
  std::string joiner_state, trainer_state;
  RANKER_RETURN_IF_ERROR(in.GetString(&joiner_state));
  RANKER_RETURN_IF_ERROR(in.GetString(&trainer_state));
  if (!in.done()) return Status::Corruption("pipeline state: trailing bytes");

  auto joiner = std::make_unique<learner::Joiner>(options_.join, TaskNames(options_));
  RANKER_RETURN_IF_ERROR(joiner->Deserialize(joiner_state));
  auto trainer = std::make_unique<learner::Trainer>(std::move(model), options_.train);
  RANKER_RETURN_IF_ERROR(trainer->RestoreState(trainer_state));

  joiner_ = std::move(joiner);
  trainer_ = std::move(trainer);
  events_consumed_ = static_cast<int64_t>(consumed);
  for (size_t i = 0; i < rejects.size(); ++i) {
    rejects_.Set(static_cast<ingest::RejectReason>(i), rejects[i]);
  }
  ready_.clear();
  handed_ = trainer_->buffered();
  publish_delay_.Reset();
  return Status::OK();
}

}  // namespace ranker::app
