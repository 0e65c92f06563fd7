#include "join/joiner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <deque>
#include <set>
#include <string>
#include <vector>

#include "base/random.h"
#include "tests/join/joiner_test_util.h"

namespace ranker::learner {
namespace {

using testing::Click;
using testing::Imp;
using testing::Watch;

const std::vector<std::string> kTasks = {"click", "watch"};

std::string Name(char prefix, uint64_t n) {
  std::string s(1, prefix);
  s.append(std::to_string(n));
  return s;
}

JoinerOptions Opts(int64_t window_ms = 1000, size_t max_pending = 100, size_t late_memory = 100) {
  JoinerOptions o;
  o.window_ms = window_ms;
  o.max_pending = max_pending;
  o.late_memory = late_memory;
  return o;
}

std::vector<std::string> Items(const std::vector<Example>& out) {
  std::vector<std::string> v;
  for (const Example& e : out) v.push_back(e.item_id);
  return v;
}

TEST(JoinerOptionsTest, Validate) {
  EXPECT_TRUE(JoinerOptions().Validate().ok());
  EXPECT_FALSE(Opts(-1).Validate().ok());
  EXPECT_FALSE(Opts(1000, 0).Validate().ok());
  JoinerOptions same = Opts();
  same.watch_task = same.click_task;
  EXPECT_FALSE(same.Validate().ok());
}

TEST(JoinerTest, JoinsEngagementsInsideTheWindow) {
  Joiner j(Opts(1000), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r1", "a", 100, 3), &out);
  j.Add(Click("r1", "a", 200), &out);
  j.Add(Watch("r1", "a", 2.5, 300), &out);
  j.Add(Watch("r1", "a", 4.0, 1099), &out);  // summed with the first
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(j.stats().pending, 1);
  j.Add(Click("other", "x", 1100), &out);  // watermark reaches 100 + 1000
  ASSERT_EQ(out.size(), 1u);
  const Example& e = out[0];
  EXPECT_EQ(e.request_id, "r1");
  EXPECT_EQ(e.item_id, "a");
  EXPECT_EQ(e.position, 3);
  EXPECT_EQ(e.ts_ms, 100);
  ASSERT_EQ(e.categorical.size(), 2u);
  EXPECT_EQ(e.categorical[1].value, "de");
  ASSERT_EQ(e.dense.size(), 1u);
  ASSERT_EQ(e.labels.size(), 2u);
  EXPECT_EQ(e.labels[0], 1.0);
  EXPECT_EQ(e.labels[1], 6.5);
  const JoinerStats& s = j.stats();
  EXPECT_EQ(s.impressions, 1);
  EXPECT_EQ(s.clicks, 2);
  EXPECT_EQ(s.watches, 2);
  EXPECT_EQ(s.joined_clicks, 1);
  EXPECT_EQ(s.joined_watches, 2);
  EXPECT_EQ(s.orphan_engagements, 1);
  EXPECT_EQ(s.examples_emitted, 1);
  EXPECT_EQ(s.pending, 0);
}

TEST(JoinerTest, UnengagedImpressionGetsZeroLabelsAndOtherTasksNoLabel) {
  Joiner j(Opts(), {"watch", "ctr2", "click"});
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0), &out);
  j.Flush(&out);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].labels.size(), 3u);
  EXPECT_EQ(out[0].labels[0], 0.0);
  EXPECT_FALSE(HasLabel(out[0].labels[1]));
  EXPECT_EQ(out[0].labels[2], 0.0);
}

TEST(JoinerTest, EngagementAfterCloseIsLateAndAtDeadlineToo) {
  Joiner j(Opts(1000), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0), &out);
  j.Add(Click("r", "a", 1000), &out);  // its own ts closes the window first
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].labels[0], 0.0);
  j.Add(Watch("r", "a", 3, 5000), &out);
  EXPECT_EQ(j.stats().late_engagements, 2);
  EXPECT_EQ(j.stats().orphan_engagements, 0);
  EXPECT_EQ(j.stats().joined_clicks, 0);
}

