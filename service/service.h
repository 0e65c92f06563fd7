// The long-running service of `ranker serve` and `ranker demo` (contract §3,
// §4, §5): Kafka in, fresh model out.
//
//   KafkaSource (consumer thread, bounded queue, backpressure)
//     -> LearnerLoop (ONE learner thread: decode, join, train, dead-letter,
//        publish an immutable version every publish_interval_ms)
//     -> ModelPublisher (atomic shared_ptr<const PublishedModel>)
//     -> HTTP handlers (POST /v1/rank scores on the latest version and never
//        waits for the learner)
//   OffsetCommitter commits the offsets of published versions.
//
// Without a broker (ingest.brokers empty) POST /v1/events feeds the learner
// through an in-process queue instead of the topic.
//
// Lifecycle: Create() -> Start() -> Stop() (also from the destructor).
// Stop() drains: stops consuming after learning what is queued, flushes the
// joiner (service.flush_joiner_on_stop), publishes a final version, commits
// its offsets, closes the consumer (leaving the group), flushes the
// producer, and stops HTTP last.
//
// Thread-safety: Start()/Stop() from one owner thread; every other method
// from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_server.h"
#include "api/metrics.h"
#include "api/router.h"
#include "base/clock.h"
#include "base/mutex.h"
#include "base/reclaimer.h"
#include "base/worker_pool.h"
#include "ingest/event_source.h"
#include "ingest/kafka_dead_letter.h"
#include "ingest/kafka_producer.h"
#include "service/challenger_metrics.h"
#include "service/challengers.h"
#include "service/learner_loop.h"
#include "service/model_publisher.h"
#include "service/offset_committer.h"
#include "service/replication_hooks.h"
#include "service/service_config.h"
#include "service/service_counters.h"
#include "service/service_metrics.h"
#include "service/snapshotter.h"
#include "serving/event_sink.h"
#include "serving/handlers.h"
#include "serving/model_source.h"
#include "serving/snapshot_admin.h"
#include "store/snapshot_store.h"

