#include "sim/simulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace ranker::sim {
namespace {

using learner::EventType;
using Key = std::pair<std::string, std::string>;

// A smaller world than the default, so each test runs in well under a second.
SimOptions SmallWorld() {
  SimOptions o;
  o.users = 1000;
  o.items = 600;
  o.creators = 60;
  o.seed = 7;
  return o;
}

std::vector<SimEvent> Simulate(const SimOptions& o, int requests, bool flush = true) {
  Simulator sim(o);
  std::vector<SimEvent> events;
  for (int r = 0; r < requests; ++r) sim.NextRequest(&events);
  if (flush) sim.Flush(&events);
  return events;
}

Key KeyOf(const SimEvent& e) { return {e.event.example.request_id, e.event.example.item_id}; }

double Correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) mx += x[i] / n, my += y[i] / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

TEST(SimOptions, DefaultsValidateAndBadFieldsAreNamed) {
  EXPECT_TRUE(SimOptions().Validate().ok());
  SimOptions o;
  o.candidates = o.slate_size - 1;
  EXPECT_NE(o.Validate().message().find("candidates"), std::string::npos);
  o = SimOptions();
  o.conflict = 1.5;
  EXPECT_NE(o.Validate().message().find("conflict"), std::string::npos);
  o = SimOptions();
  o.devices[1].eta = 0;
  EXPECT_NE(o.Validate().message().find("devices.desktop.eta"), std::string::npos);
  o = SimOptions();
  o.late_fraction = -0.1;
  EXPECT_NE(o.Validate().message().find("late_fraction"), std::string::npos);
}

TEST(SimOptions, ExaminationFallsWithPositionOnEveryDevice) {
  const SimOptions o;
  for (int d = 0; d < static_cast<int>(o.devices.size()); ++d) {
    EXPECT_DOUBLE_EQ(o.Examination(1, d), o.devices[static_cast<size_t>(d)].factor);
    for (int p = 2; p <= o.slate_size; ++p) EXPECT_LT(o.Examination(p, d), o.Examination(p - 1, d));
  }
}

TEST(WriteNdjson, SameSeedSameBytesOtherSeedOtherBytes) {
  std::ostringstream a, b, c;
  ASSERT_TRUE(WriteNdjson(SmallWorld(), 3000, a).ok());
  ASSERT_TRUE(WriteNdjson(SmallWorld(), 3000, b).ok());
  SimOptions other = SmallWorld();
  other.seed = 8;
  ASSERT_TRUE(WriteNdjson(other, 3000, c).ok());
  EXPECT_EQ(a.str(), b.str());
  EXPECT_NE(a.str(), c.str());
  int lines = 0;
  for (char ch : a.str()) lines += ch == '\n';
  EXPECT_EQ(lines, 3000);
}

