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

// How the trainer's progressive metrics count an example. Each impression is
// scored once, before any training on it, against its matured labels: in
// window mode that is the step that trains it (kAtStep); in the joiner's
// immediate mode the impression trains before its labels mature, so its
// first example keeps its predictions (kScoreOnly) and a record that is not
// trained brings the matured labels later (kLabelsOnly, the impression's
// last one kFinalLabelsOnly), matched by Example::eval_id.
enum class Evaluation : uint8_t {
  kAtStep = 0,           // scored at its step against its own labels (default)
  kScoreOnly = 1,        // trained; predictions kept under eval_id
  kNone = 2,             // trained; not scored (a correction, a late task)
  kLabelsOnly = 3,       // not trained: labels for the predictions kept under eval_id
  kFinalLabelsOnly = 4,  // as kLabelsOnly, and the last for that eval_id
};

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
  // Per-task loss weights, parallel to `labels`; empty = every weight 1. The
  // example's loss for task t is multiplied by loss_weights[t] (finite,
  // >= 0); it is a constant of the step: no gradient flows through it.
  // The joiner's immediate mode sets it (delayed-feedback importance
  // weights); every other producer of examples leaves it empty.
  std::vector<double> loss_weights;
  // The list this example belongs to (listwise losses): examples with the
  // same nonzero `group` are the impressions of one request. The joiner emits
  // a group's examples contiguously and Trainer never splits a run of equal
  // nonzero groups across two steps, so a loss sees whole lists. Consecutive
  // groups differ; 0 = not grouped (the example is a list of its own).
  uint64_t group = 0;
  // The event times of the engagements whose labels this example is the
  // first to bring to training (the joiner sets it; feedback-delay
  // metrics: the joiner's watermark at the step that trains the example
  // minus each of these). Not a feature; never affects learning.
  std::vector<int64_t> feedback_ts_ms;
  // Progressive metrics (see Evaluation); eval_id != 0 unless kAtStep/kNone.
  Evaluation evaluation = Evaluation::kAtStep;
  uint64_t eval_id = 0;
};

// Whether the trainer trains on `e` (a labels-only record is not).
inline bool IsTrained(const Example& e) {
  return e.evaluation != Evaluation::kLabelsOnly && e.evaluation != Evaluation::kFinalLabelsOnly;
}

// The loss weight of task t (1 when the example carries none).
inline double LossWeight(const Example& e, size_t t) {
  return t < e.loss_weights.size() ? e.loss_weights[t] : 1.0;
}

enum class EventType { kImpression, kClick, kWatch, kExample, kWatermark };

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
    case EventType::kWatermark:
      return "watermark";
  }
  return "impression";
}

// A validated event. For kImpression and kExample, `example` holds the
// features (and, for kExample, the labels). For kClick and kWatch only
// example.request_id, example.item_id and example.ts_ms are set. For
// kWatermark only example.ts_ms is set (always, >= 0): it tells the joiner
// that event time has reached ts_ms, so windows that close by then close
// (producers may send it; the service appends it when its input is idle).
struct Event {
  EventType type = EventType::kImpression;
  Example example;
  double watch_seconds = 0;  // kWatch only; finite, >= 0
  std::string event_id;      // optional, "" if absent
};

}  // namespace ranker::learner
