// Options of the long-running service (`ranker serve`, `ranker demo`): where
// events come from, how often the learner publishes to the scorers, and the
// HTTP listener. Plain struct with in-class defaults; the config keys
// (ingest.*, service.*, http.*) map onto these fields in settings/config.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "api/http_server.h"
#include "api/rank_request.h"
#include "base/status.h"

namespace ranker::app {

// Durable snapshots of the learner (contract §4, §5).
struct SnapshotOptions {
  // RocksDB directory (serve --data-dir); "" = no snapshots: a restart
  // starts from an empty model at the group's committed offsets.
  std::string dir;
  // A snapshot at least this often while the learner learns.
  int64_t interval_ms = 60000;
  // Snapshots kept (the newest that verify); older ones are dropped.
  size_t retain = 5;
  // Take one on shutdown, after draining (then the joiner is not flushed:
  // its pending impressions are in the snapshot).
  bool on_stop = true;
  // fsync every snapshot write (off only for throwaway runs).
  bool sync = true;
  // Nice value of the writer thread: not a key of its own, the service sets
  // it to ServiceOptions::learner_nice.
  int thread_nice = 0;

  bool enabled() const { return !dir.empty(); }
  Status Validate() const;
};

// The model topic (replication/model_broadcaster.h, replication/model_follower.h): the
// leader publishes its model there, followers serve from it.
struct ModelTopicOptions {
  std::string name = "ranker.model";
  // The leader publishes when a broker is configured and this is on.
  bool enabled = true;
  // At most one broadcast this often (always one at shutdown).
  int64_t interval_ms = 1000;
  // Every this many broadcasts, a full checkpoint instead of a delta.
  int64_t checkpoint_every = 50;

  Status Validate() const;
};

struct ServiceOptions {
  // "leader" learns and publishes to the model topic; "follower" serves
  // what it reads from the model topic and never learns.
  std::string role = "leader";
  bool follower() const { return role == "follower"; }

  // bootstrap.servers of the event log; "" = no Kafka: only POST /v1/events
  // feeds the learner (through an in-process queue).
  std::string brokers;
  // Topic of contract-§1 events, keyed by request_id.
  std::string topic = "ranker.events";
  // Consumer group of the learners.
  std::string group_id = "ranker";
  // Static group membership (librdkafka group.instance.id): a learner
  // restarted with the same id gets its partitions back at once instead of
  // after the dead member's session timeout; a second live process with the
  // same id fences the first. "" = dynamic membership. Unique per process.
  std::string group_instance_id;
  // Rejected events are copied here with their reason; "" = off.
  std::string dead_letter_topic;
  // Write librdkafka's errors and warnings to stderr (they are counted
  // in /metrics either way).
  bool log_kafka_errors = true;
  // Bound of the consumer's queue (messages); beyond it fetching pauses.
  size_t queue_max_messages = 10000;
  // The learner publishes a new model version to the scorers at least this
  // often while it learns (and at once when its input runs dry).
  int64_t publish_interval_ms = 100;
  // On shutdown, close every impression still waiting for its join window
  // and train on it (without snapshots it would otherwise be lost).
  bool flush_joiner_on_stop = true;
  // Bound of the in-process queue behind POST /v1/events when no broker is
  // configured (events); beyond it the endpoint answers 503.
  size_t local_queue_max_events = 100000;
  // Nice value (0..19) of the learner and snapshot-writer threads: above the
  // HTTP handlers' 0, so that when the machine is busy, ranking requests win
  // the CPU and the learner learns with what is left (it catches up from
  // its queue). 0 schedules them like the handlers.
  int learner_nice = 10;
  // Serve the HTTP API (off in tests that call the router directly).
  bool http_enabled = true;
  api::HttpServerOptions http;
  // Bearer token of the admin endpoints; "" = loopback peers only.
  std::string admin_token;
  api::RankRequestLimits rank;
  // Threads that share one POST /v1/rank request's candidate blocks (128
  // candidates each): its handler thread and score_threads - 1 helpers,
  // which help whichever request is running. 1 = each request on its
  // handler thread alone. The scores are the same bits either way. In
  // process, 2 threads score 500 candidates in 0.67x the time; but the
  // helpers cost CPU, and on a machine the learner already fills (the
  // 2-core benchmarks) they took it from the learner: raise it where
  // cores are spare (BENCHMARKS.md, session 10).
  int score_threads = 1;
  SnapshotOptions snapshot;
  ModelTopicOptions model_topic;

  Status Validate() const;
};

}  // namespace ranker::app
