// Time as a dependency: production code reads a Clock it was given, so tests
// drive time with ManualClock and never sleep.
#pragma once

#include <atomic>
#include <cstdint>

namespace ranker {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (wall clock; used for event time and
  // published_at_ms).
  virtual int64_t NowMs() const = 0;
  // Monotonic nanoseconds, for measuring durations.
  virtual int64_t MonotonicNs() const = 0;
};

// The real clocks. Thread-safe. The returned object lives forever.
Clock* SystemClock();

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 0) : now_ms_(start_ms) {}
  int64_t NowMs() const override { return now_ms_.load(); }
  int64_t MonotonicNs() const override { return now_ms_.load() * 1000000; }
  void AdvanceMs(int64_t ms) { now_ms_.fetch_add(ms); }
  void SetMs(int64_t ms) { now_ms_.store(ms); }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace ranker
