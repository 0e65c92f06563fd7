#include "replication/model_broadcaster.h"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <cstdio>

#include "learner/embedding_table.h"
#include "replication/model_topic_codec.h"

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
  if (registry == nullptr) return;
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

void ModelBroadcaster::OnPublish(LearningPipeline* pipeline, bool force) {
  if (force || !sent_any_ || NowMonoMs() - last_mono_ms_ >= options_.interval_ms) {
    Broadcast(pipeline);
  }
}

void ModelBroadcaster::OnIdle(LearningPipeline* pipeline) {
  const std::shared_ptr<const PublishedModel> latest = publisher_->Latest();
  if (latest == nullptr || (sent_any_ && latest->version == sent_version_ && !need_full_)) return;
  if (NowMonoMs() - last_mono_ms_ >= options_.interval_ms) Broadcast(pipeline);
}

bool ModelBroadcaster::Send(std::string_view key, std::string_view value,
                            const ingest::KafkaHeaders& headers) {
  Status s = producer_->Produce(options_.name, key, value, headers, kPartition);
  if (!s.ok()) {
    need_full_ = true;  // followers may have missed part of it: resend all
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

void ModelBroadcaster::Broadcast(LearningPipeline* pipeline) {
  const std::shared_ptr<const PublishedModel> latest = publisher_->Latest();
  if (latest == nullptr) return;
  last_mono_ms_ = NowMonoMs();
  const bool full =
      need_full_ || since_checkpoint_ + 1 >= static_cast<uint64_t>(options_.checkpoint_every);
  need_full_ = false;
  const learner::Model& model = pipeline->trainer().model();
  const learner::EmbeddingTable& table = model.embeddings();
  CommitHeader h;
  h.version = latest->version;
  h.full = full;
  h.epoch = full ? ++epoch_ : epoch_;
  h.published_at_ms = latest->published_at_ms;
  h.param_checksum = latest->ParamChecksum();  // `latest` is this state; cached for /v1/model
  h.report_json = latest->report_json;
  // Rows carry the epoch, so a follower tells a checkpoint's rows from
  // those of an earlier broadcast that was cut short.
  const ingest::KafkaHeaders headers = {{std::string(kEpochHeader), std::to_string(h.epoch)}};
  std::string row;
  const std::vector<uint64_t> keys = full ? table.SortedKeys() : table.dirty_keys(kTopicChannel);
  for (uint64_t key : keys) {
    row.clear();
    if (!table.ExportRow(key, &row)) continue;
    if (!Send(RowKey(key), row, headers)) return;
    ++h.rows;
  }
  if (!full) {
    for (uint64_t key : table.removed_keys(kTopicChannel)) {
      if (!Send(RowKey(key), {}, headers)) return;
      ++h.rows;
    }
  }
  std::string state;
  model.SerializeState(&state);
  for (std::string_view chunk : SplitChunks(state)) {
    if (!Send(DenseKey(h.dense_chunks), chunk, headers)) return;
    ++h.dense_chunks;
  }
  h.sent_at_ms = clock_->NowMs();
  if (!Send(kCommitKey, EncodeCommit(h), headers)) return;
  pipeline->mutable_trainer()->mutable_model()->ClearDirtyRows(kTopicChannel);
  since_checkpoint_ = full ? 0 : since_checkpoint_ + 1;
  sent_version_ = h.version;
  sent_any_ = true;
  broadcasts_.fetch_add(1);
  if (full) checkpoints_.fetch_add(1);
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
