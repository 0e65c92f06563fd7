#include "service/service_options.h"

namespace ranker::app {

Status SnapshotOptions::Validate() const {
  if (interval_ms <= 0) return Status::InvalidArgument("snapshot.interval_ms: must be > 0");
  if (retain == 0) return Status::InvalidArgument("snapshot.retain: must be >= 1");
  return Status::OK();
}

Status ModelTopicOptions::Validate() const {
  if (name.empty()) return Status::InvalidArgument("model_topic.name: must not be empty");
  if (interval_ms <= 0) return Status::InvalidArgument("model_topic.interval_ms: must be > 0");
  if (checkpoint_every <= 0) {
    return Status::InvalidArgument("model_topic.checkpoint_every: must be > 0");
  }
  return Status::OK();
}

Status ServiceOptions::Validate() const {
  if (role != "leader" && role != "follower") {
    return Status::InvalidArgument("service.role: must be leader or follower, got " + role);
  }
  if (follower() && (brokers.empty() || !model_topic.enabled)) {
    return Status::InvalidArgument(
        "service.role: a follower needs ingest.brokers and model_topic.enabled");
  }
  if (topic.empty()) return Status::InvalidArgument("ingest.topic: must not be empty");
  if (group_id.empty()) return Status::InvalidArgument("ingest.group_id: must not be empty");
  if (dead_letter_topic == topic) {
    return Status::InvalidArgument("ingest.dead_letter_topic: must differ from ingest.topic");
  }
  if (queue_max_messages == 0) {
    return Status::InvalidArgument("ingest.queue_max_messages: must be > 0");
  }
  if (publish_interval_ms <= 0) {
    return Status::InvalidArgument("service.publish_interval_ms: must be > 0");
  }
  if (learner_nice < 0 || learner_nice > 19) {
    return Status::InvalidArgument("service.learner_nice: must be in [0, 19]");
  }
  if (local_queue_max_events == 0) {
    return Status::InvalidArgument("service.local_queue_max_events: must be > 0");
  }
  RANKER_RETURN_IF_ERROR(rank.Validate());
  if (score_threads < 1 || score_threads > 64) {
    return Status::InvalidArgument("http.score_threads: must be in [1, 64], got " +
                                   std::to_string(score_threads));
  }
  RANKER_RETURN_IF_ERROR(snapshot.Validate());
  RANKER_RETURN_IF_ERROR(model_topic.Validate());
  if (model_topic.name == topic) {
    return Status::InvalidArgument("model_topic.name: must differ from ingest.topic");
  }
  return http.Validate();
}

}  // namespace ranker::app
