// The wall-clock feedback delay of `serve` (issue 16): for each click, the
// time from the learner consuming it to the first published version that
// learned from it. learner::FeedbackDelay measures the event-time side (up
// to the training step); this adds what the learner thread and the
// publication interval cost, on the learner's monotonic clock.
//
// Clicks are followed by (request_id, item_id): Consumed() when a click
// joins its impression (window mode), Handed() when the joiner's example that first
// carries it goes to the trainer (the trainer takes examples in the order
// it is handed them), Published() when a version has learned the first
// `taken` of those examples. Bounded: only joined clicks are remembered
// and each is forgotten once handed. Not in snapshots (wall times mean
// nothing to a restarted process): clicks in flight at a restart are not
// measured.
//
// Thread-safety: none (the learner thread; publications copy Summarize()).
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "learner/feedback_delay.h"

namespace ranker::app {

class PublishDelay {
 public:
  // The click on (request_id, item_id) joined its impression at now_ms.
  // A second click on the same pair keeps the first time.
  void Consumed(std::string_view request_id, std::string_view item_id, int64_t now_ms);
  // The trained example number `index` (0-based, in handing order) is the
  // first to carry the click on (request_id, item_id); a pair never
  // Consumed() is ignored.
  void Handed(std::string_view request_id, std::string_view item_id, uint64_t index);
  // The same for a click consumed at consumed_ms, handed without waiting
  // (immediate mode: the click's example is made while it is consumed).
  void HandedAt(uint64_t index, int64_t consumed_ms) { handed_.emplace_back(index, consumed_ms); }
  // A version published at now_ms has learned the examples before `taken`.
  void Published(uint64_t taken, int64_t now_ms);
  // Forgets every click in flight (a restore replaced the learner's state).
  void Reset();

  learner::FeedbackDelay::Summary Summarize() const { return delays_.Summarize(); }
  size_t in_flight() const { return consumed_.size() + handed_.size(); }

 private:
  static uint64_t Key(std::string_view request_id, std::string_view item_id);

  std::unordered_map<uint64_t, int64_t> consumed_;   // key -> consumed at
  std::deque<std::pair<uint64_t, int64_t>> handed_;  // (index, consumed at), by index
  learner::FeedbackDelay delays_;
};

}  // namespace ranker::app
