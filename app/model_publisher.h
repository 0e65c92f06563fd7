// Immutable model versions for the scorers (contract §5 freshness): the
// learner thread publishes a deep copy of its model with everything the read
// side needs pre-computed (the GET /v1/model body, the metrics, the offsets
// the version reflects); readers take the latest version with one atomic
// load and never wait for the learner.
//
// Thread-safety: Publish() is called by one writer (the learner thread);
// Latest() may be called from any thread at any time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "app/pipeline.h"
#include "ingest/event_source.h"
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

// "ranker.events/0" -> next offset, as rendered in GET /v1/model.
std::string OffsetKey(const ingest::TopicPartition& tp);

class ModelPublisher {
 public:
  ModelPublisher() = default;
  ModelPublisher(const ModelPublisher&) = delete;
  ModelPublisher& operator=(const ModelPublisher&) = delete;

  // Copies the pipeline's model and state into a new version and makes it
  // the latest. Learner thread only (the pipeline must not change meanwhile).
  // `before_visible`, if set, runs on the new version before any reader can
  // see it (so the metrics of a version are in place when it is served).
  std::shared_ptr<const PublishedModel> Publish(
      const LearningPipeline& pipeline, const ingest::OffsetMap& offsets, int64_t now_ms,
      const std::function<void(const PublishedModel&)>& before_visible = nullptr);

  // Makes `model` (built elsewhere, e.g. by a follower from the model
  // topic: its version is the leader's) the latest as is. Same writer as
  // Publish(); `before_visible` as there.
  void Install(std::shared_ptr<PublishedModel> model,
               const std::function<void(const PublishedModel&)>& before_visible = nullptr);

  // The next Publish() makes version `version` + 1 (a learner restored from
  // a snapshot keeps counting up). REQUIRES: before the first Publish().
  void ContinueFrom(uint64_t version) { versions_ = version; }

  // The latest version; nullptr before the first Publish().
  std::shared_ptr<const PublishedModel> Latest() const { return latest_.load(); }

 private:
  std::atomic<std::shared_ptr<const PublishedModel>> latest_;
  uint64_t versions_ = 0;  // writer only
};

}  // namespace ranker::app
