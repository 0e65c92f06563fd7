// The joiner's per-task maturity, immediate mode (fake-negative weighting's
// input), watermark events, engagement times for the feedback delay, and
// the state format (version 2, and version 1 still restoring).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/coding.h"
#include "base/random.h"
#include "join/joiner.h"
#include "learner/example_codec.h"
#include "tests/join/joiner_test_util.h"

namespace ranker::learner {
namespace {

using testing::Click;
using testing::Imp;
using testing::Watch;
using testing::Watermark;

const std::vector<std::string> kTasks = {"click", "watch"};

JoinerOptions Windows(int64_t click_ms, int64_t watch_ms, JoinMode mode = JoinMode::kWindow) {
  JoinerOptions o;
  o.window_ms = click_ms;
  o.task_window_ms["watch"] = watch_ms;
  o.mode = mode;
  o.max_pending = 100;
  o.late_memory = 100;
  o.immediate_warmup_ms = 0;  // immediate from the first impression
  return o;
}

TEST(JoinerMaturityTest, WatermarkEventsCloseWindowsInTurn) {
  Joiner j(Windows(1000, 1000), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 100), &out);
  j.Add(Imp("r", "b", 600), &out);
  j.Add(Watermark(1099), &out);
  EXPECT_TRUE(out.empty());
  j.Add(Watermark(1100), &out);  // a's window, not b's
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].item_id, "a");
  j.Add(Watermark(900), &out);  // event time never goes back
  EXPECT_EQ(j.watermark_ms(), 1100);
  j.Add(Watermark(1600), &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].item_id, "b");
  EXPECT_EQ(j.stats().watermarks, 4);
  EXPECT_EQ(j.stats().pending, 0);
}

TEST(JoinerMaturityTest, EachTaskMaturesOnItsOwnWindow) {
  Joiner j(Windows(1000, 5000), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0), &out);
  j.Add(Click("r", "a", 200), &out);
  j.Add(Watch("r", "a", 3, 300), &out);
  j.Add(Watermark(1000), &out);  // click matures; watch stays open
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].labels[0], 1.0);
  EXPECT_FALSE(HasLabel(out[0].labels[1]));
  EXPECT_EQ(out[0].feedback_ts_ms, std::vector<int64_t>{200});
  j.Add(Click("r", "a", 1500), &out);     // the click task is closed: late
  j.Add(Watch("r", "a", 4, 4000), &out);  // watch still joins
  j.Add(Watermark(5000), &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FALSE(HasLabel(out[1].labels[0]));
  EXPECT_EQ(out[1].labels[1], 7.0);
  EXPECT_TRUE(out[1].feedback_ts_ms.empty());  // the feedback delay is the clicks'
  EXPECT_EQ(out[1].categorical.size(), 2u);    // features on every example
  EXPECT_EQ(j.stats().late_engagements, 1);
  EXPECT_EQ(j.stats().examples_emitted, 2);
  EXPECT_EQ(j.stats().pending, 0);
}

TEST(JoinerMaturityTest, ImmediateModeEmitsANegativeAtOnceAndAPositiveOnTheClick) {
  Joiner j(Windows(1000, 1000, JoinMode::kImmediate), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].labels[0], 0.0);
  EXPECT_FALSE(HasLabel(out[0].labels[1]));
  EXPECT_TRUE(out[0].feedback_ts_ms.empty());
  j.Add(Click("r", "a", 300), &out);  // corrected at once
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].labels[0], 1.0);
  EXPECT_FALSE(HasLabel(out[1].labels[1]));
  EXPECT_EQ(out[1].feedback_ts_ms, std::vector<int64_t>{300});
  j.Add(Click("r", "a", 400), &out);  // a second click adds nothing
  j.Add(Watch("r", "a", 2, 500), &out);
  EXPECT_EQ(out.size(), 2u);
  j.Add(Watermark(1000), &out);  // both mature; click is not trained again
  ASSERT_EQ(out.size(), 4u);
  // The matured labels for the predictions kept from the first example.
  EXPECT_EQ(out[0].evaluation, Evaluation::kScoreOnly);
  EXPECT_EQ(out[1].evaluation, Evaluation::kNone);
  EXPECT_EQ(out[2].evaluation, Evaluation::kFinalLabelsOnly);
  EXPECT_EQ(out[2].eval_id, out[0].eval_id);
  EXPECT_NE(out[0].eval_id, 0u);
  EXPECT_EQ(out[2].labels, (std::vector<double>{1.0, 2.0}));
  EXPECT_FALSE(IsTrained(out[2]));
  EXPECT_EQ(out[3].evaluation, Evaluation::kNone);  // the watch example trains
  EXPECT_FALSE(HasLabel(out[3].labels[0]));
  EXPECT_EQ(out[3].labels[1], 2.0);
  EXPECT_EQ(j.stats().corrections, 1);
  EXPECT_EQ(j.stats().joined_clicks, 2);
  EXPECT_EQ(j.stats().pending, 0);
}