TEST(JoinerTest, UnknownKeyIsOrphan) {
  Joiner j(Opts(), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0), &out);
  j.Add(Click("r", "b", 10), &out);
  j.Add(Watch("q", "a", 1, 10), &out);
  EXPECT_EQ(j.stats().orphan_engagements, 2);
  EXPECT_EQ(j.stats().late_engagements, 0);
}

TEST(JoinerTest, KeysAreExactPairs) {
  Joiner j(Opts(), kTasks);
  std::vector<Example> out;
  j.Add(Imp("ab", "c", 0), &out);
  j.Add(Imp("a", "bc", 0), &out);  // not a duplicate of ("ab", "c")
  j.Add(Click("a", "bc", 1), &out);
  j.Flush(&out);
  EXPECT_EQ(j.stats().duplicate_impressions, 0);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].labels[0], 0.0);
  EXPECT_EQ(out[1].labels[0], 1.0);
}

TEST(JoinerTest, LateMemoryIsBounded) {
  Joiner j(Opts(10, 100, /*late_memory=*/1), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0), &out);
  j.Add(Imp("r", "b", 5), &out);
  j.Add(Imp("r", "c", 100), &out);  // closes a then b; only b is remembered
  j.Add(Click("r", "a", 100), &out);
  j.Add(Click("r", "b", 100), &out);
  EXPECT_EQ(j.stats().orphan_engagements, 1);
  EXPECT_EQ(j.stats().late_engagements, 1);

  Joiner forgetful(Opts(10, 100, 0), kTasks);
  forgetful.Add(Imp("r", "a", 0), &out);
  forgetful.Add(Click("r", "a", 100), &out);
  EXPECT_EQ(forgetful.stats().orphan_engagements, 1);
}

TEST(JoinerTest, LateMemoryKeepsExactlyTheNewestKeys) {
  const int kMemory = 100;
  Joiner j(Opts(10, 10000, kMemory), kTasks);
  std::vector<Example> out;
  // Closing order: k0, k1..k49, k0 again, k50..k139 (141 closings). The newest
  // 100 are k41..k49, k0 (its second closing) and k50..k139: forgetting k0's
  // first closing must not forget k0.
  std::vector<std::string> order = {"k0"};
  for (int i = 1; i < 50; ++i) order.push_back(Name('k', i));
  order.push_back("k0");
  for (int i = 50; i < 140; ++i) order.push_back(Name('k', i));
  int64_t ts = 0;
  for (const std::string& item : order) j.Add(Imp("r", item, ts += 100), &out);
  j.Add(Imp("r", "end", ts += 100), &out);
  ASSERT_EQ(out.size(), order.size());
  for (int i = 0; i < 140; ++i) j.Add(Click("r", Name('k', i), ts), &out);
  EXPECT_EQ(j.stats().late_engagements, kMemory);
  EXPECT_EQ(j.stats().orphan_engagements, 140 - kMemory);

  std::string bytes;
  j.Serialize(&bytes);
  Joiner restored(Opts(10, 10000, kMemory), kTasks);
  ASSERT_TRUE(restored.Deserialize(bytes).ok());
  restored.Add(Click("r", "k41", ts), &out);
  restored.Add(Click("r", "k0", ts), &out);
  restored.Add(Click("r", "k40", ts), &out);
  EXPECT_EQ(restored.stats().late_engagements, kMemory + 2);
  EXPECT_EQ(restored.stats().orphan_engagements, 140 - kMemory + 1);
}

