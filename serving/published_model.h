// An immutable model version as the scorers see it (contract §5 freshness):
// the model to score with and everything the read side needs pre-computed
// (the GET /v1/model body, the metrics, the offsets the version reflects).
// service/model_publisher.h makes them; serving/model_source.h hands out
// the latest.
//
// Thread-safety: immutable once published, so any thread may read it;
// ParamChecksum() computes its cache once, safely from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "ingest/event_source.h"
#include "learner/feedback_delay.h"
#include "learner/joiner.h"
#include "learner/metrics.h"
#include "learner/model.h"

namespace ranker::app {

// One published version. Immutable once published.
struct PublishedModel {
  std::unique_ptr<const learner::Model> model;
  uint64_t version = 0;         // 1, 2, ... (+1 per publication)
  int64_t published_at_ms = 0;  // wall clock
  // Per topic-partition, the next offset not reflected in this version.
  ingest::OffsetMap offsets;
  // The GET /v1/model body, without "param_checksum" (ParamChecksum() adds it).
  std::string report_json;
  // Counters and metrics at publication, for /metrics and progress lines.
  learner::MetricsReport metrics;
  learner::JoinerStats join;
  learner::FeedbackDelay::Summary feedback_delay;
  int64_t events_consumed = 0;
  int64_t examples_trained = 0;
  double clone_ms = 0;  // how long the copy of the model took

  // The model's param_checksum, computed on first use by whichever thread
  // asks (it digests every embedding row: ~0.7 s at a million rows, so not
  // on the learner thread at each publication), then cached.
  const std::string& ParamChecksum() const {
    std::call_once(checksum_once_, [this] { checksum_ = model->ParamChecksumHex(); });
    return checksum_;
  }

 private:
  mutable std::once_flag checksum_once_;
  mutable std::string checksum_;
};

}  // namespace ranker::app
