#include "sim/truth_eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "base/random.h"
#include "sim/simulator.h"

namespace ranker::sim {
namespace {

// Fraction of (positive, negative) pairs ordered correctly, ties half.
double BruteAuc(const std::vector<double>& s, const std::vector<int>& y) {
  double good = 0, pairs = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    for (size_t j = 0; j < s.size(); ++j) {
      if (y[i] != 1 || y[j] != 0) continue;
      pairs += 1;
      good += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
    }
  }
  return good / pairs;
}

TEST(Auc, HandExample) {
  // Positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs right.
  EXPECT_DOUBLE_EQ(Auc(std::vector<double>{0.1, 0.4, 0.35, 0.8}, std::vector<int>{0, 0, 1, 1}),
                   0.75);
  EXPECT_TRUE(std::isnan(Auc(std::vector<double>{0.1, 0.2}, std::vector<int>{1, 1})));
}

TEST(Auc, MatchesBruteForceWithTies) {
  Rng rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> s;
    std::vector<int> y;
    for (int i = 0; i < 60; ++i) {
      s.push_back(static_cast<double>(rng.Below(7)));  // many ties
      y.push_back(rng.Bernoulli(0.3 + 0.05 * s.back()) ? 1 : 0);
    }
    y[0] = 1, y[1] = 0;
    EXPECT_NEAR(Auc(s, y), BruteAuc(s, y), 1e-12);
  }
}

constexpr const char* kTinyStream =
    R"({"type":"impression","request_id":"r1","item_id":"a","position":1,"ts_ms":1000,)"
    R"("context":{"device":"mobile"},"truth":{"examination":1,"attraction":0.3,)"
    R"("click_probability":0.3,"expected_watch_seconds":10}}
{"type":"impression","request_id":"r1","item_id":"b","position":2,"ts_ms":1000,)"
    R"("context":{"device":"mobile"},"truth":{"examination":0.5,"attraction":0.2,)"
    R"("click_probability":0.1,"expected_watch_seconds":5}}
{"type":"click","request_id":"r1","item_id":"b","ts_ms":3000}
{"type":"watch","request_id":"r1","item_id":"b","ts_ms":4000,"watch_seconds":7.5}
{"type":"impression","request_id":"r2","item_id":"a","position":1,"ts_ms":2000,)"
    R"("context":{"device":"desktop"},"truth":{"examination":0.8,"attraction":0.4,)"
    R"("click_probability":0.32,"expected_watch_seconds":20}}
{"type":"click","request_id":"r1","item_id":"a","ts_ms":70000}
{"type":"click","request_id":"r9","item_id":"a","ts_ms":70000}
{"type":"impression","request_id":"r3","item_id":"c","position":2,"ts_ms":80000,)"
    R"("context":{"device":"desktop"},"truth":{"examination":0.7,"attraction":0.5,)"
    R"("click_probability":0.35,"expected_watch_seconds":20}}
{"type":"click","request_id":"r3","item_id":"c","ts_ms":81000}
)";

