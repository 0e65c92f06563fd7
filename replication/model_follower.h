// The follower's side of the model topic (replication/model_topic_codec.h): a
// KafkaSource in a group of its own reads the topic from its beginning
// (every start), stages row messages and dense chunks, and on each commit
// makes the next version: the dense state from the chunks, the rows of the
// version it serves (none on a full checkpoint) shared, not copied, plus
// the staged ones (tombstones remove), through learner::Model::RestoreDelta. The result is
// published through the ModelPublisher (same version number as the leader's) only if its
// param_checksum equals the commit's; otherwise the commit is counted as
// rejected and the follower keeps serving what it had until the next full
// checkpoint puts it right. It never learns.
//
// Cost: O(dense part + rows in the commit) per delta commit, never
// O(table); the served version and the new one share every unchanged row,
// and a request holding the previous version keeps it unchanged.
//
// Thread-safety: Start()/Stop() from one owner thread; counters() and
// Scrape() from any thread; the listener methods from the source's thread.
// Lifetimes: publisher, clock and registry are borrowed and must outlive
// Stop().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/mutex.h"
#include "ingest/kafka_source.h"
#include "replication/model_topic_codec.h"
#include "service/model_publisher.h"
#include "service/replication_hooks.h"
#include "service/service_config.h"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
}  // namespace prometheus

namespace ranker::app {

struct FollowerCounters {
  uint64_t messages = 0;             // model-topic messages read
  uint64_t commits_applied = 0;      // versions published
  uint64_t commits_rejected = 0;     // corrupt, incomplete or checksum mismatch
  uint64_t checkpoints_applied = 0;  // of commits_applied, full checkpoints
  uint64_t newest_version = 0;       // version of the newest commit read
  uint64_t applied_version = 0;      // version served (0: none yet)
  uint64_t applied_epoch = 0;        // the leader's epoch of it
  int64_t last_delay_ms = -1;        // leader publication -> applied here (wall clocks)
  int64_t lag_messages = 0;          // model-topic messages not read yet
  std::string last_error;
};

class ModelFollower final : public ingest::RebalanceListener, public ModelFeed {
 public:
  // Creates the source (without contacting the brokers) on
  // config.service.model_topic.name; the model's shape is config.model's.
  // `on_publish` runs on each new version before readers see it (metrics);
  // `on_champion` after it, with the champion its commit names (when it
  // names one); either may be empty. `registry` may be null.
  static StatusOr<std::unique_ptr<ModelFollower>> Create(
      const Config& config, ModelPublisher* publisher, const Clock* clock,
      prometheus::Registry* registry, std::function<void(const PublishedModel&)> on_publish,
      std::function<void(const std::string&)> on_champion = {});
  ~ModelFollower() override;  // Stop()s
  ModelFollower(const ModelFollower&) = delete;
  ModelFollower& operator=(const ModelFollower&) = delete;

  // Joins its group and starts the applying thread. REQUIRES: called once.
  Status Start() override;
  // Stops the thread and closes the source. Idempotent.
  void Stop() override;

  FollowerCounters counters() const;
  // Refreshes the lag gauges (at /metrics scrape time).
  void Scrape() const override;

  // ingest::RebalanceListener: every partition from its beginning.
  ingest::OffsetMap OnAssigned(const std::vector<ingest::TopicPartition>& partitions) override;
  void OnRevoked(const std::vector<ingest::TopicPartition>& /*partitions*/) override {}

 private:
  // A row message seen since the last commit: bytes, or a tombstone.
  struct Staged {
    std::string bytes;
    bool removed = false;
    uint64_t epoch = 0;
  };
  ModelFollower(const Config& config, std::unique_ptr<ingest::KafkaSource> source,
                ModelPublisher* publisher, const Clock* clock,
                std::function<void(const PublishedModel&)> on_publish,
                std::function<void(const std::string&)> on_champion);
  void RegisterMetrics(prometheus::Registry* registry);
  void Run();
  void Handle(const ingest::SourceMessage& m);
  void OnCommit(const CommitHeader& h);
  // The model of commit `h`, from the served version and the staged rows.
  StatusOr<std::unique_ptr<learner::Model>> Build(const CommitHeader& h) const;
  void Publish(const CommitHeader& h, std::unique_ptr<learner::Model> model);
  void Reject(const std::string& why);

  const Config config_;
  const std::unique_ptr<ingest::KafkaSource> source_;
  ModelPublisher* const publisher_;
  const Clock* const clock_;
  const std::function<void(const PublishedModel&)> on_publish_;
  const std::function<void(const std::string&)> on_champion_;
  prometheus::Counter* applied_metric_ = nullptr;
  prometheus::Counter* rejected_metric_ = nullptr;
  prometheus::Gauge* version_lag_metric_ = nullptr;
  prometheus::Gauge* lag_messages_metric_ = nullptr;
  prometheus::Histogram* published_delay_metric_ = nullptr;
  prometheus::Histogram* sent_delay_metric_ = nullptr;

  // Applying thread only.
  std::shared_ptr<const PublishedModel> served_;  // the base of the next delta
  std::map<uint64_t, Staged> staged_;
  std::map<uint32_t, std::string> dense_;  // newest chunk per index

  mutable Mutex mu_;
  FollowerCounters counters_ RANKER_GUARDED_BY(mu_);  // lag_messages excepted
  std::atomic<bool> stop_{false};
  bool started_ = false;
  std::thread thread_;
};

}  // namespace ranker::app