// Issue 16, hypothesis 1: a click must not reach the click task twice. On
// a random stream (slates, repeated and late clicks, watches, evictions),
// immediate mode trains every impression's click task exactly once as a
// negative, plus exactly one positive duplicate iff a click joined in its
// window, and its watch task exactly once; the matured labels come once.
// DEFER adds exactly one real negative iff no click joined: every
// impression trains the click task exactly twice.
class ImmediateCorrections : public ::testing::TestWithParam<DelayedFeedback> {};

TEST_P(ImmediateCorrections, TrainEachTaskOncePlusOneCorrection) {
  JoinerOptions o = Windows(1000, 1500, JoinMode::kImmediate);
  o.correction = GetParam();
  const bool defer = GetParam() == DelayedFeedback::kDefer;
  o.max_pending = 40;  // some impressions are evicted (matured early)
  Joiner j(o, kTasks);
  Rng rng(16);
  std::vector<Example> out;
  std::map<std::string, int64_t> shown;  // key -> impression time
  std::set<std::string> clicked;         // a click joined inside the window
  int64_t now = 0;
  for (int r = 0; r < 200; ++r) {
    now += static_cast<int64_t>(rng.Below(50));
    const std::string req = "r" + std::to_string(r);
    for (int i = 0; i < 5; ++i) {
      j.Add(Imp(req, "i" + std::to_string(i), now, i + 1), &out);
      shown[req + "/i" + std::to_string(i)] = now;
    }
    // Engagements on recent requests, in time order, some after the window.
    const std::string old =
        "r" + std::to_string(r - static_cast<int>(rng.Below(std::min(r + 1, 30))));
    const std::string item = "i" + std::to_string(rng.Below(5));
    const int64_t before = j.stats().corrections;
    j.Add(Click(old, item, now), &out);
    if (j.stats().corrections > before) clicked.insert(old + "/" + item);
    if (rng.Bernoulli(0.3)) j.Add(Click(old, item, now), &out);  // a repeat
    if (rng.Bernoulli(0.5)) j.Add(Watch(old, item, 3, now), &out);
  }
  j.Flush(&out);
  std::map<std::string, int> negatives, positives, watches, final_labels;
  for (const Example& e : out) {
    const std::string key = e.request_id + "/" + e.item_id;
    if (!IsTrained(e)) {
      final_labels[key] += e.evaluation == Evaluation::kFinalLabelsOnly;
      continue;
    }
    if (HasLabel(e.labels[0])) ++(e.labels[0] == 1.0 ? positives : negatives)[key];
    if (HasLabel(e.labels[1])) ++watches[key];
  }
  ASSERT_EQ(shown.size(), 1000u);
  EXPECT_GT(clicked.size(), 50u);
  EXPECT_GT(j.stats().evicted, 0);
  EXPECT_GT(j.stats().late_engagements, 0);
  for (const auto& [key, ts] : shown) {
    EXPECT_EQ(negatives[key], defer && !clicked.count(key) ? 2 : 1) << key;
    EXPECT_EQ(positives[key], clicked.count(key)) << key;
    EXPECT_EQ(watches[key], 1) << key;
    EXPECT_EQ(final_labels[key], 1) << key;
  }
  EXPECT_EQ(j.stats().corrections, static_cast<int64_t>(clicked.size()));
}

INSTANTIATE_TEST_SUITE_P(Methods, ImmediateCorrections,
                         ::testing::Values(DelayedFeedback::kFakeNegativeWeighting,
                                           DelayedFeedback::kPositiveUnlabeled,
                                           DelayedFeedback::kDefer));

