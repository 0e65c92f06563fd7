#include "replication/model_broadcaster.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cstdio>
#include <unordered_set>
#include <utility>

#include "base/thread.h"
#include "learner/embedding_table.h"

namespace ranker::app {
namespace {

constexpr int kTopicChannel = ModelBroadcaster::kDirtyChannel;
constexpr int32_t kPartition = 0;

}  // namespace

ModelBroadcaster::ModelBroadcaster(const ModelTopicOptions& options,
                                   ingest::KafkaProducer* producer, const ModelPublisher* publisher,
                                   const Clock* clock, prometheus::Registry* registry)
    : options_(options),
      producer_(producer),
      publisher_(publisher),
      clock_(clock),
      // Epochs of a later leader run are larger (wall clock at start).
      epoch_(static_cast<uint64_t>(clock->NowMs()) * 1000) {
  static_assert(kTopicChannel < learner::EmbeddingTable::kDirtyChannels);
  if (registry != nullptr) {
    bytes_metric_ = &prometheus::BuildCounter()
                         .Name("ranker_model_topic_bytes_total")
                         .Help("Key + value bytes the leader produced to the model topic")
                         .Register(*registry)
                         .Add({});
    versions_metric_ = &prometheus::BuildCounter()
                            .Name("ranker_model_topic_broadcasts_total")
                            .Help("Model versions the leader broadcast to the model topic")
                            .Register(*registry)
                            .Add({});
  }
  thread_ = std::thread([this] { Run(); });
}

ModelBroadcaster::~ModelBroadcaster() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  thread_.join();
}

void ModelBroadcaster::OnPublish(LearningPipeline* pipeline, bool force) {
  if (force) {
    WaitIdle();
    Broadcast(pipeline);
    WaitIdle();
    return;
  }
  if (Busy()) return;  // the rows stay dirty: the next broadcast carries them
  if (!sent_any_ || NowMonoMs() - last_mono_ms_ >= options_.interval_ms) Broadcast(pipeline);
}

void ModelBroadcaster::OnIdle(LearningPipeline* pipeline) {
  const std::shared_ptr<const PublishedModel> latest = publisher_->Latest();
  if (latest == nullptr || (sent_any_ && latest->version == sent_version_ && !need_full_.load() &&
                            Champion() == sent_champion_)) {
    return;
  }
  if (!Busy() && NowMonoMs() - last_mono_ms_ >= options_.interval_ms) Broadcast(pipeline);
}

bool ModelBroadcaster::Busy() const {
  MutexLock lock(&mu_);
  return sending_ || job_.has_value();
}

void ModelBroadcaster::WaitIdle() {
  MutexLock lock(&mu_);
  while (sending_ || job_.has_value()) cv_.Wait(&mu_);
}

bool ModelBroadcaster::Send(std::string_view key, std::string_view value,
                            const ingest::KafkaHeaders& headers) {
  Status s = producer_->Produce(options_.name, key, value, headers, kPartition);
  if (!s.ok()) {
    need_full_.store(true);  // followers may have missed part of it: resend all
    failures_.fetch_add(1);
    std::fprintf(stderr, "ranker model topic: %s\n", s.message().c_str());
    return false;
  }
  const uint64_t n = key.size() + value.size();
  bytes_.fetch_add(n);
  messages_.fetch_add(1);
  if (bytes_metric_ != nullptr) bytes_metric_->Increment(static_cast<double>(n));
  return true;
}

std::string ModelBroadcaster::Champion() const {
  MutexLock lock(&mu_);
  return champion_;
}

void ModelBroadcaster::OnChampion(const std::string& name) {
  MutexLock lock(&mu_);
  champion_ = name;
}

ModelBroadcaster::Job ModelBroadcaster::NewJob(
    const std::shared_ptr<const PublishedModel>& latest) {
  const bool full = need_full_.exchange(false) ||
                    since_checkpoint_ + 1 >= static_cast<uint64_t>(options_.checkpoint_every);
  Job job;
  job.version = latest;
  CommitHeader& h = job.header;
  h.version = latest->version;
  h.full = full;
  h.epoch = full ? ++epoch_ : epoch_;
  h.published_at_ms = latest->published_at_ms;
  h.report_json = latest->report_json;
  if (publisher_ != nullptr) h.champion = Champion();  // the main topic's only
  since_checkpoint_ = full ? 0 : since_checkpoint_ + 1;
  sent_version_ = h.version;
  sent_champion_ = h.champion;
  sent_any_ = true;
  return job;
}

// Learner thread: O(1) besides the dense part's report already built at
// publication; the dirty lists are moved out, not copied.
void ModelBroadcaster::Broadcast(LearningPipeline* pipeline) {
  const std::shared_ptr<const PublishedModel> latest = publisher_->Latest();
  if (latest == nullptr) return;
  last_mono_ms_ = NowMonoMs();
  Job job = NewJob(latest);
  // The learner's rows changed since the last broadcast taken; `latest`
  // equals the learner's model, so they are the version's too.
  pipeline->mutable_trainer()->mutable_model()->mutable_embeddings()->TakeDirty(
      kTopicChannel, &job.keys, &job.removed);
  if (job.header.full) job.keys.clear(), job.removed.clear();
  {
    MutexLock lock(&mu_);
    job_ = std::move(job);
  }
  cv_.SignalAll();
}

