// The configuration of a service (`ranker serve`, `ranker demo`) and of a
// replay: every module's Options struct in one place. Plain data with
// in-class defaults; settings/config.h fills it from YAML, RANKER_*
// variables and --set flags, and documents every key.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "ingest/event_decoder.h"
#include "join/joiner.h"
#include "learner/options.h"
#include "service/pipeline_options.h"
#include "service/service_options.h"

namespace ranker::app {

// A challenger (README "Champion and challengers"): a model trained beside
// the champion on the same joined examples, in the same order.
struct ChallengerConfig {
  std::string name;  // unique; not "champion" or "main" (the config's own model)
  // The overrides as written, each a full key of the learning keys
  // (model.*, optimizer.*, train.*, tasks) with its value text.
  std::vector<std::pair<std::string, std::string>> overrides;
  // The champion's learning options with the overrides applied
  // (settings/ResolveChallengers); what the challenger trains with.
  PipelineOptions pipeline;
};

struct Config {
  learner::ModelOptions model;
  learner::OptimizerOptions optimizer;
  learner::TrainerOptions train;
  learner::JoinerOptions join;
  ingest::DecoderOptions ingest;
  // kafka.* keys, passed to librdkafka as they are ("kafka.bootstrap.servers"
  // becomes "bootstrap.servers").
  std::map<std::string, std::string> kafka;
  // The service (serve/demo): ingest.brokers/topic/group_id/..., service.*,
  // http.*, rank.*.
  ServiceOptions service;
  // `challengers:` (YAML list of {name, model: {overrides}}). Each one's
  // `pipeline` is filled by settings/ResolveChallengers.
  std::vector<ChallengerConfig> challengers;

  // Every module's Validate() error and every challenger's (errors name
  // "challengers[i].<key>"), then, when each module is sound on its own, the
  // cross-module checks (e.g. the joiner's tasks exist). Each message starts
  // with the key it names; empty when the config is valid.
  std::vector<Status> Errors() const;
  // OK, or InvalidArgument with Errors()' messages one per line.
  Status Validate() const;
  // The learning pipeline's share (a copy).
  PipelineOptions pipeline() const { return {model, optimizer, train, join, ingest}; }
};

}  // namespace ranker::app