// DEFER's real negative: emitted when the click window closes without a
// click, with the watch label when both mature together, and not scored
// (the labels-only record scores the kept prediction).
TEST(JoinerMaturityTest, DeferDuplicatesARealNegativeWhenTheClickWindowCloses) {
  JoinerOptions o = Windows(1000, 1000, JoinMode::kImmediate);
  o.correction = DelayedFeedback::kDefer;
  Joiner j(o, kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0), &out);
  j.Add(Imp("r", "b", 0), &out);
  j.Add(Click("r", "b", 300), &out);
  ASSERT_EQ(out.size(), 3u);  // two negatives, b's positive
  j.Add(Watermark(1000), &out);
  ASSERT_EQ(out.size(), 7u);  // per impression: the record, then the example
  EXPECT_EQ(out[3].evaluation, Evaluation::kFinalLabelsOnly);
  EXPECT_EQ(out[4].item_id, "a");
  EXPECT_EQ(out[4].evaluation, Evaluation::kNone);
  EXPECT_EQ(out[4].labels, (std::vector<double>{0.0, 0.0}));  // the real negative
  EXPECT_EQ(out[6].item_id, "b");
  EXPECT_FALSE(HasLabel(out[6].labels[0]));  // b's click already trained twice
  EXPECT_EQ(out[6].labels[1], 0.0);
  // A click window shorter than the watch window: the real negative alone.
  JoinerOptions split = Windows(1000, 5000, JoinMode::kImmediate);
  split.correction = DelayedFeedback::kDefer;
  Joiner k(split, kTasks);
  out.clear();
  k.Add(Imp("r", "a", 0), &out);
  k.Add(Watermark(1000), &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].evaluation, Evaluation::kLabelsOnly);
  EXPECT_EQ(out[2].labels[0], 0.0);
  EXPECT_FALSE(HasLabel(out[2].labels[1]));
}

TEST(JoinerMaturityTest, ImmediateClickAfterItsWindowIsLate) {
  Joiner j(Windows(1000, 5000, JoinMode::kImmediate), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0), &out);
  j.Add(Click("r", "a", 1000), &out);
  ASSERT_EQ(out.size(), 2u);  // the negative, and the click's matured label 0
  EXPECT_EQ(out[1].evaluation, Evaluation::kLabelsOnly);  // watch is still open
  EXPECT_EQ(out[1].labels[0], 0.0);
  EXPECT_FALSE(HasLabel(out[1].labels[1]));
  EXPECT_EQ(j.stats().late_engagements, 1);
  EXPECT_EQ(j.stats().corrections, 0);
}

TEST(JoinerMaturityTest, EvictionMaturesEveryOpenTaskAtOnce) {
  JoinerOptions o = Windows(1000, 5000);
  o.max_pending = 1;
  Joiner j(o, kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0), &out);
  j.Add(Imp("r", "b", 10), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].item_id, "a");
  EXPECT_EQ(out[0].labels[0], 0.0);
  EXPECT_EQ(out[0].labels[1], 0.0);
  j.Add(Watermark(100000), &out);  // a's stale queue entries emit nothing
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[1].item_id, "b");
  EXPECT_EQ(out[2].item_id, "b");
  EXPECT_EQ(j.stats().evicted, 1);
}

// Both modes, through a state round trip at every tenth event.
class JoinerRoundTrip : public ::testing::TestWithParam<JoinMode> {};

std::vector<Event> Stream() {
  std::vector<Event> events;
  for (int i = 0; i < 200; ++i) {
    const std::string req = "r" + std::to_string(i / 3), item = "i" + std::to_string(i % 3);
    events.push_back(Imp(req, item, 100 * i));
    if (i % 4 == 0) events.push_back(Click(req, item, 100 * i + 700));
    if (i % 5 == 0) events.push_back(Watch(req, item, i, 100 * i + 2500));
    if (i % 7 == 0) events.push_back(Watermark(100 * i + 50));
  }
  return events;
}

std::vector<Example> RunStream(const JoinerOptions& o, const std::vector<Event>& events,
                               bool restore) {
  auto j = std::make_unique<Joiner>(o, kTasks);
  std::vector<Example> out;
  for (size_t i = 0; i < events.size(); ++i) {
    j->Add(events[i], &out);
    if (!restore || i % 10 != 0) continue;
    std::string bytes, again;
    j->Serialize(&bytes);
    auto k = std::make_unique<Joiner>(o, kTasks);
    EXPECT_TRUE(k->Deserialize(bytes).ok());
    k->Serialize(&again);
    EXPECT_EQ(bytes, again);
    j = std::move(k);
  }
  j->Flush(&out);
  return out;
}

