// Where the handlers get the model to score with: the latest published
// version. Implementations: app::Service (the learner's or the follower's
// ModelPublisher); tests use a fixed version.
//
// Thread-safety: Latest() from any thread, at any time; it never waits for
// the learner.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "serving/published_model.h"

namespace ranker::app {

class ModelSource {
 public:
  virtual ~ModelSource() = default;
  // The latest version; nullptr before the first one is published.
  virtual std::shared_ptr<const PublishedModel> Latest() const = 0;

  // Champion and challengers (README "Champion and challengers"). A model
  // of the set by name; "champion" (and "") name whichever serves by
  // default. nullptr when no model has that name. The default: one model,
  // "main", the champion.
  virtual std::shared_ptr<const PublishedModel> Named(std::string_view name) const {
    return name.empty() || name == "champion" || name == "main" ? Latest() : nullptr;
  }
  struct Entry {
    std::string name;
    std::shared_ptr<const PublishedModel> model;  // null before its first version
    bool champion = false;
  };
  // Every model of the set, the champion flagged.
  virtual std::vector<Entry> Models() const { return {{"main", Latest(), true}}; }
};

// POST /v1/models/{name}/promote (admin): `name` becomes the champion, the
// old champion a challenger. NotFound for an unknown name.
class ModelPromoter {
 public:
  virtual ~ModelPromoter() = default;
  virtual Status Promote(std::string_view name) = 0;
};

}  // namespace ranker::app
