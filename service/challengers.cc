#include "service/challengers.h"

#include <cassert>
#include <utility>

#include "base/thread.h"

namespace ranker::app {

StatusOr<std::unique_ptr<ChallengerSet>> ChallengerSet::Create(
    const std::vector<ChallengerConfig>& challengers, const ChallengerSetOptions& options) {
  std::unique_ptr<ChallengerSet> set(new ChallengerSet(options));
  for (const ChallengerConfig& c : challengers) {
    StatusOr<std::unique_ptr<learner::Trainer>> trainer =
        learner::Trainer::Create(c.pipeline.model, c.pipeline.optimizer, c.pipeline.train);
    if (!trainer.ok()) {
      return Status::InvalidArgument("challenger '" + c.name + "': " + trainer.status().message());
    }
    auto one = std::make_unique<Challenger>();
    one->name = c.name;
    one->trainer = std::move(trainer).value();
    set->challengers_.push_back(std::move(one));
  }
  return set;
}

ChallengerSet::ChallengerSet(const ChallengerSetOptions& options)
    : options_(options), queue_(options.queue_batches) {}

ChallengerSet::~ChallengerSet() { Stop(); }

void ChallengerSet::Start() {
  assert(!started_);
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void ChallengerSet::Stop() {
  if (stopped_) return;
  stopped_ = true;
  Handoff();
  queue_.Close();
  if (thread_.joinable()) thread_.join();
}

void ChallengerSet::OnExample(const learner::Example& example, int64_t event_time_ms) {
  if (challengers_.empty()) return;
  Op op;
  op.example = example;
  op.event_time_ms = event_time_ms;
  pending_.ops.push_back(std::move(op));
  ++pending_.examples;
  offered_.fetch_add(1, std::memory_order_relaxed);
  if (pending_.ops.size() >= options_.batch_examples) Handoff();
}

void ChallengerSet::OnFlush() {
  if (challengers_.empty()) return;
  Op op;
  op.flush = true;
  pending_.ops.push_back(std::move(op));
}

void ChallengerSet::Handoff() {
  if (pending_.ops.empty()) return;
  Batch batch = std::move(pending_);
  pending_ = Batch();
  pending_.ops.reserve(options_.batch_examples);
  if (!started_ || stopped_) {  // no thread (yet, or any more): train here
    Train(batch);
    return;
  }
  if (queue_.size() >= options_.queue_batches) backpressure_waits_.fetch_add(1);
  queue_.Push(std::move(batch));  // waits while full: nothing is dropped
}

void ChallengerSet::Sync() {
  Handoff();
  std::unique_lock<std::mutex> lock(done_mu_);
  done_cv_.wait(lock, [this] { return trained_.load() == offered_.load(); });
}

void ChallengerSet::Run() {
  SetUpBackgroundThread("ranker-challng", options_.thread_nice);
  while (std::optional<Batch> batch = queue_.Pop()) Train(*batch);
}

void ChallengerSet::Train(Batch& batch) {
  for (size_t i = 0; i < challengers_.size(); ++i) {
    Challenger* c = challengers_[i].get();
    const bool last = i + 1 == challengers_.size();
    std::lock_guard<std::mutex> lock(c->mu);
    for (Op& op : batch.ops) {
      if (op.flush) {
        c->trainer->Flush();
        continue;
      }
      c->trainer->set_event_time_ms(op.event_time_ms);
      // Every challenger but the last gets a copy.
      c->trainer->Add(last ? std::move(op.example) : op.example);
    }
  }
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    trained_.fetch_add(batch.examples);
  }
  done_cv_.notify_all();
}

}  // namespace ranker::app