TEST_P(JoinerRoundTrip, RestoredStateGivesIdenticalOutput) {
  const JoinerOptions o = Windows(1000, 3000, GetParam());
  const std::vector<Event> events = Stream();
  const std::vector<Example> a = RunStream(o, events, false), b = RunStream(o, events, true);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_GT(a.size(), 200u);
  for (size_t i = 0; i < a.size(); ++i) {
    std::string ea, eb;
    EncodeExample(a[i], &ea);
    EncodeExample(b[i], &eb);
    EXPECT_EQ(ea, eb) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, JoinerRoundTrip,
                         ::testing::Values(JoinMode::kWindow, JoinMode::kImmediate));

// Issue 16: immediate mode's warm-up. Impressions shown within
// immediate_warmup_ms of the first one are learned as in window mode (one
// example with the click label when the window closes, scored at its step,
// no duplicate); later ones at once, with the correction.
TEST(JoinerMaturityTest, ImmediateModeLearnsItsWarmUpAsWindowMode) {
  JoinerOptions o = Windows(1000, 1000, JoinMode::kImmediate);
  o.immediate_warmup_ms = 500;
  Joiner j(o, kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 100), &out);  // the warm-up ends at 600
  j.Add(Click("r", "a", 200), &out);
  j.Add(Imp("r", "b", 599), &out);
  EXPECT_TRUE(out.empty());  // nothing at once, no correction
  j.Add(Imp("r", "c", 600), &out);
  ASSERT_EQ(out.size(), 1u);  // c: the immediate negative
  EXPECT_EQ(out[0].item_id, "c");
  EXPECT_EQ(out[0].evaluation, Evaluation::kScoreOnly);
  j.Add(Click("r", "c", 700), &out);
  ASSERT_EQ(out.size(), 2u);  // c's positive duplicate
  EXPECT_EQ(out[1].labels[0], 1.0);
  j.Add(Watermark(1100), &out);  // a matures as in window mode
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].item_id, "a");
  EXPECT_EQ(out[2].evaluation, Evaluation::kAtStep);
  EXPECT_EQ(out[2].labels, (std::vector<double>{1.0, 0.0}));
  EXPECT_EQ(out[2].feedback_ts_ms, std::vector<int64_t>{200});
  j.Add(Watermark(1600), &out);  // b in window mode; c: its record and watch
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[3].item_id, "b");
  EXPECT_EQ(out[3].evaluation, Evaluation::kAtStep);
  EXPECT_EQ(out[3].labels[0], 0.0);
  EXPECT_EQ(out[4].evaluation, Evaluation::kFinalLabelsOnly);
  EXPECT_FALSE(HasLabel(out[5].labels[0]));
  EXPECT_EQ(j.stats().corrections, 1);
  // The warm-up's end is state: a restored joiner does not warm up again.
  std::string bytes;
  j.Serialize(&bytes);
  Joiner k(o, kTasks);
  ASSERT_TRUE(k.Deserialize(bytes).ok());
  out.clear();
  k.Add(Imp("r", "d", 5000), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].evaluation, Evaluation::kScoreOnly);
  Joiner fresh(o, kTasks);  // whereas a new one does
  out.clear();
  fresh.Add(Imp("r", "d", 5000), &out);
  EXPECT_TRUE(out.empty());
}

// A warm-up that ends inside the stream, through a state round trip at
// every tenth event.
TEST(JoinerMaturityTest, WarmUpSurvivesAStateRoundTrip) {
  JoinerOptions o = Windows(1000, 3000, JoinMode::kImmediate);
  o.immediate_warmup_ms = 5000;
  const std::vector<Event> events = Stream();
  const std::vector<Example> a = RunStream(o, events, false), b = RunStream(o, events, true);
  ASSERT_EQ(a.size(), b.size());
  int at_step = 0, score_only = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    std::string ea, eb;
    EncodeExample(a[i], &ea);
    EncodeExample(b[i], &eb);
    EXPECT_EQ(ea, eb) << i;
    at_step += a[i].evaluation == Evaluation::kAtStep && HasLabel(a[i].labels[0]);
    score_only += a[i].evaluation == Evaluation::kScoreOnly;
  }
  EXPECT_EQ(at_step, 50);      // impressions at 0..4900 ms: window mode
  EXPECT_EQ(score_only, 150);  // the rest: immediate
}

