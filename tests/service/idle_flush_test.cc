// join.idle_flush_ms without a broker: when POSTed events stop, the learner
// moves event time on with wall time (watermarks into its own queue), so
// the last impressions are trained without any later event.
#include <gtest/gtest.h>

#include <string>

#include "tests/service/service_test_util.h"

namespace ranker::app {
namespace {

using namespace ranker::app::testing;  // NOLINT

std::string Impressions(int n) {
  std::string body;
  for (int i = 0; i < n; ++i) {
    body += R"({"type":"impression","request_id":"r)" + std::to_string(i) +
            R"(","item_id":"i1","position":1,"ts_ms":)" + std::to_string(1000 + 100 * i) + "}\n";
  }
  return body + R"({"type":"click","request_id":"r2","item_id":"i1","ts_ms":1500})" + "\n";
}

TEST(IdleFlush, AnIdleStreamIsLearnedWithoutLaterEvents) {
  std::unique_ptr<Service> s =
      StartedService(TestConfig({"join.window_ms=60000", "join.idle_flush_ms=100"}));
  ASSERT_NE(s, nullptr);
  api::Response r = s->Handle(Post("/v1/events", Impressions(5), "application/x-ndjson"));
  ASSERT_EQ(r.status, 200) << r.body;
  // 60 s of event time pass in about 60 s of wall time after the stream went
  // quiet: too long for a test, so the window is checked through its state
  // instead: event time moves on, watermark by watermark.
  ASSERT_TRUE(WaitFor([&] { return s->Latest() && s->Latest()->join.watermarks >= 3; }));
  const auto latest = s->Latest();
  EXPECT_EQ(latest->join.impressions, 5);
  EXPECT_EQ(latest->join.joined_clicks, 1);
  EXPECT_GT(latest->events_consumed, 6);  // the watermarks went through the queue
}

TEST(IdleFlush, TheLastWindowsCloseWithinTheWindowOfWallTime) {
  std::unique_ptr<Service> s = StartedService(
      TestConfig({"join.window_ms=300", "join.idle_flush_ms=100", "train.batch_size=4"}));
  ASSERT_NE(s, nullptr);
  api::Response r = s->Handle(Post("/v1/events", Impressions(5), "application/x-ndjson"));
  ASSERT_EQ(r.status, 200) << r.body;
  // Five examples, though the batch size is 4: the watermark trains the rest.
  ASSERT_TRUE(WaitFor([&] { return s->Latest() && s->Latest()->examples_trained == 5; }));
  const auto latest = s->Latest();
  EXPECT_EQ(latest->join.pending, 0);
  EXPECT_GT(latest->join.watermarks, 0);
  EXPECT_EQ(latest->join.examples_emitted, 5);
}

TEST(IdleFlush, ZeroNeverMovesEventTime) {
  std::unique_ptr<Service> s = StartedService(TestConfig({"join.window_ms=300"}));
  ASSERT_NE(s, nullptr);
  api::Response r = s->Handle(Post("/v1/events", Impressions(5), "application/x-ndjson"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitConsumed(*s, 6));
  r = s->Handle(Post("/v1/events", R"({"type":"click","request_id":"x","item_id":"y"})",
                     "application/x-ndjson"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(WaitConsumed(*s, 7));
  EXPECT_EQ(s->Latest()->join.watermarks, 0);
  EXPECT_EQ(s->Latest()->join.pending, 2);  // 1400 + 300 > 1700: r3, r4 still open
}

}  // namespace
}  // namespace ranker::app
