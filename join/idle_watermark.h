// When an idle stream's event time moves on (issue 15). The joiner's event
// time moves only with new events, so the last windows of a log that ends
// (a quiet night, an idle partition) would never close. When no event has
// arrived for idle_flush_ms of wall time, event time moves on by the wall
// time that has passed since the last event: the service appends a
// `watermark` event with that time to its input, once per tick, so open
// windows close in turn (a slow trickle of clicks is not made late by a
// jump) and every consumer of the log sees the same advance at the same
// offset (a learner restarted from a snapshot reaches the same state).
//
// Pure logic, no clock of its own: the caller passes the time. Thread-safety:
// none (the learner thread).
#pragma once

#include <cstdint>
#include <limits>

namespace ranker::learner {

class IdleWatermark {
 public:
  // idle_flush_ms 0 disables. The tick is idle_flush_ms / 10, within
  // [10, 1000] ms.
  explicit IdleWatermark(int64_t idle_flush_ms);

  // Called on every round of the learner loop. `now_ms`: monotonic wall
  // time; `events`: events consumed so far other than watermarks (any
  // change restarts the idle clock); `watermark_ms`: the joiner's event
  // time; `waiting`: something waits for event time (pending impressions,
  // a partial batch). Returns the ts_ms of a watermark to append now, or
  // -1.
  int64_t Poll(int64_t now_ms, int64_t events, int64_t watermark_ms, bool waiting);

  int64_t tick_ms() const { return tick_ms_; }

 private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::min();
  const int64_t idle_ms_;
  const int64_t tick_ms_;
  int64_t events_ = -1;       // at the last event; -1 before the first Poll
  int64_t since_ms_ = 0;      // wall time of the last event
  int64_t base_ts_ = 0;       // the joiner's event time then
  int64_t sent_ms_ = kNever;  // wall time of the last watermark
};

}  // namespace ranker::learner