// A version-1 state (one deadline per impression, 12 stats, examples in
// format 1), written by hand as the previous build wrote it.
TEST(JoinerMaturityTest, RestoresAVersionOneState) {
  std::string v1;
  PutFixed32(&v1, 0x4e4a4b52);
  PutFixed32(&v1, 1);
  PutFixed64(&v1, 500);  // watermark
  PutFixed64(&v1, 1);    // next_seq
  for (int i = 0; i < 12; ++i) PutFixed64(&v1, i == 0 || i == 11 ? 1 : 0);
  PutFixed64(&v1, 1);     // one pending impression
  PutFixed64(&v1, 1400);  // deadline: ts 400 + window 1000
  PutFixed64(&v1, 0);     // seq
  PutFixed32(&v1, 1);     // clicked
  PutDouble(&v1, 2.5);    // watch seconds
  std::string example;
  Example e = Imp("r", "a", 400).example;
  EncodeExample(e, &example);
  // Format 1 is format 2 without its last five fields (an empty array, a
  // zero group, an empty array, the evaluation and a zero eval_id: 8 + 8 +
  // 8 + 4 + 8 bytes).
  v1 += example.substr(0, example.size() - 36);
  const std::vector<uint64_t> closed;
  PutArray(&v1, closed.data(), closed.size());

  Joiner j(Windows(1000, 1000), kTasks);
  ASSERT_TRUE(j.Deserialize(v1).ok());
  EXPECT_EQ(j.stats().pending, 1);
  std::vector<Example> out;
  j.Add(Watermark(1399), &out);
  EXPECT_TRUE(out.empty());
  j.Add(Watermark(1400), &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].item_id, "a");
  EXPECT_EQ(out[0].labels[0], 1.0);
  EXPECT_EQ(out[0].labels[1], 2.5);
}

TEST(JoinerMaturityTest, RefusesAnUnknownFormatNamingIt) {
  std::string bytes;
  Joiner(Windows(1000, 1000), kTasks).Serialize(&bytes);
  bytes[4] = 9;
  Joiner j(Windows(1000, 1000), kTasks);
  const Status s = j.Deserialize(bytes);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.ToString().find("format version 9"), std::string::npos) << s.ToString();
}

TEST(JoinerMaturityTest, ValidateNamesTheKey) {
  JoinerOptions o;
  o.task_window_ms["watch"] = -1;
  EXPECT_NE(o.Validate().ToString().find("tasks[watch].window_ms"), std::string::npos);
  o = JoinerOptions();
  o.idle_flush_ms = -5;
  EXPECT_NE(o.Validate().ToString().find("join.idle_flush_ms"), std::string::npos);
}

}  // namespace
}  // namespace ranker::learner

namespace ranker::learner {
namespace {

TEST(JoinerGroupTest, ARequestsImpressionsComeOutTogetherAsOneGroup) {
  JoinerOptions o = Windows(100, 100);
  o.group_requests = true;
  Joiner j(o, kTasks);
  std::vector<Example> out;
  j.Add(Imp("r1", "a", 0), &out);
  j.Add(Imp("r2", "x", 10), &out);
  j.Add(Imp("r1", "b", 20), &out);
  j.Add(Click("r1", "b", 90), &out);
  j.Add(Watermark(100), &out);  // r1's first deadline: all of r1
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].item_id, "a");
  EXPECT_EQ(out[1].item_id, "b");
  EXPECT_EQ(out[1].labels[0], 1.0);
  EXPECT_EQ(out[0].group, Joiner::GroupOf("r1"));
  EXPECT_EQ(out[1].group, out[0].group);
  EXPECT_NE(out[0].group, 0u);
  j.Add(Watermark(110), &out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].group, Joiner::GroupOf("r2"));
  j.Add(Watermark(1000), &out);  // r1:b's own entry is stale: nothing twice
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(j.stats().pending, 0);
}

TEST(JoinerGroupTest, GroupsSurviveARoundTripAndRefuseImmediateMode) {
  JoinerOptions o = Windows(100, 100);
  o.group_requests = true;
  Joiner j(o, kTasks);
  std::vector<Example> out;
  j.Add(Imp("r1", "a", 0), &out);
  j.Add(Imp("r1", "b", 5), &out);
  std::string bytes;
  j.Serialize(&bytes);
  Joiner k(o, kTasks);
  ASSERT_TRUE(k.Deserialize(bytes).ok());
  k.Add(Watermark(100), &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].group, out[1].group);
  o.mode = JoinMode::kImmediate;
  EXPECT_NE(o.Validate().ToString().find("join.mode"), std::string::npos);
}

}  // namespace
}  // namespace ranker::learner
