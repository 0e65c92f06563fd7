#include "service/learner_loop.h"

#include <cassert>
#include <cstdio>
#include <utility>

#include "base/thread.h"
#include "ingest/event_encoder.h"

namespace ranker::app {

LearnerLoop::LearnerLoop(std::unique_ptr<LearningPipeline> pipeline,
                         const LearnerLoopOptions& options, LearnerLoopDeps deps)
    : pipeline_(std::move(pipeline)),
      options_(options),
      deps_(std::move(deps)),
      idle_(pipeline_->options().join.idle_flush_ms) {
  assert(pipeline_ && deps_.publisher && deps_.clock);
}

LearnerLoop::~LearnerLoop() { Stop(); }

void LearnerLoop::ResumeFrom(const ingest::OffsetMap& offsets) {
  assert(!started_);
  MutexLock lock(&batch_mu_);
  offsets_ = offsets;
}

void LearnerLoop::Start() {
  assert(!started_);
  started_ = true;
  {
    MutexLock lock(&batch_mu_);
    Publish();
  }
  thread_ = std::thread([this] { Run(); });
}

void LearnerLoop::Stop() {
  stop_.store(true);
  local_cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

Status LearnerLoop::Enqueue(std::vector<ingest::DecodeResult>* events) {
  MutexLock lock(&local_mu_);
  if (local_closed_) return Status::Unavailable("the learner is shutting down");
  if (local_.size() + events->size() > options_.local_queue_max_events) {
    return Status::ResourceExhausted(
        "the learner's queue is full (service.local_queue_max_events)");
  }
  for (ingest::DecodeResult& r : *events) local_.push_back(std::move(r));
  events->clear();
  local_cv_.Signal();
  return Status::OK();
}

void LearnerLoop::Run() {
  SetUpBackgroundThread("ranker-learner", options_.thread_nice);
  int64_t drain_deadline = -1;
  while (true) {
    const bool stopping = stop_.load();
    if (stopping && drain_deadline < 0) drain_deadline = NowMonoMs() + options_.drain_timeout_ms;
    size_t n;
    {
      MutexLock lock(&batch_mu_);
      n = PollOnce(stopping);
      if (!stopping) MaybeAdvanceIdle();
      MaybePublish(/*idle=*/n == 0);
      if (n == 0 && !dirty_ && deps_.broadcaster) deps_.broadcaster->OnIdle(pipeline_.get());
      if (has_requests_.load()) ServeRequests();
      MaybeSnapshot();
    }
    if (stopping && (n == 0 || NowMonoMs() >= drain_deadline)) break;
  }
  {
    MutexLock lock(&local_mu_);
    local_closed_ = true;
  }
  MutexLock lock(&batch_mu_);
  DrainLocal(std::chrono::milliseconds(0));  // what was enqueued before closing
  ServeRequests();
  Snapshotter* snapshots = deps_.snapshotter;
  const bool snapshot = snapshots != nullptr && snapshots->options().on_stop;
  // A final snapshot keeps the pending impressions; without one, flushing
  // is the only way not to lose them.
  if (options_.flush_joiner_on_stop && !snapshot) pipeline_->Finish();
  Publish();
  if (snapshot) {
    const uint64_t id = Snapshot();
    StatusOr<store::SnapshotInfo> written = snapshots->Wait(id, std::chrono::minutes(5));
    if (!written.ok()) {
      std::fprintf(stderr, "ranker: final snapshot %llu: %s\n", static_cast<unsigned long long>(id),
                   written.status().ToString().c_str());
    }
  }
  FailRequests();
}

size_t LearnerLoop::PollOnce(bool stopping) {
  const std::chrono::milliseconds wait(stopping ? 0 : options_.pop_timeout_ms);
  if (deps_.source == nullptr) return DrainLocal(wait);
  size_t n = DrainLocal(std::chrono::milliseconds(0));
  std::vector<ingest::SourceMessage> messages =
      deps_.source->Pop(options_.pop_batch, n > 0 ? std::chrono::milliseconds(0) : wait);
  pipeline_->set_wall_ms(NowMonoMs());
  for (ingest::SourceMessage& m : messages) ConsumeMessage(&m);
  return n + messages.size();
}

size_t LearnerLoop::DrainLocal(std::chrono::milliseconds wait) {
  std::deque<ingest::DecodeResult> taken;
  {
    MutexLock lock(&local_mu_);
    if (wait.count() > 0) {
      const auto until = std::chrono::steady_clock::now() + wait;
      while (local_.empty() && !stop_.load() && !has_requests_.load() &&
             local_cv_.WaitUntil(&local_mu_, until)) {
      }
    }
    taken.swap(local_);
  }
  pipeline_->set_wall_ms(NowMonoMs());
  for (ingest::DecodeResult& r : taken) pipeline_->Consume(std::move(r));
  if (!taken.empty()) dirty_ = learned_since_snapshot_ = true;
  return taken.size();
}

void LearnerLoop::ConsumeMessage(ingest::SourceMessage* message) {
  // Decoded on the source's thread when it was asked to (the service's
  // KafkaSource is: KafkaSourceOptions::decode), else here.
  ingest::DecodeResult result = message->decoded.has_value() ? std::move(*message->decoded)
                                                             : pipeline_->Decode(message->payload);
  if (!result.ok() && deps_.dead_letters != nullptr) {
    const ingest::DecodeError& e = result.error();
    if (!deps_.dead_letters->Send(*message, ingest::RejectReasonName(e.reason), e.message).ok()) {
      dead_letter_failures_.fetch_add(1);
    }
  }
  pipeline_->Consume(std::move(result));
  offsets_[message->tp()] = message->offset + 1;
  dirty_ = true;
  learned_since_snapshot_ = true;
}

void LearnerLoop::MaybeAdvanceIdle() {
  const learner::Joiner& joiner = pipeline_->joiner();
  const bool waiting = joiner.stats().pending > 0 || pipeline_->trainer().buffered() > 0;
  const int64_t events = pipeline_->events_consumed() - joiner.stats().watermarks;
  const int64_t ts = idle_.Poll(NowMonoMs(), events, joiner.watermark_ms(), waiting);
  if (ts >= 0) AppendWatermark(ts);
}

void LearnerLoop::AppendWatermark(int64_t ts_ms) {
  learner::Event event;
  event.type = learner::EventType::kWatermark;
  event.example.ts_ms = ts_ms;
  if (deps_.source == nullptr) {
    MutexLock lock(&local_mu_);
    local_.push_back(ingest::DecodeResult(std::move(event)));
    return;
  }
  if (deps_.producer == nullptr) return;
  const std::string payload = ingest::EncodeEvent(event);
  for (const ingest::TopicPartition& tp : deps_.source->Assignment()) {
    if (!deps_.producer->Produce(tp.topic, "", payload, {}, tp.partition).ok()) {
      watermark_failures_.fetch_add(1);
    }
  }
}

void LearnerLoop::MaybePublish(bool idle) {
  if (!dirty_) return;
  if (idle || NowMonoMs() - last_publish_ms_ >= options_.publish_interval_ms) Publish();
}

void LearnerLoop::Publish() {
  pipeline_->MarkPublished(NowMonoMs());
  deps_.publisher->Publish(*pipeline_, offsets_, deps_.clock->NowMs(), deps_.on_publish);
  last_publish_ms_ = NowMonoMs();
  dirty_ = false;
  if (deps_.committer != nullptr && !offsets_.empty()) deps_.committer->Offer(offsets_);
  if (deps_.broadcaster != nullptr) {
    deps_.broadcaster->OnPublish(pipeline_.get(), stop_.load());
  } else {  // nobody reads the model topic's dirty channel: keep it empty
    pipeline_->mutable_trainer()->mutable_model()->ClearDirtyRows(kModelTopicDirtyChannel);
  }
  if (deps_.snapshotter == nullptr) {  // nor the snapshots' (a key and a mark per row)
    pipeline_->mutable_trainer()->mutable_model()->ClearDirtyRows(kSnapshotDirtyChannel);
  }
}

ingest::OffsetMap LearnerLoop::OnAssigned(const std::vector<ingest::TopicPartition>& partitions) {
  // The group's committed offsets apply, except for partitions whose revoke
  // commit failed and that come straight back (an eager rebalance revokes
  // everything, then reassigns): nobody else read them in between, so this
  // member resumes where it stopped, and commits that with its next version.
  MutexLock lock(&batch_mu_);
  ingest::OffsetMap start;
  if (deps_.snapshotter != nullptr) {  // where the model stands, or the beginning
    // (while a restore seeks: where the restored model will stand)
    const ingest::OffsetMap& stands = seek_target_ != nullptr ? *seek_target_ : offsets_;
    for (const ingest::TopicPartition& tp : partitions) {
      auto it = stands.find(tp);
      start[tp] = it != stands.end() ? it->second : ingest::kOffsetBeginning;
    }
    return start;
  }
  for (const ingest::TopicPartition& tp : partitions) {
    auto it = uncommitted_.find(tp);
    if (it == uncommitted_.end()) continue;
    start.insert(*it);
    offsets_[tp] = it->second;
    dirty_ = true;
  }
  uncommitted_.clear();
  return start;
}

void LearnerLoop::OnRevoked(const std::vector<ingest::TopicPartition>& partitions) {
  MutexLock lock(&batch_mu_);  // the batch in progress is learned first
  ingest::OffsetMap revoked;
  for (const ingest::TopicPartition& tp : partitions) {
    auto it = offsets_.find(tp);
    if (it == offsets_.end()) continue;
    revoked.insert(*it);
    // With snapshots the model keeps reflecting them, and the next snapshot
    // must say so.
    if (deps_.snapshotter == nullptr) offsets_.erase(it);
  }
  Status s;
  if (deps_.committer != nullptr) {
    s = deps_.committer->CommitRevoked(revoked);  // failures are counted there
  } else if (deps_.source != nullptr && !revoked.empty()) {
    s = deps_.source->CommitOffsets(revoked);
  }
  // e.g. REBALANCE_IN_PROGRESS: librdkafka's mock refuses commits once a
  // rebalance started (Kafka accepts them until the sync phase).
  if (!s.ok()) uncommitted_.insert(revoked.begin(), revoked.end());
}

StatusOr<uint64_t> LearnerLoop::RequestSnapshot(std::chrono::milliseconds timeout) {
  auto request = std::make_shared<PendingRequest>();
  std::future<StatusOr<uint64_t>> done = request->snapshot.get_future();
  RANKER_RETURN_IF_ERROR(Enqueue(request));
  if (done.wait_for(timeout) != std::future_status::ready) {
    return Status::Unavailable("the learner did not take the snapshot request within " +
                               std::to_string(timeout.count()) + " ms");
  }
  return done.get();
}

StatusOr<LearnerLoop::Restored> LearnerLoop::RequestRestore(uint64_t id,
                                                            std::chrono::milliseconds timeout) {
  auto request = std::make_shared<PendingRequest>();
  request->restore = true;
  request->id = id;
  std::future<StatusOr<Restored>> done = request->restored.get_future();
  RANKER_RETURN_IF_ERROR(Enqueue(request));
  if (done.wait_for(timeout) != std::future_status::ready) {
    return Status::Unavailable("the learner did not take the restore request within " +
                               std::to_string(timeout.count()) + " ms");
  }
  return done.get();
}

Status LearnerLoop::Enqueue(const std::shared_ptr<PendingRequest>& request) {
  if (deps_.snapshotter == nullptr) {
    return Status::FailedPrecondition("snapshots are off (no snapshot.dir / --data-dir)");
  }
  {
    MutexLock lock(&request_mu_);
    if (local_closed_requests_) return Status::Unavailable("the learner is shutting down");
    requests_.push_back(request);
    has_requests_.store(true);
  }
  local_cv_.SignalAll();  // wakes a learner waiting for POSTed events
  return Status::OK();
}

void LearnerLoop::ServeRequests() {
  std::deque<std::shared_ptr<PendingRequest>> requests;
  {
    MutexLock lock(&request_mu_);
    requests.swap(requests_);
    has_requests_.store(false);
  }
  for (const auto& r : requests) {
    if (r->restore) {
      r->restored.set_value(Restore(r->id));
    } else {
      r->snapshot.set_value(Snapshot());
    }
  }
}

void LearnerLoop::FailRequests() {
  std::deque<std::shared_ptr<PendingRequest>> requests;
  {
    MutexLock lock(&request_mu_);
    local_closed_requests_ = true;
    requests.swap(requests_);
    has_requests_.store(false);
  }
  const Status closing = Status::Unavailable("the learner is shutting down");
  for (const auto& r : requests) {
    if (r->restore) {
      r->restored.set_value(closing);
    } else {
      r->snapshot.set_value(closing);
    }
  }
}

void LearnerLoop::MaybeSnapshot() {
  if (deps_.snapshotter == nullptr || !learned_since_snapshot_) return;
  if (deps_.snapshotter->Due()) Snapshot();
}

uint64_t LearnerLoop::Snapshot() {
  // The snapshot is of the learner's state now, which may be ahead of the
  // latest version; record the version it will be published as.
  if (dirty_) Publish();
  learned_since_snapshot_ = false;
  return deps_.snapshotter->Capture(pipeline_.get(), offsets_, deps_.publisher->Latest()->version);
}

// Moves the partitions first (so nothing of the old position is learned
// after the rollback), then swaps the state in; a failed restore moves them
// back to where the unchanged learner stands, and says so if that fails too.
StatusOr<LearnerLoop::Restored> LearnerLoop::Restore(uint64_t id) {
  // Read and verified (streamed into a new model) before anything moves.
  StatusOr<Snapshotter::Loaded> s = deps_.snapshotter->Read(id, pipeline_->options());
  if (!s.ok()) return s.status();
  const store::Snapshot head = s->head;  // Apply() reads its offsets too
  const uint64_t rows = s->rows;
  const ingest::OffsetMap target = Snapshotter::ToSourceOffsets(head.offsets);
  RANKER_RETURN_IF_ERROR(MoveSource(target));  // a failed seek moves nothing
  Status restored = deps_.snapshotter->Apply(std::move(s).value(), pipeline_.get());
  if (!restored.ok()) {
    const ingest::OffsetMap stands = offsets_;
    Status back = MoveSource(stands);
    if (!back.ok()) {
      return Status::Internal("restore of snapshot " + std::to_string(id) + " failed (" +
                              restored.ToString() +
                              ") and moving the partitions back failed too (" + back.ToString() +
                              "): the learner may re-learn or skip events until it restarts");
    }
    return restored;
  }
  offsets_ = target;
  if (deps_.on_restore) deps_.on_restore(offsets_);
  deps_.snapshotter->Rebase(head, rows);
  learned_since_snapshot_ = false;
  if (deps_.broadcaster != nullptr) deps_.broadcaster->RequestFull();  // followers replace all
  Publish();
  return Restored{deps_.publisher->Latest()->version,
                  pipeline_->trainer().model().ParamChecksumHex()};
}

Status LearnerLoop::MoveSource(const ingest::OffsetMap& where) {
  if (deps_.source == nullptr) return Status::OK();
  seek_target_ = &where;
  batch_mu_.Unlock();
  ingest::OffsetMap seek;
  for (const ingest::TopicPartition& tp : deps_.source->Assignment()) {
    auto it = where.find(tp);
    seek[tp] = it != where.end() ? it->second : ingest::kOffsetBeginning;
  }
  Status s = deps_.source->Seek(seek);
  batch_mu_.Lock();
  seek_target_ = nullptr;
  return s;
}

}  // namespace ranker::app
