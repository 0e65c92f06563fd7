#include "join/idle_watermark.h"

#include <gtest/gtest.h>

#include <vector>

#include "join/joiner.h"
#include "tests/join/joiner_test_util.h"

namespace ranker::learner {
namespace {

TEST(IdleWatermarkTest, AdvancesByTheWallTimeSinceTheLastEventOncePerTick) {
  IdleWatermark idle(5000);
  EXPECT_EQ(idle.tick_ms(), 500);
  EXPECT_EQ(idle.Poll(1000, 7, 90000, true), -1);  // the last event: wall 1000, event 90000
  EXPECT_EQ(idle.Poll(5999, 7, 90000, true), -1);  // not idle long enough
  EXPECT_EQ(idle.Poll(6000, 7, 90000, true), 95000);
  EXPECT_EQ(idle.Poll(6400, 7, 95000, true), -1);  // within the tick
  EXPECT_EQ(idle.Poll(6500, 7, 95000, true), 95500);
  EXPECT_EQ(idle.Poll(9000, 7, 95500, true), 98000);
}

TEST(IdleWatermarkTest, AnEventRestartsTheClockAndNothingWaitingSendsNothing) {
  IdleWatermark idle(100);
  EXPECT_EQ(idle.Poll(0, 1, 500, true), -1);
  EXPECT_EQ(idle.Poll(100, 1, 500, false), -1);  // nothing waits for event time
  EXPECT_EQ(idle.Poll(150, 1, 500, true), 650);
  EXPECT_EQ(idle.Poll(160, 2, 700, true), -1);  // a new event at wall 160
  EXPECT_EQ(idle.Poll(259, 2, 700, true), -1);
  EXPECT_EQ(idle.Poll(260, 2, 700, true), 800);
}

TEST(IdleWatermarkTest, ZeroDisables) {
  IdleWatermark idle(0);
  EXPECT_EQ(idle.Poll(0, 1, 0, true), -1);
  EXPECT_EQ(idle.Poll(1000000, 1, 0, true), -1);
}

// With the joiner: after the log ends, windows close in turn, each within
// the window of wall time (a tick late at most), not all at once.
TEST(IdleWatermarkTest, ClosesAnIdleJoinersWindowsInTurn) {
  JoinerOptions o;
  o.window_ms = 1000;
  Joiner j(o, {"click", "watch"});
  IdleWatermark idle(200);
  std::vector<Example> out;
  for (int i = 0; i < 5; ++i) j.Add(testing::Imp("r", "i" + std::to_string(i), 300 * i), &out);
  const int64_t events = 5;
  std::vector<int64_t> closed_at;  // wall time each example came out
  for (int64_t now = 0; now <= 3000 && j.stats().pending > 0; now += 10) {
    const int64_t ts = idle.Poll(now, events, j.watermark_ms(), j.stats().pending > 0);
    if (ts < 0) continue;
    const size_t before = out.size();
    j.Add(testing::Watermark(ts), &out);
    for (size_t k = before; k < out.size(); ++k) closed_at.push_back(now);
  }
  ASSERT_EQ(out.size(), 5u);
  // The last impression (event time 1200, the watermark) closes 1000 ms of
  // wall time after the log went quiet (within a 20 ms tick); the first
  // three (deadlines 1000..1600 < 1200 + 200 + tick) came out earlier.
  EXPECT_LE(closed_at.back(), 1000 + idle.tick_ms());
  EXPECT_GE(closed_at.back(), 1000);
  EXPECT_LT(closed_at.front(), closed_at.back());
}

}  // namespace
}  // namespace ranker::learner