TEST(WriteNdjson, RejectsInvalidOptions) {
  SimOptions o = SmallWorld();
  o.epsilon = 2;
  std::ostringstream out;
  EXPECT_EQ(WriteNdjson(o, 10, out).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(WriteNdjson(SmallWorld(), -1, out).code(), Status::Code::kInvalidArgument);
}

TEST(Simulator, EventsAreOrderedByTimeWithUniqueIds) {
  const std::vector<SimEvent> events = Simulate(SmallWorld(), 2000);
  std::map<std::string, int> ids;
  for (size_t i = 0; i < events.size(); ++i) {
    if (i > 0) {
      ASSERT_LE(events[i - 1].event.example.ts_ms, events[i].event.example.ts_ms) << i;
    }
    ++ids[events[i].event.event_id];
  }
  EXPECT_EQ(ids.size(), events.size());
}

TEST(Simulator, EveryEngagementFollowsItsImpression) {
  const SimOptions o = SmallWorld();
  const std::vector<SimEvent> events = Simulate(o, 3000);
  std::map<Key, int64_t> impression_ts;
  std::map<Key, int> clicks;
  int n_clicks = 0, n_watches = 0;
  for (const SimEvent& e : events) {
    const int64_t ts = e.event.example.ts_ms;
    if (e.event.type == EventType::kImpression) {
      EXPECT_TRUE(impression_ts.emplace(KeyOf(e), ts).second) << "duplicate impression";
      continue;
    }
    const auto it = impression_ts.find(KeyOf(e));
    ASSERT_NE(it, impression_ts.end()) << "engagement before its impression";
    EXPECT_GT(ts, it->second);
    if (e.event.type == EventType::kClick) ++n_clicks, ++clicks[KeyOf(e)];
    if (e.event.type == EventType::kWatch) {
      ++n_watches;
      EXPECT_TRUE(std::isfinite(e.event.watch_seconds) && e.event.watch_seconds >= 0);
    }
  }
  EXPECT_GT(n_clicks, 100);
  EXPECT_EQ(n_watches, n_clicks);  // one watch per click, none without
  for (const auto& [key, n] : clicks) EXPECT_EQ(n, 1);
}

TEST(Simulator, ImpressionsCarryConsistentTruth) {
  const SimOptions o = SmallWorld();
  Simulator sim(o);
  std::vector<SimEvent> events;
  sim.NextRequest(&events);
  ASSERT_EQ(events.size(), static_cast<size_t>(o.slate_size));
  for (const SimEvent& e : events) {
    ASSERT_TRUE(e.truth.has_value());
    const learner::Example& ex = e.event.example;
    int device = 0;
    while (o.devices[static_cast<size_t>(device)].name != ex.device) ++device;
    EXPECT_DOUBLE_EQ(e.truth->examination, o.Examination(ex.position, device));
    EXPECT_DOUBLE_EQ(e.truth->click_probability, e.truth->examination * e.truth->attraction);
    EXPECT_EQ(ex.categorical.size(), 8u);  // user_id, 3 user, item_id, 2 item, device
    EXPECT_EQ(ex.dense.size(), 8u);
  }
}

TEST(Simulator, OverallCtrMatchesTarget) {
  SimOptions o = SmallWorld();
  o.target_ctr = 0.04;
  const std::vector<SimEvent> events = Simulate(o, 8000);
  double impressions = 0, clicks = 0, truth_sum = 0;
  for (const SimEvent& e : events) {
    if (e.event.type == EventType::kImpression)
      impressions += 1, truth_sum += e.truth->click_probability;
    if (e.event.type == EventType::kClick) clicks += 1;
  }
  EXPECT_NEAR(truth_sum / impressions, o.target_ctr, 0.05 * o.target_ctr);
  const double sd = std::sqrt(o.target_ctr / impressions);
  EXPECT_NEAR(clicks / impressions, truth_sum / impressions, 4 * sd);
}

TEST(Simulator, CtrByPositionFollowsTheTruth) {
  const SimOptions o = SmallWorld();
  const std::vector<SimEvent> events = Simulate(o, 20000);
  const size_t k = static_cast<size_t>(o.slate_size);
  std::vector<double> shown(k + 1), clicked(k + 1), truth(k + 1);
  std::map<Key, int> position;
  for (const SimEvent& e : events) {
    const learner::Example& ex = e.event.example;
    if (e.event.type == EventType::kImpression) {
      position[KeyOf(e)] = ex.position;
      shown[static_cast<size_t>(ex.position)] += 1;
      truth[static_cast<size_t>(ex.position)] += e.truth->click_probability;
    } else if (e.event.type == EventType::kClick) {
      clicked[static_cast<size_t>(position.at(KeyOf(e)))] += 1;
    }
  }
  for (size_t p = 1; p <= k; ++p) {
    const double expected = truth[p] / shown[p];
    const double sd = std::sqrt(expected * (1 - expected) / shown[p]);
    EXPECT_NEAR(clicked[p] / shown[p], expected, 4 * sd) << "position " << p;
    if (p > 1) {
      EXPECT_LT(expected, truth[p - 1] / shown[p - 1]) << "position " << p;
    }
  }
  // Far-apart positions are separated well beyond sampling error.
  for (size_t p : {3u, 6u, 10u}) EXPECT_LT(clicked[p] / shown[p], clicked[p / 2] / shown[p / 2]);
}

// Fraction of clicks and watches arriving after the join window.
double LateFraction(const SimOptions& o, int requests, int* engagements) {
  const std::vector<SimEvent> events = Simulate(o, requests);
  std::map<Key, int64_t> impression_ts;
  int late = 0;
  *engagements = 0;
  for (const SimEvent& e : events) {
    if (e.event.type == EventType::kImpression) {
      impression_ts[KeyOf(e)] = e.event.example.ts_ms;
      continue;
    }
    ++*engagements;
    late += e.event.example.ts_ms - impression_ts.at(KeyOf(e)) > o.join_window_ms;
  }
  return static_cast<double>(late) / *engagements;
}

TEST(Simulator, LateFractionIsHonoured) {
  SimOptions o = SmallWorld();
  o.late_fraction = 0.1;
  int n = 0;
  const double late = LateFraction(o, 10000, &n);
  EXPECT_NEAR(late, 0.1, 4 * std::sqrt(0.1 * 0.9 / n));
  o.late_fraction = 0;
  EXPECT_EQ(LateFraction(o, 3000, &n), 0.0);
  EXPECT_GT(n, 0);
}

TEST(Simulator, ALongTailOfClickDelaysReachesBeyondTheWindow) {
  SimOptions o = SmallWorld();
  o.late_fraction = 0;
  o.click_delay_tail_sigma = 1.5;  // median 5 s: ~5% of clicks beyond 60 s
  int n = 0;
  const double beyond = LateFraction(o, 10000, &n);
  EXPECT_GT(beyond, 0.02);
  EXPECT_LT(beyond, 0.15);
  o.click_delay_tail_sigma = 0;
  EXPECT_EQ(LateFraction(o, 3000, &n), 0.0);
  o.click_delay_tail_sigma = -1;
  EXPECT_NE(o.Validate().message().find("click_delay_tail_sigma"), std::string::npos);
}

// Correlation across impressions of the attraction logit and log expected watch.
double ClickWatchCorrelation(double conflict) {
  SimOptions o = SmallWorld();
  o.conflict = conflict;
  o.item_bias_std = 0;  // attraction is then a function of <u, i> only
  std::vector<double> attraction, watch;
  for (const SimEvent& e : Simulate(o, 3000, false)) {
    if (!e.truth) continue;
    attraction.push_back(std::log(e.truth->attraction / (1 - e.truth->attraction)));
    watch.push_back(std::log(e.truth->expected_watch_seconds));
  }
  return Correlation(attraction, watch);
}

TEST(Simulator, ConflictDecouplesWatchFromClick) {
  const double aligned = ClickWatchCorrelation(0);
  const double middle = ClickWatchCorrelation(0.5);
  const double conflicting = ClickWatchCorrelation(1);
  EXPECT_GT(aligned, 0.99);  // both are affine in <u, i>
  EXPECT_LT(middle, aligned - 0.1);
  EXPECT_GT(middle, conflicting + 0.1);
  EXPECT_LT(std::abs(conflicting), 0.15);
}

TEST(Simulator, ClosedLoopServesTheGivenSlate) {
  const SimOptions o = SmallWorld();
  Simulator sim(o);
  const SimRequest req = sim.NextCandidates();
  ASSERT_EQ(req.candidates.size(), static_cast<size_t>(o.candidates));
  const learner::Example cand = sim.CandidateExample(req, req.candidates[5]);
  EXPECT_EQ(cand.position, 0);
  EXPECT_EQ(cand.item_id, sim.world().ItemId(req.candidates[5]));
  const std::vector<int> slate = {req.candidates[5], req.candidates[0], req.candidates[9]};
  std::vector<SimEvent> out;
  sim.Serve(req, slate, &out);
  ASSERT_EQ(out.size(), 3u);
  for (size_t p = 0; p < 3; ++p) {
    EXPECT_EQ(out[p].event.example.item_id, sim.world().ItemId(slate[p]));
    EXPECT_EQ(out[p].event.example.position, static_cast<int>(p) + 1);
  }
}

}  // namespace
}  // namespace ranker::sim