void ModelBroadcaster::Offer(std::shared_ptr<const PublishedModel> latest,
                             std::vector<uint64_t> changed, std::vector<uint64_t> removed,
                             bool replaced) {
  if (latest == nullptr) return;
  if (replaced) need_full_.store(true);
  {
    MutexLock lock(&mu_);
    if (job_.has_value()) {  // not taken yet: it carries this one too
      Merge(&*job_, latest, std::move(changed), std::move(removed));
      return;
    }
  }
  // Only this thread queues jobs: job_ stays empty until it does.
  Job job = NewJob(latest);
  if (!job.header.full) job.keys = std::move(changed), job.removed = std::move(removed);
  {
    MutexLock lock(&mu_);
    job_ = std::move(job);
  }
  cv_.SignalAll();
}

void ModelBroadcaster::Merge(Job* job, const std::shared_ptr<const PublishedModel>& latest,
                             std::vector<uint64_t> changed, std::vector<uint64_t> removed) {
  CommitHeader& h = job->header;
  job->version = latest;
  h.version = latest->version;
  h.published_at_ms = latest->published_at_ms;
  h.report_json = latest->report_json;
  sent_version_ = h.version;
  // Replaced, or a send failed since the job was made: it becomes a
  // checkpoint (a queued checkpoint already covers both).
  if (need_full_.exchange(false) && !h.full) {
    h.full = true;
    h.epoch = ++epoch_;
    since_checkpoint_ = 0;
  }
  if (h.full) {
    job->keys.clear();
    job->removed.clear();
    return;
  }
  // The later offer says what became of each of its rows.
  std::unordered_set<uint64_t> later(changed.begin(), changed.end());
  later.insert(removed.begin(), removed.end());
  const auto superseded = [&](uint64_t key) { return later.count(key) > 0; };
  std::erase_if(job->keys, superseded);
  std::erase_if(job->removed, superseded);
  job->keys.insert(job->keys.end(), changed.begin(), changed.end());
  job->removed.insert(job->removed.end(), removed.begin(), removed.end());
}

void ModelBroadcaster::Drain() {
  {
    MutexLock lock(&mu_);
    ++draining_;
  }
  cv_.SignalAll();
  WaitIdle();
  MutexLock lock(&mu_);
  --draining_;
}

void ModelBroadcaster::Run() {
  SetUpBackgroundThread("ranker-broadcast", 0);
  MutexLock lock(&mu_);
  while (true) {
    while (!stop_ && !job_.has_value()) cv_.Wait(&mu_);
    if (!job_.has_value()) return;  // stopping, nothing left
    // A challenger's: at most one job every interval_ms (offers merge into
    // the queued one meanwhile), unless stopping or draining.
    if (publisher_ == nullptr && taken_any_ && !stop_ && draining_ == 0) {
      const int64_t wait_ms = taken_mono_ms_ + options_.interval_ms - NowMonoMs();
      if (wait_ms > 0) {
        (void)cv_.WaitUntil(&mu_,
                            std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms));
        continue;
      }
    }
    taken_mono_ms_ = NowMonoMs();
    taken_any_ = true;
    Job job = std::move(*job_);
    job_.reset();
    sending_ = true;
    mu_.Unlock();
    SendJob(&job);
    job.version.reset();  // the rows changed since are no longer held twice
    mu_.Lock();
    sending_ = false;
    cv_.SignalAll();
  }
}

bool ModelBroadcaster::SendRow(const learner::EmbeddingTable& table, uint64_t key,
                               const ingest::KafkaHeaders& h, std::string* buf, Job* job) {
  buf->clear();
  if (!table.ExportRow(key, buf)) return true;  // removed since it was marked
  if (!Send(RowKey(key), *buf, h)) return false;
  ++job->header.rows;
  return true;
}

// Broadcaster thread: everything read from the immutable version.
void ModelBroadcaster::SendJob(Job* job) {
  CommitHeader& h = job->header;
  const learner::Model& model = *job->version->model;
  const learner::EmbeddingTable& table = model.embeddings();
  h.param_checksum = job->version->ParamChecksum();  // cached for /v1/model too
  // Rows carry the epoch, so a follower tells a checkpoint's rows from
  // those of an earlier broadcast that was cut short.
  const ingest::KafkaHeaders headers = {{std::string(kEpochHeader), std::to_string(h.epoch)}};
  std::string row;
  bool ok = true;
  if (h.full) {  // the trie's order (deterministic; followers need none)
    table.ForEachKey([&](uint64_t key) { ok = ok && SendRow(table, key, headers, &row, job); });
  } else {
    for (uint64_t key : job->keys) {
      if (!(ok = SendRow(table, key, headers, &row, job))) break;
    }
    for (uint64_t key : job->removed) {
      if (!ok || !(ok = Send(RowKey(key), {}, headers))) break;
      ++h.rows;
    }
  }
  if (!ok) return;
  std::string state;
  model.SerializeState(&state);
  for (std::string_view chunk : SplitChunks(state)) {
    if (!Send(DenseKey(h.dense_chunks), chunk, headers)) return;
    ++h.dense_chunks;
  }
  h.sent_at_ms = clock_->NowMs();
  if (!Send(kCommitKey, EncodeCommit(h), headers)) return;
  broadcasts_.fetch_add(1);
  if (h.full) checkpoints_.fetch_add(1);
  last_version_.store(h.version);
  if (versions_metric_ != nullptr) versions_metric_->Increment();
}

BroadcastCounters ModelBroadcaster::counters() const {
  BroadcastCounters c;
  c.broadcasts = broadcasts_.load();
  c.checkpoints = checkpoints_.load();
  c.failures = failures_.load();
  c.bytes = bytes_.load();
  c.messages = messages_.load();
  c.last_version = last_version_.load();
  return c;
}

}  // namespace ranker::app