// Late vs orphan against a direct model: an engagement is late iff its key
// is not pending and is among the last late_memory closings. Heavy key reuse
// and a small memory stress the hash table's collision handling.
TEST(JoinerTest, LateMemoryMatchesReferenceModel) {
  const size_t kMemory = 64;
  Joiner j(Opts(10, 1000, kMemory), kTasks);
  Rng rng(4);
  std::set<std::string> pending;
  std::deque<std::string> recent;  // the last kMemory closings
  int64_t late = 0, orphan = 0, ts = 0;
  std::vector<Example> out;
  for (int i = 0; i < 20000; ++i) {
    const std::string item = Name('k', rng.Below(300));
    const uint64_t kind = rng.Below(3);
    if (kind == 0) {  // time advances only here, so the model knows when keys close
      Event tick = Imp("tick", "t", ts += static_cast<int64_t>(rng.Below(8)));
      tick.type = EventType::kExample;
      out.clear();
      j.Add(tick, &out);
      for (const Example& e : out) {
        if (e.request_id == "tick") continue;
        pending.erase(e.item_id);
        recent.push_back(e.item_id);
        if (recent.size() > kMemory) recent.pop_front();
      }
    } else if (kind == 1) {
      pending.insert(item);
      j.Add(Imp("r", item, -1), &out);
    } else {
      if (!pending.contains(item)) {
        ++(std::find(recent.begin(), recent.end(), item) != recent.end() ? late : orphan);
      }
      j.Add(Click("r", item, -1), &out);
    }
  }
  EXPECT_GT(late, 1000);
  EXPECT_GT(orphan, 1000);
  EXPECT_EQ(j.stats().late_engagements, late);
  EXPECT_EQ(j.stats().orphan_engagements, orphan);
}

TEST(JoinerTest, DuplicateImpressionIsCountedAndIgnored) {
  Joiner j(Opts(), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0, 1), &out);
  j.Add(Imp("r", "a", 5, 7), &out);
  j.Flush(&out);
  EXPECT_EQ(j.stats().impressions, 2);
  EXPECT_EQ(j.stats().duplicate_impressions, 1);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].position, 1);  // the first one wins
}

TEST(JoinerTest, EvictsEarliestDeadlineWhenFull) {
  Joiner j(Opts(1000, /*max_pending=*/2), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "A", 100), &out);
  j.Add(Imp("r", "B", 50), &out);  // earlier deadline than A
  j.Add(Click("r", "B", 120), &out);
  j.Add(Imp("r", "C", 200), &out);
  EXPECT_EQ(Items(out), std::vector<std::string>({"B"}));
  EXPECT_EQ(out[0].labels[0], 1.0);  // engagements so far are kept
  EXPECT_EQ(j.stats().evicted, 1);
  EXPECT_EQ(j.stats().pending, 2);
  j.Add(Click("r", "B", 130), &out);
  EXPECT_EQ(j.stats().late_engagements, 1);
  j.Flush(&out);
  EXPECT_EQ(Items(out), std::vector<std::string>({"B", "A", "C"}));
  EXPECT_EQ(j.stats().examples_emitted, 3);
}

TEST(JoinerTest, ExamplesPassStraightThrough) {
  Joiner j(Opts(1000), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 0), &out);
  Event ex = Imp("q", "z", 2000);
  ex.type = EventType::kExample;
  ex.example.labels = {1.0, 42.0};
  j.Add(ex, &out);  // also advances the watermark: "a" closes first
  ASSERT_EQ(Items(out), std::vector<std::string>({"a", "z"}));
  EXPECT_EQ(out[1].labels, std::vector<double>({1.0, 42.0}));
  EXPECT_EQ(j.stats().passthrough, 1);
  EXPECT_EQ(j.stats().examples_emitted, 1);
  EXPECT_EQ(j.stats().impressions, 1);
}

TEST(JoinerTest, EventsWithoutTimestampTakeTheWatermark) {
  Joiner j(Opts(1000), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "a", 5000), &out);
  j.Add(Imp("r", "b", -1), &out);  // at 5000: same deadline, arrived later
  j.Add(Click("r", "b", -1), &out);
  j.Add(Imp("r", "c", 5500), &out);
  j.Add(Click("r", "x", 5999), &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(j.watermark_ms(), 5999);
  j.Add(Click("r", "x", 6000), &out);
  ASSERT_EQ(Items(out), std::vector<std::string>({"a", "b"}));
  EXPECT_EQ(out[1].ts_ms, -1);
  EXPECT_EQ(out[1].labels[0], 1.0);
  EXPECT_EQ(j.stats().joined_clicks, 1);

  // Before any timestamp the watermark is 0.
  Joiner fresh(Opts(1000), kTasks);
  fresh.Add(Imp("r", "a", -1), &out);
  fresh.Add(Click("r", "q", 999), &out);
  EXPECT_EQ(fresh.stats().pending, 1);
  fresh.Add(Click("r", "q", 1000), &out);
  EXPECT_EQ(fresh.stats().pending, 0);
}

