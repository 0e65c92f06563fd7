// The service's two ends of the model topic, as interfaces the service
// declares and replication/ implements (ModelBroadcaster, ModelFollower), so
// the arrow points from replication to service. cli passes the factories
// (replication/service_replication.h) into Service::Create; without them a
// leader does not broadcast and a follower cannot be created.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "ingest/kafka_producer.h"
#include "service/model_publisher.h"
#include "service/pipeline.h"
#include "service/service_config.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace ranker::app {

// EmbeddingTable dirty channels of the snapshots and of the model topic: the
// learner clears each after every publication when nobody takes it.
inline constexpr int kSnapshotDirtyChannel = 0;
inline constexpr int kModelTopicDirtyChannel = 1;

// The model topic of challenger `challenger` (README "Champion and
// challengers"): "<model_topic.name>.<challenger>".
inline std::string ChallengerTopic(std::string_view model_topic, std::string_view challenger) {
  return std::string(model_topic) + "." + std::string(challenger);
}

// The leader's end: told about each publication on the learner thread.
// Thread-safety: learner thread only.
class PublicationListener {
 public:
  virtual ~PublicationListener() = default;
  // Right after `pipeline` was published; `force` at shutdown.
  virtual void OnPublish(LearningPipeline* pipeline, bool force) = 0;
  // The learner is idle and its model is the latest published version.
  virtual void OnIdle(LearningPipeline* pipeline) = 0;
  // The model was replaced (rollback): the next broadcast is a full one.
  virtual void RequestFull() = 0;
  // Any thread: the model serving by default is now `name` (promote, a
  // restored snapshot's champion); the next broadcast names it, and one goes
  // out even when idle, so followers switch too.
  virtual void OnChampion(const std::string& /*name*/) {}
};

// A challenger's end on a leader (its own model topic): told on the
// challenger thread right after each of the challenger's publications.
// Thread-safety: Offer on the challenger thread; Drain on the owner.
class ChallengerListener {
 public:
  virtual ~ChallengerListener() = default;
  // `latest` was just published and equals the challenger's model; `changed`
  // and `removed` are its rows changed / removed since the previous Offer
  // (dirty channel kModelTopicDirtyChannel). `replaced`: the model was
  // replaced since (a snapshot restore), so deltas no longer apply.
  virtual void Offer(std::shared_ptr<const PublishedModel> latest, std::vector<uint64_t> changed,
                     std::vector<uint64_t> removed, bool replaced) = 0;
  // Sends what was offered and not sent yet, now, and waits (shutdown).
  virtual void Drain() = 0;
};

// The follower's end: installs the leader's versions into the publisher
// from a thread of its own. Start()/Stop() from the owner thread, Scrape()
// (refresh gauges at /metrics time) from any thread.
class ModelFeed {
 public:
  virtual ~ModelFeed() = default;
  virtual Status Start() = 0;
  virtual void Stop() = 0;  // idempotent
  virtual void Scrape() const = 0;
};

// How a Service makes them. Each may be empty (no model topic).
struct ReplicationFactories {
  // A leader with a broker and model_topic.enabled. All pointers are
  // borrowed for the listener's lifetime; `registry` may be null.
  std::function<std::unique_ptr<PublicationListener>(
      const ModelTopicOptions& options, ingest::KafkaProducer* producer,
      const ModelPublisher* publisher, const Clock* clock, prometheus::Registry* registry)>
      broadcaster;
  // A leader's challenger: `options.name` is the challenger's own topic.
  std::function<std::unique_ptr<ChallengerListener>(
      const ModelTopicOptions& options, ingest::KafkaProducer* producer, const Clock* clock)>
      challenger_broadcaster;
  // service.role follower. `on_install` runs on each version before
  // readers see it; `on_champion` (may be empty) with the champion's name
  // each applied commit carries (the main topic's).
  std::function<StatusOr<std::unique_ptr<ModelFeed>>(
      const Config& config, ModelPublisher* publisher, const Clock* clock,
      prometheus::Registry* registry, std::function<void(const PublishedModel&)> on_install,
      std::function<void(const std::string&)> on_champion)>
      follower;
};

}  // namespace ranker::app
