#include "replication/service_replication.h"

#include <memory>
#include <utility>

namespace ranker::app {

ReplicationFactories ModelTopicReplication() {
  ReplicationFactories f;
  f.broadcaster = [](const ModelTopicOptions& options, ingest::KafkaProducer* producer,
                     const ModelPublisher* publisher, const Clock* clock,
                     prometheus::Registry* registry) -> std::unique_ptr<PublicationListener> {
    return std::make_unique<ModelBroadcaster>(options, producer, publisher, clock, registry);
  };
  f.challenger_broadcaster = [](const ModelTopicOptions& options, ingest::KafkaProducer* producer,
                                const Clock* clock) -> std::unique_ptr<ChallengerListener> {
    return std::make_unique<ModelBroadcaster>(options, producer, nullptr, clock, nullptr);
  };
  f.follower = [](const Config& config, ModelPublisher* publisher, const Clock* clock,
                  prometheus::Registry* registry,
                  std::function<void(const PublishedModel&)> on_install,
                  std::function<void(const std::string&)> on_champion)
      -> StatusOr<std::unique_ptr<ModelFeed>> {
    StatusOr<std::unique_ptr<ModelFollower>> follower = ModelFollower::Create(
        config, publisher, clock, registry, std::move(on_install), std::move(on_champion));
    if (!follower.ok()) return follower.status();
    return std::unique_ptr<ModelFeed>(std::move(follower).value());
  };
  return f;
}

const ModelFollower* FollowerOf(const Service& service) {
  return dynamic_cast<const ModelFollower*>(service.follower());
}

const ModelFollower* FollowerOf(const Service& service, std::string_view challenger) {
  return dynamic_cast<const ModelFollower*>(service.challenger_follower(challenger));
}

const ModelBroadcaster* BroadcasterOf(const Service& service) {
  return dynamic_cast<const ModelBroadcaster*>(service.broadcaster());
}

}  // namespace ranker::app