TEST(JoinerTest, OutputIsOrderedByDeadlineThenArrival) {
  Joiner j(Opts(1000), kTasks);
  std::vector<Example> out;
  j.Add(Imp("r", "t300", 300), &out);
  j.Add(Imp("r", "t100", 100), &out);
  j.Add(Imp("r", "t200a", 200), &out);
  j.Add(Imp("r", "t200b", 200), &out);
  j.Add(Imp("r", "t150", 150), &out);
  j.Add(Click("r", "x", 1200), &out);  // closes deadlines <= 1200
  EXPECT_EQ(Items(out), std::vector<std::string>({"t100", "t150", "t200a", "t200b"}));
  j.Add(Imp("r", "old", 0), &out);  // already past its window: closes at once
  j.Flush(&out);
  EXPECT_EQ(Items(out),
            std::vector<std::string>({"t100", "t150", "t200a", "t200b", "old", "t300"}));
}

// A random stream over a small key space: out-of-order times, events without
// ts, duplicates, late and orphan engagements, passthrough examples, and (with
// a small max_pending) evictions.
std::vector<Event> RandomStream(uint64_t seed, int n) {
  Rng rng(seed);
  std::vector<Event> events;
  int64_t t = 1000;
  for (int i = 0; i < n; ++i) {
    t += static_cast<int64_t>(rng.Below(40));
    const int64_t ts = rng.Bernoulli(0.1) ? -1 : t - static_cast<int64_t>(rng.Below(300));
    const std::string req = Name('r', rng.Below(60));
    const std::string item = Name('i', rng.Below(8));
    const uint64_t kind = rng.Below(10);
    if (kind < 5) {
      events.push_back(Imp(req, item, ts, static_cast<int>(rng.Below(10)) + 1));
    } else if (kind < 7) {
      events.push_back(Click(req, item, ts));
    } else if (kind < 9) {
      events.push_back(Watch(req, item, rng.Uniform() * 30, ts));
    } else {
      Event e = Imp(req, item, ts);
      e.type = EventType::kExample;
      e.example.labels = {1.0, rng.Uniform()};
      events.push_back(e);
    }
  }
  return events;
}

// About 50 impressions per window: more than max_pending, so evictions happen.
JoinerOptions StreamOpts() { return Opts(2000, 40, 50); }

void ExpectSameExamples(const std::vector<Example>& a, const std::vector<Example>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].request_id, b[i].request_id) << i;
    EXPECT_EQ(a[i].item_id, b[i].item_id) << i;
    EXPECT_EQ(a[i].position, b[i].position) << i;
    EXPECT_EQ(a[i].ts_ms, b[i].ts_ms) << i;
    EXPECT_EQ(a[i].categorical.size(), b[i].categorical.size()) << i;
    EXPECT_EQ(a[i].dense.size(), b[i].dense.size()) << i;
    ASSERT_EQ(a[i].labels.size(), b[i].labels.size()) << i;
    for (size_t k = 0; k < a[i].labels.size(); ++k) {
      EXPECT_EQ(std::bit_cast<uint64_t>(a[i].labels[k]), std::bit_cast<uint64_t>(b[i].labels[k]));
    }
  }
}

void ExpectSameStats(const JoinerStats& a, const JoinerStats& b) {
  EXPECT_EQ(a.impressions, b.impressions);
  EXPECT_EQ(a.clicks, b.clicks);
  EXPECT_EQ(a.watches, b.watches);
  EXPECT_EQ(a.joined_clicks, b.joined_clicks);
  EXPECT_EQ(a.joined_watches, b.joined_watches);
  EXPECT_EQ(a.examples_emitted, b.examples_emitted);
  EXPECT_EQ(a.passthrough, b.passthrough);
  EXPECT_EQ(a.duplicate_impressions, b.duplicate_impressions);
  EXPECT_EQ(a.late_engagements, b.late_engagements);
  EXPECT_EQ(a.orphan_engagements, b.orphan_engagements);
  EXPECT_EQ(a.evicted, b.evicted);
  EXPECT_EQ(a.pending, b.pending);
}

