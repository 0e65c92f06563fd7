// An immutable model version as the scorers see it (contract §5 freshness):
// the model to score with and everything the read side needs pre-computed
// (the GET /v1/model body, the metrics, the offsets the version reflects).
// service/model_publisher.h makes them; serving/model_source.h hands out
// the latest.
//
// Thread-safety: immutable once published, so any thread may read it;
// ParamChecksum() computes its cache once, and the GET /v1/model body cache
// (ModelBody, serving/handlers_snapshots.h) is locked, safely from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "ingest/event_source.h"
#include "join/joiner.h"
#include "learner/feedback_delay.h"
#include "learner/metrics.h"
#include "learner/model.h"

namespace ranker::app {

class SnapshotAdmin;

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
  // Wall time from consuming a click to the first version that learned it.
  learner::FeedbackDelay::Summary feedback_publish_delay;
  int64_t events_consumed = 0;
  int64_t examples_trained = 0;
  double clone_ms = 0;    // how long the copy of the model took
  double publish_ms = 0;  // the whole publication on the learner thread (copy, report)
  // Embedding rows written or removed since the previous publication (what
  // this one carried; the rest is shared with it): distinct rows, each
  // counted once however many training steps wrote it.
  uint64_t publish_rows = 0;

  // The model's param_checksum, computed on first use by whichever thread
  // asks (the dense part's digest, ~1.6 MB, plus the rows' incremental sum,
  // already up to date in a copy), then cached.
  const std::string& ParamChecksum() const {
    std::call_once(checksum_once_, [this] { checksum_ = model->ParamChecksumHex(); });
    return checksum_;
  }

 private:
  friend std::string ModelBody(const PublishedModel&, const SnapshotAdmin&);
  mutable std::once_flag checksum_once_;
  mutable std::string checksum_;
  // The last GET /v1/model body and the snapshot (id, created_ms) it shows:
  // the report is parsed and serialised once per version and last snapshot,
  // not per request.
  mutable std::mutex body_mu_;
  mutable bool body_cached_ = false;
  mutable std::pair<uint64_t, int64_t> body_snapshot_;
  mutable std::string body_;
};

}  // namespace ranker::app