namespace ranker::app {

// The service's outside systems, injected. Service::Create(config, clock,
// replication) makes the real ones from the config (KafkaSource on
// ingest.brokers, RocksDbSnapshotStore in snapshot.dir); tests pass
// fakes::FakeEventSource and store::InMemorySnapshotStore.
struct ServiceSeams {
  // A member of the events topic's group; null: no event log (POST
  // /v1/events feeds the learner through an in-process queue when there is
  // no broker either).
  std::unique_ptr<ingest::EventSource> source;
  // Where snapshots go; null: no snapshots. Its options come from
  // Config::service.snapshot (the dir aside).
  std::unique_ptr<store::SnapshotStore> snapshots;
  ReplicationFactories replication;
};

// The serving/ interfaces (ModelSource, EventSink, SnapshotAdmin) are
// implemented here and wired to the HTTP routes (serving/handlers.h).
class Service final : public ModelSource,
                      public EventSink,
                      public SnapshotAdmin,
                      public ModelPromoter {
 public:
  // Validates the configuration and builds every part; creates the Kafka
  // clients (without contacting the brokers) when ingest.brokers is set.
  // `clock` is borrowed for the service's lifetime. `replication` makes the
  // model topic's ends (replication/service_replication.h); empty: a leader
  // does not broadcast, and service.role follower is FailedPrecondition.
  static StatusOr<std::unique_ptr<Service>> Create(const Config& config,
                                                   const Clock* clock = SystemClock(),
                                                   ReplicationFactories replication = {});
  // Over the given seams: the newest valid snapshot of `seams.snapshots` is
  // restored and `seams.source` resumes from its offsets. A producer (POST
  // /v1/events to the topic, dead letters, the model topic) is made only
  // when ingest.brokers is set.
  static StatusOr<std::unique_ptr<Service>> Create(const Config& config, const Clock* clock,
                                                   ServiceSeams seams);
  ~Service() override;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Publishes version 1, starts the learner, joins the consumer group and
  // starts HTTP (when http.enabled). IOError when the port cannot be bound.
  // REQUIRES: called once.
  Status Start();
  // The drain described above. Idempotent.
  void Stop();

  // The latest published version (never null after Start()).
  std::shared_ptr<const PublishedModel> Latest() const override { return publisher_.Latest(); }
  // Champion and challengers: "main" is the config's own model (the
  // learner's, Latest()), each challenger by its name, "champion" whichever
  // was promoted last (main until then).
  std::shared_ptr<const PublishedModel> Named(std::string_view name) const override;
  std::vector<Entry> Models() const override;
  // --- ModelPromoter: which model serves /v1/rank by default.
  Status Promote(std::string_view name) override;
  // A restored snapshot's champion: serves by default if the config still
  // has it ('main' otherwise, logged).
  void RestoreChampion(const std::string& name);
  // The model serving by default ("main" or a challenger's name).
  std::string champion() const;
  // The challengers (null without any).
  const ChallengerSet* challengers() const { return challengers_.get(); }
  // Answers a request as the HTTP server would (tests call handlers this way).
  api::Response Handle(api::Request request) const;
  // REQUIRES: Start() returned OK with http.enabled.
  uint16_t http_port() const { return http_->port(); }
  bool has_broker() const { return source_ != nullptr; }
  // The consumer's counters (lag per partition...); empty without a broker.
  ingest::SourceCounters source_counters() const;
  const OffsetCommitter* committer() const { return committer_.get(); }
  // service.role follower: the model-topic reader (null on a leader).
  const ModelFeed* follower() const { return follower_.get(); }
  // A follower's reader of challenger `name`'s topic (null: none).
  const ModelFeed* challenger_follower(std::string_view name) const;
  // A leader's model-topic writer (null without a broker or model topic).
  const PublicationListener* broadcaster() const { return broadcaster_.get(); }

  const Config& config() const { return config_; }

  // --- EventSink (POST /v1/events) ---
  // REQUIRES: a leader (a follower's routes have no EventSink).
  ingest::DecodeResult Decode(std::string_view payload) const override {
    return learner_->Decode(payload);
  }
  // Produces the events to the topic (with a broker) or hands them to the
  // learner. ResourceExhausted / Unavailable when the learner's queue is
  // full / closed; Unavailable naming how many were produced when the
  // producer failed part-way.
  Status Submit(std::vector<AcceptedEvent>* events) override;
  // Counts an event POST /v1/events rejected and copies it to the
  // dead-letter topic when one is configured.
  void RecordRejected(std::string_view key, std::string_view payload,
                      const ingest::DecodeError& error) override;
  const ingest::RejectCounters& http_rejects() const { return http_rejects_; }
  // OK when HTTP is up (or disabled) and a model version is published.
  Status Ready() const;
  // Snapshots (null when snapshot.dir is empty).
  Snapshotter* snapshotter() const { return snapshotter_.get(); }
  // --- SnapshotAdmin ---
  bool snapshots_enabled() const override { return snapshotter_ != nullptr; }
  std::vector<store::SnapshotInfo> ListSnapshots() const override;
  std::optional<store::SnapshotInfo> LastSnapshot() const override;
  // POST /v1/snapshots: a snapshot now, written. FailedPrecondition when
  // snapshots are off.
  StatusOr<store::SnapshotInfo> TakeSnapshot() override;
  // POST /v1/snapshots/{id}/restore: learner and scorers rolled back.
  StatusOr<RestoredSnapshot> RestoreSnapshot(uint64_t id) override;
  // The Prometheus text of every family, lag and model age refreshed.
  std::string RenderMetrics() const;
  // The totals behind the service's counters, read when /metrics is scraped
  // (service/service_counters.h): the served model's counts, rejects, snapshot,
  // consumer and commit totals.
  CounterTotals CurrentCounters() const;
  // A new request id for /v1/rank calls that bring none.
  std::string NewRequestId() const;

 private:
  Service(const Config& config, const Clock* clock, ReplicationFactories replication);
  // The real seams of `config`.
  static StatusOr<ServiceSeams> RealSeams(const Config& config, ReplicationFactories replication);
  // The producer and what rides on it: the broadcaster, the dead letters.
  Status CreateProducer();
  // Restores the newest valid snapshot of `store` into `pipeline`; fills
  // *resume with its offsets.
  Status OpenSnapshots(std::unique_ptr<store::SnapshotStore> store, LearningPipeline* pipeline,
                       ingest::OffsetMap* resume);
  void CreateLearner(std::unique_ptr<LearningPipeline> pipeline);
  // service.role follower: no learner, no event consumer, no snapshots;
  // the model comes from the model topic (replication/model_follower.h, through
  // service/replication_hooks.h).
  static StatusOr<std::unique_ptr<Service>> CreateFollower(const Config& config, const Clock* clock,
                                                           ReplicationFactories replication);
  ServingDeps Routes();
  // The champion is `name` (known to be one): for /v1/rank and the model topic.
  void SetChampion(const std::string& name);
  // Challenger `name`'s latest version: the learner's or the followed one;
  // nullptr when there is no such challenger.
  std::shared_ptr<const PublishedModel> Challenger(std::string_view name) const;
  bool IsModel(std::string_view name) const;

  const Config config_;
  const Clock* const clock_;
  const std::string id_prefix_;
  const ReplicationFactories replication_;
  std::unique_ptr<api::Metrics> metrics_;
  std::unique_ptr<ServiceMetrics> service_metrics_;
  // Frees replaced model versions (the champion's, the challengers', a
  // follower's) on its own thread at learner_nice, so that the /v1/rank
  // handler that drops a version last does not pay for it. Declared before
  // every holder of versions: destroyed after them.
  std::unique_ptr<Reclaimer> reclaimer_;
  ModelPublisher publisher_;
  ingest::RejectCounters http_rejects_;
  // Kafka parts (null without a broker). The producer carries POST
  // /v1/events and the dead letters.
  std::unique_ptr<ingest::KafkaProducer> producer_;
  std::unique_ptr<ingest::DeadLetterSink> dead_letters_;
  std::unique_ptr<ingest::EventSource> source_;
  std::unique_ptr<OffsetCommitter> committer_;
  std::unique_ptr<Snapshotter> snapshotter_;
  std::unique_ptr<PublicationListener> broadcaster_;  // leader with a model topic
  // One per challenger, with broadcaster_ (before challengers_, which holds
  // them: destroyed after it).
  std::vector<std::unique_ptr<ChallengerListener>> challenger_broadcasters_;
  std::unique_ptr<LearnerLoop> learner_;                   // null on a follower
  std::unique_ptr<ChallengerSet> challengers_;             // null without challengers
  std::unique_ptr<ChallengerMetrics> challenger_metrics_;  // with challengers_
  mutable Mutex champion_mu_;
  std::string champion_ RANKER_GUARDED_BY(champion_mu_) = "main";
  std::unique_ptr<ModelFeed> follower_;  // follower only
  // A follower's challengers (the config's), each read from its own topic.
  struct FollowedChallenger {
    std::string name;
    std::unique_ptr<ModelPublisher> publisher;
    std::unique_ptr<ModelFeed> feed;  // writes into publisher: destroyed first
  };
  std::vector<FollowedChallenger> followed_;
  // The helpers of /v1/rank's scoring (http.score_threads - 1 threads);
  // outlives the router and the server, whose handlers use it.
  std::unique_ptr<WorkerPool> score_pool_;
  std::unique_ptr<api::Router> router_;
  std::unique_ptr<api::HttpServer> http_;
  std::atomic<bool> http_up_{false};
  mutable std::atomic<uint64_t> request_seq_{0};
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace ranker::app