std::vector<Example> RunAll(const std::vector<Event>& events, JoinerStats* stats) {
  Joiner j(StreamOpts(), kTasks);
  std::vector<Example> out;
  for (const Event& e : events) j.Add(e, &out);
  j.Flush(&out);
  *stats = j.stats();
  return out;
}

TEST(JoinerTest, RandomStreamIsDeterministicAndExercisesEveryPath) {
  const std::vector<Event> events = RandomStream(5, 4000);
  JoinerStats s1, s2;
  const std::vector<Example> a = RunAll(events, &s1);
  const std::vector<Example> b = RunAll(events, &s2);
  ExpectSameExamples(a, b);
  ExpectSameStats(s1, s2);
  EXPECT_GT(s1.evicted, 0);
  EXPECT_GT(s1.duplicate_impressions, 0);
  EXPECT_GT(s1.late_engagements, 0);
  EXPECT_GT(s1.orphan_engagements, 0);
  EXPECT_GT(s1.joined_clicks, 0);
  EXPECT_GT(s1.joined_watches, 0);
  // Every non-duplicate impression becomes exactly one example.
  EXPECT_EQ(s1.examples_emitted, s1.impressions - s1.duplicate_impressions);
  EXPECT_EQ(static_cast<int64_t>(a.size()), s1.examples_emitted + s1.passthrough);
  EXPECT_EQ(s1.clicks + s1.watches,
            s1.joined_clicks + s1.joined_watches + s1.late_engagements + s1.orphan_engagements);
}

TEST(JoinerTest, SerializationRoundTripMidStreamGivesIdenticalOutput) {
  const std::vector<Event> events = RandomStream(9, 4000);
  JoinerStats uninterrupted_stats;
  const std::vector<Example> uninterrupted = RunAll(events, &uninterrupted_stats);

  std::vector<Example> out;
  Joiner first(StreamOpts(), kTasks);
  for (size_t i = 0; i < events.size() / 2; ++i) first.Add(events[i], &out);
  ASSERT_GT(first.stats().pending, 0);
  std::string bytes;
  first.Serialize(&bytes);

  Joiner second(StreamOpts(), kTasks);
  ASSERT_TRUE(second.Deserialize(bytes).ok());
  std::string again;
  second.Serialize(&again);
  EXPECT_EQ(bytes, again);
  for (size_t i = events.size() / 2; i < events.size(); ++i) second.Add(events[i], &out);
  second.Flush(&out);
  ExpectSameExamples(uninterrupted, out);
  ExpectSameStats(uninterrupted_stats, second.stats());
}

TEST(JoinerTest, DeserializeRejectsCorruptStateAndLeavesObjectUnchanged) {
  const std::vector<Event> events = RandomStream(2, 300);
  Joiner source(StreamOpts(), kTasks);
  std::vector<Example> out;
  for (const Event& e : events) source.Add(e, &out);
  std::string bytes;
  source.Serialize(&bytes);

  Joiner target(StreamOpts(), kTasks);
  target.Add(Imp("keep", "me", 7), &out);
  std::string before;
  target.Serialize(&before);
  for (size_t cut = 0; cut < bytes.size(); cut += 7) {
    EXPECT_FALSE(target.Deserialize(std::string_view(bytes).substr(0, cut)).ok()) << cut;
  }
  std::string bad_magic = bytes;
  bad_magic[1] ^= 0x40;
  EXPECT_EQ(target.Deserialize(bad_magic).code(), Status::Code::kCorruption);
  EXPECT_EQ(target.Deserialize(bytes + "!").code(), Status::Code::kCorruption);
  std::string after;
  target.Serialize(&after);
  EXPECT_EQ(before, after);
  EXPECT_EQ(target.stats().pending, 1);
}

}  // namespace
}  // namespace ranker::learner
