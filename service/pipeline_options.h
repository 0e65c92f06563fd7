// Options of the learning pipeline (service/pipeline.h): decode -> join ->
// train. Plain data; settings/ fills it (app::Config::pipeline()).
#pragma once

#include "base/status.h"
#include "ingest/event_decoder.h"
#include "join/joiner.h"
#include "learner/options.h"

namespace ranker::app {

struct PipelineOptions {
  learner::ModelOptions model;
  learner::OptimizerOptions optimizer;
  learner::TrainerOptions train;
  learner::JoinerOptions join;
  ingest::DecoderOptions ingest;

  // Each module's Validate(), and the joiner against the tasks (per-task
  // windows name tasks; immediate mode needs a binary click task).
  Status Validate() const;
};

}  // namespace ranker::app