TEST(ReadTruthRecords, JoinsInTimeEngagementsOnly) {
  std::istringstream in(kTinyStream);
  StatusOr<std::vector<TruthRecord>> r = ReadTruthRecords(in, 60'000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_FALSE((*r)[0].clicked);  // its click came after 69 s
  EXPECT_TRUE((*r)[0].late_click);
  EXPECT_TRUE((*r)[1].clicked);
  EXPECT_DOUBLE_EQ((*r)[1].watch_seconds, 7.5);
  EXPECT_FALSE((*r)[2].clicked);  // the r9 click is an orphan
  EXPECT_TRUE((*r)[3].clicked);
  EXPECT_EQ((*r)[2].device, "desktop");
  // Scores 0.3-, 0.1+, 0.32-, 0.35+: 2 of 4 pairs right.
  EXPECT_DOUBLE_EQ(BayesClickAuc(*r), 0.5);
  // Last 2: 0.32- and 0.35+.
  EXPECT_DOUBLE_EQ(BayesClickAuc(*r, 2), 1.0);
  std::istringstream again(kTinyStream);
  StatusOr<std::vector<TruthRecord>> any_delay = ReadTruthRecords(again, -1);
  ASSERT_TRUE(any_delay.ok());
  EXPECT_TRUE((*any_delay)[0].clicked);
  // Scores 0.3+, 0.1+, 0.32-, 0.35+: 1 of 3 pairs right.
  EXPECT_DOUBLE_EQ(BayesClickAuc(*any_delay), 1.0 / 3);
}

TEST(ReadTruthRecords, NamesTheBadLine) {
  std::istringstream bad(R"({"type":"click","request_id":"r","item_id":"a"}
not json
)");
  StatusOr<std::vector<TruthRecord>> r = ReadTruthRecords(bad);
  ASSERT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos);
  std::istringstream no_truth(
      R"({"type":"impression","request_id":"r","item_id":"a","position":1})");
  EXPECT_EQ(ReadTruthRecords(no_truth).status().code(), Status::Code::kCorruption);
}

TEST(BayesClickAuc, MatchesBruteForceOnASimulatedStream) {
  SimOptions o;
  o.users = 500, o.items = 300, o.creators = 30;
  std::stringstream ndjson;
  ASSERT_TRUE(WriteNdjson(o, 4000, ndjson).ok());
  StatusOr<std::vector<TruthRecord>> r = ReadTruthRecords(ndjson, o.join_window_ms);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<double> s;
  std::vector<int> y;
  for (const TruthRecord& t : *r) s.push_back(t.truth.click_probability), y.push_back(t.clicked);
  const double auc = BayesClickAuc(*r);
  EXPECT_NEAR(auc, BruteAuc(s, y), 1e-12);
  EXPECT_GT(auc, 0.6);  // the truth is informative
}

TEST(PositionCurve, TrueCurveIsMinusEtaLogPosition) {
  const SimOptions o;
  const PositionCurve c = TruePositionCurve(o);
  ASSERT_EQ(c.devices.size(), 3u);
  ASSERT_EQ(c.mixed.size(), 10u);
  // Shares 0.6/0.3/0.1 and etas 0.9/0.6/0.75 of the default devices.
  for (int p = 1; p <= 10; ++p) {
    const double lp = std::log(p);
    EXPECT_NEAR(c.per_device[0][p - 1], -0.9 * lp, 1e-12);
    EXPECT_NEAR(c.per_device[1][p - 1], -0.6 * lp, 1e-12);
    EXPECT_NEAR(c.mixed[p - 1], -(0.6 * 0.9 + 0.3 * 0.6 + 0.1 * 0.75) * lp, 1e-12);
  }
}

TEST(PositionCurve, ObservedMatchesTrue) {
  SimOptions o;
  o.users = 500, o.items = 300, o.creators = 30;
  std::stringstream ndjson;
  ASSERT_TRUE(WriteNdjson(o, 30000, ndjson).ok());
  StatusOr<std::vector<TruthRecord>> r = ReadTruthRecords(ndjson);
  ASSERT_TRUE(r.ok());
  const PositionCurve truth = TruePositionCurve(o);
  const PositionCurve seen = ObservedPositionCurve(*r);
  ASSERT_EQ(seen.mixed.size(), truth.mixed.size());
  for (size_t d = 0; d < seen.devices.size(); ++d) {
    size_t t = 0;
    while (truth.devices[t] != seen.devices[d]) ++t;
    for (size_t p = 0; p < seen.mixed.size(); ++p) {
      EXPECT_NEAR(seen.per_device[d][p], truth.per_device[t][p], 1e-9);
    }
  }
  // The mix differs only by the sampled device frequencies.
  for (size_t p = 0; p < seen.mixed.size(); ++p) EXPECT_NEAR(seen.mixed[p], truth.mixed[p], 0.03);
}

}  // namespace
}  // namespace ranker::sim
