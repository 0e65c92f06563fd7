// The decoded form of contract §1 events, and the training example the joiner
// makes of them. Decoding and validation live in ingest/; the joiner and the
// trainer consume only these structs, so nothing here ever holds a bad value:
// every string is a feature value, every number finite.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace ranker::learner {

// One categorical feature. `field` is namespaced: "user_id", "item_id",
// "user.<name>", "item.<name>", "context.<name>" (so `context.device` is the
// device feature of the position tower).
struct CategoricalFeature {
  std::string field;
  std::string value;
};

// One dense feature from `dense{}`; value is finite.
struct DenseFeature {
  std::string name;
  double value = 0;
};

// Missing label: the task is not trained on this example.
inline constexpr double kNoLabel = std::numeric_limits<double>::quiet_NaN();
inline bool HasLabel(double label) { return !std::isnan(label); }

// An impression with its labels: what the trainer learns from and what the
// scorer scores (labels empty at serving).
struct Example {
  std::string request_id;
  std::string item_id;
  int32_t position = 0;  // 1-based; 0 = missing (always at serving)
  std::string device;    // context.device; "" = missing
  int64_t ts_ms = -1;    // event time; -1 = not given
  // user_id, item_id and every user{}/item{}/context{} entry, in event order.
  std::vector<CategoricalFeature> categorical;
  std::vector<DenseFeature> dense;
  // One per configured task, in ModelOptions::tasks order; kNoLabel = missing.
  std::vector<double> labels;
  // The list this example belongs to (listwise losses): examples with the
  // same nonzero `group` are the impressions of one request. The joiner emits
  // a group's examples contiguously and Trainer never splits a run of equal
  // nonzero groups across two steps, so a loss sees whole lists. Consecutive
  // groups differ; 0 = not grouped (the example is a list of its own).
  uint64_t group = 0;
};

enum class EventType { kImpression, kClick, kWatch, kExample };

// The contract-§1 `type` string of an event type.
constexpr std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kImpression:
      return "impression";
    case EventType::kClick:
      return "click";
    case EventType::kWatch:
      return "watch";
    case EventType::kExample:
      return "example";
  }
  return "impression";
}

// A validated event. For kImpression and kExample, `example` holds the
// features (and, for kExample, the labels). For kClick and kWatch only
// example.request_id, example.item_id and example.ts_ms are set.
struct Event {
  EventType type = EventType::kImpression;
  Example example;
  double watch_seconds = 0;  // kWatch only; finite, >= 0
  std::string event_id;      // optional, "" if absent
};

}  // namespace ranker::learner
