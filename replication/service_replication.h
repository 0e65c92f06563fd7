// Wires replication/ into a Service: the factories of the model topic's two
// ends (ModelBroadcaster on a leader, ModelFollower on a follower) for
// Service::Create, and typed access to them for tests and the CLI.
#pragma once

#include "replication/model_broadcaster.h"
#include "replication/model_follower.h"
#include "service/replication_hooks.h"
#include "service/service.h"

namespace ranker::app {

// Factories making a ModelBroadcaster / ModelFollower.
ReplicationFactories ModelTopicReplication();

// The service's follower / broadcaster as made by ModelTopicReplication();
// null when it has none (or another implementation).
const ModelFollower* FollowerOf(const Service& service);
// A follower's reader of challenger `name`'s topic; null when it has none.
const ModelFollower* FollowerOf(const Service& service, std::string_view challenger);
const ModelBroadcaster* BroadcasterOf(const Service& service);

}  // namespace ranker::app
