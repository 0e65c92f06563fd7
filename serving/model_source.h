// Where the handlers get the model to score with: the latest published
// version. Implementations: app::Service (the learner's or the follower's
// ModelPublisher); tests use a fixed version.
//
// Thread-safety: Latest() from any thread, at any time; it never waits for
// the learner.
#pragma once

#include <memory>

#include "serving/published_model.h"

namespace ranker::app {

class ModelSource {
 public:
  virtual ~ModelSource() = default;
  // The latest version; nullptr before the first one is published.
  virtual std::shared_ptr<const PublishedModel> Latest() const = 0;
};

}  // namespace ranker::app
