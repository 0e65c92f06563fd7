#include "join/idle_watermark.h"

#include <algorithm>

namespace ranker::learner {

IdleWatermark::IdleWatermark(int64_t idle_flush_ms)
    : idle_ms_(idle_flush_ms), tick_ms_(std::clamp<int64_t>(idle_flush_ms / 10, 10, 1000)) {}

int64_t IdleWatermark::Poll(int64_t now_ms, int64_t events, int64_t watermark_ms, bool waiting) {
  if (idle_ms_ <= 0) return -1;
  if (events != events_) {  // an event arrived: the idle clock restarts
    events_ = events;
    since_ms_ = now_ms;
    base_ts_ = watermark_ms;
    sent_ms_ = kNever;
    return -1;
  }
  const int64_t idle = now_ms - since_ms_;
  if (idle < idle_ms_ || !waiting) return -1;
  if (sent_ms_ != kNever && now_ms - sent_ms_ < tick_ms_) return -1;
  sent_ms_ = now_ms;
  return base_ts_ + idle;
}

}  // namespace ranker::learner
