#include "service/challengers.h"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cassert>
#include <utility>

#include "base/coding.h"
#include "base/thread.h"
#include "service/model_json.h"

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
    one->options = c.pipeline;
    one->trainer = std::move(trainer).value();
    {
      MutexLock lock(&one->started_mu);
      one->started = options.started_offsets;
    }
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

namespace {

// ChallengerCapture::state: the trainer's state, then where it started.
std::string EncodeState(const learner::Trainer& trainer,
                        const std::map<std::string, int64_t>& started) {
  std::string out, part;
  trainer.SerializeState(&part);
  PutString(&out, part);
  PutFixed64(&out, started.size());
  for (const auto& [tp, next] : started) {
    PutString(&out, tp);
    PutFixed64(&out, static_cast<uint64_t>(next));
  }
  return out;
}

Status DecodeState(std::string_view in, std::string* trainer_state,
                   std::map<std::string, int64_t>* started) {
  Decoder d(in, "challenger state");
  RANKER_RETURN_IF_ERROR(d.GetString(trainer_state));
  uint64_t n = 0;
  RANKER_RETURN_IF_ERROR(d.GetFixed64(&n));
  for (uint64_t i = 0; i < n; ++i) {
    std::string tp;
    uint64_t next = 0;
    RANKER_RETURN_IF_ERROR(d.GetString(&tp));
    RANKER_RETURN_IF_ERROR(d.GetFixed64(&next));
    (*started)[tp] = static_cast<int64_t>(next);
  }
  if (!d.done()) return Status::Corruption("challenger state: trailing bytes");
  return Status::OK();
}

}  // namespace

std::future<std::vector<ChallengerCapture>> ChallengerSet::Capture() {
  pending_.capture = std::make_unique<std::promise<std::vector<ChallengerCapture>>>();
  std::future<std::vector<ChallengerCapture>> done = pending_.capture->get_future();
  Handoff();
  return done;
}

std::vector<ChallengerCapture> ChallengerSet::CaptureAll() {
  std::vector<ChallengerCapture> out;
  out.reserve(challengers_.size());
  for (const std::unique_ptr<Challenger>& c : challengers_) {
    ChallengerCapture one;
    one.name = c->name;
    std::map<std::string, int64_t> started;
    {
      MutexLock lock(&c->started_mu);
      started = c->started;
    }
    std::lock_guard<std::mutex> lock(c->mu);
    learner::Model* model = c->trainer->mutable_model();
    model->embeddings().FoldDigest();
    one.model = model->Clone();
    one.state = EncodeState(*c->trainer, started);
    model->mutable_embeddings()->TakeDirty(0, &one.dirty_keys, &one.removed_keys);
    out.push_back(std::move(one));
  }
  return out;
}

StatusOr<ChallengerSet::Prepared> ChallengerSet::Prepare(
    std::vector<RestoredChallenger> restored) const {
  Prepared out;
  out.trainers.resize(challengers_.size());
  out.started.resize(challengers_.size());
  for (RestoredChallenger& r : restored) {
    const int i = Find(r.name);
    if (i < 0) continue;  // the snapshotter drops those the config no longer names
    std::string trainer_state;
    Status s = DecodeState(r.state, &trainer_state, &out.started[i]);
    auto trainer =
        std::make_unique<learner::Trainer>(std::move(r.model), challengers_[i]->options.train);
    if (s.ok()) s = trainer->RestoreState(trainer_state);
    if (!s.ok()) return Status::Corruption("challenger '" + r.name + "': " + s.message());
    out.trainers[i] = std::move(trainer);
  }
  return out;
}

void ChallengerSet::Install(Prepared prepared,
                            const std::map<std::string, int64_t>& started_offsets) {
  Sync();
  for (size_t i = 0; i < challengers_.size(); ++i) {
    Challenger* c = challengers_[i].get();
    std::unique_ptr<learner::Trainer> trainer = std::move(prepared.trainers[i]);
    std::map<std::string, int64_t> started = std::move(prepared.started[i]);
    if (trainer == nullptr) {  // not in the snapshot: starts fresh here
      StatusOr<std::unique_ptr<learner::Trainer>> fresh =
          learner::Trainer::Create(c->options.model, c->options.optimizer, c->options.train);
      assert(fresh.ok());  // the same options made the first one
      trainer = std::move(fresh).value();
      started = started_offsets;
    }
    {
      MutexLock lock(&c->started_mu);
      c->started = std::move(started);
    }
    std::lock_guard<std::mutex> lock(c->mu);
    c->trainer = std::move(trainer);
    c->replaced = true;  // its model topic's next broadcast is a checkpoint
  }
}

int ChallengerSet::Find(std::string_view name) const {
  for (size_t i = 0; i < challengers_.size(); ++i) {
    if (challengers_[i]->name == name) return static_cast<int>(i);
  }
  return -1;
}

void ChallengerSet::Publish(uint64_t version, int64_t now_ms) {
  if (challengers_.empty()) return;
  pending_.publish_version = version;
  pending_.publish_ms = now_ms;
  Handoff();
}

void ChallengerSet::Handoff() {
  if (pending_.ops.empty() && pending_.publish_version == 0 && pending_.capture == nullptr) return;
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
  // Before publishing, which folds the digests the capture folds too.
  if (batch.capture != nullptr) batch.capture->set_value(CaptureAll());
  if (batch.publish_version > 0) {
    for (const auto& c : challengers_) PublishOne(c.get(), batch.publish_version, batch.publish_ms);
  }
  {
    std::lock_guard<std::mutex> lock(done_mu_);
    trained_.fetch_add(batch.examples);
  }
  done_cv_.notify_all();
}

}  // namespace ranker::app

namespace ranker::app {

// A copy that shares the embedding rows (as ModelPublisher does for the
// champion), on the challenger thread: the champion's learner never pays it.
void ChallengerSet::PublishOne(Challenger* c, uint64_t version, int64_t now_ms) {
  auto p = std::make_shared<PublishedModel>();
  std::lock_guard<std::mutex> lock(c->mu);
  const learner::Trainer& trainer = *c->trainer;
  trainer.model().embeddings().FoldDigest();
  p->model = trainer.model().Clone();
  p->version = version;
  p->published_at_ms = now_ms;
  p->metrics = trainer.metrics().Report();
  p->examples_trained = trainer.stats().examples_trained;
  boost::json::object report = TrainerReportJson(trainer, /*with_checksum=*/false);
  report["name"] = c->name;
  report["model_version"] = version;
  report["published_at_ms"] = now_ms;
  report["lag_examples"] = lag();
  boost::json::object started;
  {
    MutexLock started_lock(&c->started_mu);
    for (const auto& [tp, next] : c->started) started[tp] = next;
  }
  report["started_offsets"] = std::move(started);
  p->report_json = boost::json::serialize(report);
  std::shared_ptr<const PublishedModel> latest =
      Reclaimer::AdoptBy(options_.reclaimer, std::shared_ptr<const PublishedModel>(std::move(p)));
  c->latest.store(latest);
  // The rows changed since the previous publication, for its model topic;
  // taken (so the channel stays empty) even when nobody broadcasts.
  std::vector<uint64_t> changed, removed;
  c->trainer->mutable_model()->mutable_embeddings()->TakeDirty(kModelTopicDirtyChannel, &changed,
                                                               &removed);
  if (c->listener != nullptr) {
    c->listener->Offer(std::move(latest), std::move(changed), std::move(removed), c->replaced);
  }
  c->replaced = false;
}

}  // namespace ranker::app
