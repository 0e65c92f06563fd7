// Contract-§1 JSON encoding of the events that sim/ produces: simulated
// impressions/clicks/watches (impressions with their ground truth) and the
// pre-joined `example` events of the real-data converters. Encoding only: the
// decoder with validation is ingest/'s; sim/ depends on learner/ and base/.
#pragma once

#include <optional>
#include <span>
#include <string>

#include "learner/event.h"

namespace ranker::sim {

// The simulated world's ground truth about one impression.
struct Truth {
  double examination = 0;             // P(user looks at the position)
  double attraction = 0;              // P(user clicks | looked)
  double click_probability = 0;       // examination * attraction
  double expected_watch_seconds = 0;  // mean watch time if clicked
};

// One event of the simulated stream; `truth` is set on impressions only.
struct SimEvent {
  learner::Event event;
  std::optional<Truth> truth;
};

// One JSON object, no trailing newline. Categorical features map back to
// their §1 places: "user_id" -> user_id, "user.<k>" -> user{k}, "item.<k>" ->
// item{k}, "context.<k>" -> context{k} ("item_id" entries are skipped:
// example.item_id is the item_id); example.device becomes context.device if
// no "context.device" feature is given. For kExample, `label_names[t]` names
// example.labels[t] (labels without a name or with kNoLabel are left out).
// Fields that are unset (ts_ms < 0, position 0, empty strings) are omitted.
std::string EncodeEventJson(const learner::Event& event,
                            std::span<const std::string> label_names = {},
                            const Truth* truth = nullptr);

inline std::string EncodeEventJson(const SimEvent& e) {
  return EncodeEventJson(e.event, {}, e.truth ? &*e.truth : nullptr);
}

}  // namespace ranker::sim
