// Immutable model versions for the scorers (contract §5 freshness): the
// learner thread publishes a copy of its model that shares the embedding
// rows (O(dense part + rows changed since the last publication), see
// learner/embedding_table.h) with everything the read
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

#include "base/reclaimer.h"
#include "ingest/event_source.h"
#include "learner/metrics.h"
#include "learner/model.h"
#include "service/pipeline.h"
#include "serving/published_model.h"

namespace ranker::app {

// "ranker.events/0" -> next offset, as rendered in GET /v1/model.
std::string OffsetKey(const ingest::TopicPartition& tp);

class ModelPublisher {
 public:
  // With a `reclaimer`, a version is freed on its thread once the last
  // reader drops it, never on a reader's (a /v1/rank handler's) or the
  // learner's thread. `reclaimer` must outlive the publisher's Publish and
  // Install calls (not the versions: those outliving it are freed inline).
  explicit ModelPublisher(Reclaimer* reclaimer = nullptr) : reclaimer_(reclaimer) {}
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
  Reclaimer* const reclaimer_;
  std::atomic<std::shared_ptr<const PublishedModel>> latest_;
  uint64_t versions_ = 0;  // writer only
};

}  // namespace ranker::app
