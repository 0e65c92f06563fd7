#include "app/service_options.h"

namespace ranker::app {

Status SnapshotOptions::Validate() const {
  if (interval_ms <= 0) return Status::InvalidArgument("snapshot.interval_ms: must be > 0");
  if (retain == 0) return Status::InvalidArgument("snapshot.retain: must be >= 1");
  return Status::OK();
}

Status ServiceOptions::Validate() const {
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
  if (local_queue_max_events == 0) {
    return Status::InvalidArgument("service.local_queue_max_events: must be > 0");
  }
  RANKER_RETURN_IF_ERROR(rank.Validate());
  RANKER_RETURN_IF_ERROR(snapshot.Validate());
  return http.Validate();
}

}  // namespace ranker::app
