#include "learner/metrics.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "base/random.h"

namespace ranker::learner {
namespace {

std::vector<TaskSpec> Tasks() {
  return {{"click", TaskKind::kBinary, LabelTransform::kLog1p, 1.0, 1.0},
          {"watch", TaskKind::kRegression, LabelTransform::kLog1p, 1.0, 1.0}};
}

struct Sample {
  double p;
  int y;
};

// Exact Mann-Whitney AUC over all positive/negative pairs, ties 1/2.
double BruteAuc(const std::vector<Sample>& s) {
  double wins = 0, pairs = 0;
  for (const Sample& a : s) {
    if (a.y != 1) continue;
    for (const Sample& b : s) {
      if (b.y != 0) continue;
      pairs += 1;
      wins += a.p > b.p ? 1.0 : (a.p == b.p ? 0.5 : 0.0);
    }
  }
  return wins / pairs;
}

// The documented bound on the binning error: same-bin pairs / (2 P N).
double BinningBound(const std::vector<Sample>& s) {
  const int bins = ProgressiveMetrics::kAucBins;
  std::vector<double> pos(bins), neg(bins);
  double np = 0, nn = 0;
  for (const Sample& x : s) {
    int b = std::min(bins - 1, static_cast<int>(x.p * bins));
    (x.y ? pos : neg)[b] += 1;
    (x.y ? np : nn) += 1;
  }
  double same = 0;
  for (int b = 0; b < bins; ++b) same += pos[b] * neg[b];
  return same / (2 * np * nn);
}

std::vector<Sample> RandomSamples(uint64_t seed, int n) {
  Rng rng(seed);
  std::vector<Sample> s;
  for (int i = 0; i < n; ++i) {
    const double p = rng.Uniform();
    s.push_back({p, rng.Bernoulli(0.2 + 0.6 * p) ? 1 : 0});
  }
  return s;
}

TEST(ProgressiveMetricsTest, AucMatchesBruteForceWithinBinningBound) {
  const int kWindow = 700;
  ProgressiveMetrics m(Tasks(), 4, kWindow);
  const std::vector<Sample> s = RandomSamples(7, 3000);
  for (const Sample& x : s) m.Add(0, x.p, x.y);
  const TaskMetrics r = m.Report().tasks[0];

  const double bound = BinningBound(s);
  EXPECT_LT(bound, 1e-3);
  EXPECT_NEAR(r.auc, BruteAuc(s), bound + 1e-12);
  const std::vector<Sample> last(s.end() - kWindow, s.end());
  EXPECT_NEAR(r.window_auc, BruteAuc(last), BinningBound(last) + 1e-12);
  EXPECT_EQ(r.count, 3000);
  EXPECT_EQ(r.window_count, kWindow);
}

TEST(ProgressiveMetricsTest, PerfectInvertedAndTiedPredictions) {
  ProgressiveMetrics perfect(Tasks(), 1, 100), inverted(Tasks(), 1, 100), tied(Tasks(), 1, 100);
  for (int i = 0; i < 20; ++i) {
    const int y = i % 2;
    perfect.Add(0, y ? 0.9 : 0.1, y);
    inverted.Add(0, y ? 0.1 : 0.9, y);
    tied.Add(0, 0.5, y);
  }
  EXPECT_DOUBLE_EQ(perfect.Report().tasks[0].auc, 1.0);
  EXPECT_DOUBLE_EQ(inverted.Report().tasks[0].auc, 0.0);
  EXPECT_DOUBLE_EQ(tied.Report().tasks[0].auc, 0.5);
  EXPECT_EQ(perfect.Report().tasks[0].positives, 10);
}

TEST(ProgressiveMetricsTest, WindowDropsOldExamples) {
  ProgressiveMetrics m(Tasks(), 1, 4);
  for (int i = 0; i < 4; ++i) m.Add(0, i % 2 ? 0.8 : 0.2, i % 2);  // perfect
  EXPECT_DOUBLE_EQ(m.Report().tasks[0].window_auc, 1.0);
  for (int i = 0; i < 4; ++i) m.Add(0, i % 2 ? 0.1 : 0.9, i % 2);  // inverted
  const TaskMetrics r = m.Report().tasks[0];
  EXPECT_DOUBLE_EQ(r.window_auc, 0.0);
  EXPECT_EQ(r.window_count, 4);
  EXPECT_EQ(r.count, 8);
  // All time: positives {.8, .8, .1, .1}, negatives {.2, .2, .9, .9}: only
  // the 4 pairs (.8, .2) are ordered correctly.
  EXPECT_DOUBLE_EQ(r.auc, 4.0 / 16.0);
  EXPECT_NEAR(r.window_logloss, -std::log(0.1), 1e-12);
}

TEST(ProgressiveMetricsTest, LoglossMatchesFormula) {
  ProgressiveMetrics m(Tasks(), 1, 3);
  const std::vector<Sample> s = {{0.9, 1}, {0.3, 0}, {0.6, 0}, {0.2, 1}, {0.7, 1}};
  double all = 0, recent = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    m.Add(0, s[i].p, s[i].y);
    const double l = s[i].y ? -std::log(s[i].p) : -std::log(1 - s[i].p);
    all += l;
    if (i >= 2) recent += l;
  }
  const TaskMetrics r = m.Report().tasks[0];
  EXPECT_NEAR(r.logloss, all / 5, 1e-12);
  EXPECT_NEAR(r.window_logloss, recent / 3, 1e-12);
  EXPECT_TRUE(std::isnan(r.rmse));
  // Calibration: the mean prediction, within a bin width.
  EXPECT_NEAR(r.mean_prediction, (0.9 + 0.3 + 0.6 + 0.2 + 0.7) / 5,
              1.0 / ProgressiveMetrics::kAucBins);
  EXPECT_EQ(r.positives, 3);
}

TEST(ProgressiveMetricsTest, LoglossIsFiniteForCertainWrongPredictions) {
  ProgressiveMetrics m(Tasks(), 1, 3);
  m.Add(0, 0.0, 1);
  m.Add(0, 1.0, 0);
  EXPECT_TRUE(std::isfinite(m.Report().tasks[0].logloss));
  EXPECT_GT(m.Report().tasks[0].logloss, 30);
}

TEST(ProgressiveMetricsTest, RmseMatchesFormula) {
  ProgressiveMetrics m(Tasks(), 1, 2);
  const double pred[] = {1.0, 2.5, 0.0, 3.0};
  const double label[] = {2.0, 2.0, 1.5, 1.0};
  double all = 0, recent = 0;
  for (int i = 0; i < 4; ++i) {
    m.Add(1, pred[i], label[i]);
    const double e2 = (pred[i] - label[i]) * (pred[i] - label[i]);
    all += e2;
    if (i >= 2) recent += e2;
  }
  const TaskMetrics r = m.Report().tasks[1];
  EXPECT_EQ(r.name, "watch");
  EXPECT_NEAR(r.rmse, std::sqrt(all / 4), 1e-12);
  EXPECT_NEAR(r.window_rmse, std::sqrt(recent / 2), 1e-12);
  EXPECT_EQ(r.window_count, 2);
  EXPECT_TRUE(std::isnan(r.auc));
  EXPECT_EQ(m.Report().tasks[0].count, 0);
}

TEST(ProgressiveMetricsTest, UndefinedValuesAreNaNAndMissingLabelsIgnored) {
  ProgressiveMetrics m(Tasks(), 1, 10);
  MetricsReport r = m.Report();
  EXPECT_TRUE(std::isnan(r.tasks[0].auc));
  EXPECT_TRUE(std::isnan(r.tasks[0].logloss));
  EXPECT_TRUE(std::isnan(r.tasks[1].rmse));
  m.Add(0, 0.7, 1);
  m.Add(0, 0.7, kNoLabel);
  m.Add(1, 0.7, kNoLabel);
  r = m.Report();
  EXPECT_TRUE(std::isnan(r.tasks[0].auc));  // one class only
  EXPECT_EQ(r.tasks[0].count, 1);
  EXPECT_EQ(r.tasks[1].count, 0);
}

TEST(ProgressiveMetricsTest, GateMeansOverRecentWindow) {
  ProgressiveMetrics m(Tasks(), 2, 3);
  EXPECT_TRUE(m.Report().gates[0].empty());
  const double g[5][2] = {{0.9, 0.1}, {0.8, 0.2}, {0.5, 0.5}, {0.3, 0.7}, {0.1, 0.9}};
  for (const auto& v : g) m.AddGates(0, v, 2);
  const float f[2] = {0.25f, 0.75f};
  m.AddGates(1, f, 2);
  const MetricsReport r = m.Report();
  ASSERT_EQ(r.gates[0].size(), 2u);
  EXPECT_NEAR(r.gates[0][0], (0.5 + 0.3 + 0.1) / 3, 1e-12);
  EXPECT_NEAR(r.gates[0][1], (0.5 + 0.7 + 0.9) / 3, 1e-12);
  EXPECT_EQ(r.gate_counts[0], 3);
  EXPECT_DOUBLE_EQ(r.gates[1][1], 0.75);
  EXPECT_EQ(r.gate_counts[1], 1);
}

TEST(ProgressiveMetricsTest, GateHealthFlagsACollapsedGate) {
  ProgressiveMetrics m(Tasks(), 4, 100, /*collapse_entropy=*/0.2);
  EXPECT_TRUE(std::isnan(m.Report().gate_health[0].entropy));
  // Task 0: sharp per example but spread over the experts (healthy).
  // Task 1: nearly everything on expert 2 (collapsed).
  for (int i = 0; i < 40; ++i) {
    double sharp[4] = {0.01, 0.01, 0.01, 0.01};
    sharp[i % 4] = 0.97;
    m.AddGates(0, sharp, 4);
    const double one[4] = {0.001, 0.001, 0.997, 0.001};
    m.AddGates(1, one, 4);
  }
  const MetricsReport r = m.Report();
  EXPECT_DOUBLE_EQ(r.gate_collapse_entropy, 0.2);
  const GateHealth& spread = r.gate_health[0];
  EXPECT_NEAR(spread.entropy, 1.0, 1e-12);
  EXPECT_LT(spread.example_entropy, 0.15);
  EXPECT_FALSE(spread.collapsed);
  EXPECT_EQ(spread.top_share, std::vector<double>(4, 0.25));
  const GateHealth& one = r.gate_health[1];
  EXPECT_LT(one.entropy, 0.05);
  EXPECT_GT(one.entropy, 0.0);
  EXPECT_TRUE(one.collapsed);
  EXPECT_EQ(one.top_share, (std::vector<double>{0, 0, 1, 0}));
}

// Each row's entropy is computed once as it is recorded: the report must
// follow the window as it wraps (old rows out) and come out bit for bit the
// same after a round trip (the entropies are rebuilt, not stored).
TEST(ProgressiveMetricsTest, GateHealthFollowsTheWindowAndSurvivesARoundTrip) {
  ProgressiveMetrics m(Tasks(), 4, 10, /*collapse_entropy=*/0.2);
  for (int i = 0; i < 15; ++i) {  // sharp, on expert 0: leave the window
    const double sharp[4] = {0.97, 0.01, 0.01, 0.01};
    m.AddGates(0, sharp, 4);
  }
  for (int i = 0; i < 10; ++i) {  // nearly uniform, the top expert rotating
    double flat[4] = {0.24, 0.24, 0.24, 0.24};
    flat[i % 2 + 1] = 0.28;
    m.AddGates(0, flat, 4);
  }
  const GateHealth h = m.Report().gate_health[0];
  EXPECT_GT(h.example_entropy, 0.99);
  EXPECT_EQ(h.top_share, (std::vector<double>{0, 0.5, 0.5, 0}));
  std::string state;
  m.Serialize(&state);
  ProgressiveMetrics copy(Tasks(), 4, 10, 0.2);
  ASSERT_TRUE(copy.Deserialize(state).ok());
  const GateHealth c = copy.Report().gate_health[0];
  EXPECT_EQ(std::bit_cast<uint64_t>(c.example_entropy), std::bit_cast<uint64_t>(h.example_entropy));
  EXPECT_EQ(std::bit_cast<uint64_t>(c.entropy), std::bit_cast<uint64_t>(h.entropy));
  EXPECT_EQ(c.top_share, h.top_share);
  // And both keep going alike.
  const double next[4] = {0.1, 0.2, 0.3, 0.4};
  m.AddGates(0, next, 4);
  copy.AddGates(0, next, 4);
  EXPECT_EQ(std::bit_cast<uint64_t>(copy.Report().gate_health[0].example_entropy),
            std::bit_cast<uint64_t>(m.Report().gate_health[0].example_entropy));
}

TEST(ProgressiveMetricsTest, ListwiseTaskReportsListCrossEntropyNotLogloss) {
  std::vector<TaskSpec> tasks = Tasks();
  tasks[0].loss = ListLoss::kListwise;
  ProgressiveMetrics m(tasks, 1, 10);
  m.Add(0, 0.6, 1);
  m.Add(0, 0.4, 0);
  m.AddLists(0, 0.5, 1);
  m.AddLists(0, 1.0, 2);
  const MetricsReport r = m.Report();
  EXPECT_TRUE(r.tasks[0].listwise);
  EXPECT_FALSE(r.tasks[1].listwise);
  EXPECT_TRUE(std::isnan(r.tasks[0].logloss));
  EXPECT_EQ(r.tasks[0].lists, 3);
  EXPECT_NEAR(r.tasks[0].list_cross_entropy, 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(r.tasks[0].auc, 1.0);
  // The totals survive a round trip.
  std::string state;
  m.Serialize(&state);
  ProgressiveMetrics copy(tasks, 1, 10);
  ASSERT_TRUE(copy.Deserialize(state).ok());
  EXPECT_EQ(copy.Report().tasks[0].lists, 3);
  EXPECT_DOUBLE_EQ(copy.Report().tasks[0].list_cross_entropy, 0.5);
}

void Feed(ProgressiveMetrics* m, Rng* rng, int n) {
  for (int i = 0; i < n; ++i) {
    const double p = rng->Uniform();
    m->Add(0, p, rng->Bernoulli(p) ? 1 : 0);
    m->Add(1, rng->Normal(), rng->Normal());
    const double g[3] = {rng->Uniform(), rng->Uniform(), rng->Uniform()};
    m->AddGates(i % 2, g, 3);
  }
}

// Bitwise equality, NaN == NaN.
void ExpectSame(double a, double b) {
  EXPECT_EQ(std::bit_cast<uint64_t>(a), std::bit_cast<uint64_t>(b));
}

void ExpectSameReport(const MetricsReport& a, const MetricsReport& b) {
  ASSERT_EQ(a.tasks.size(), b.tasks.size());
  for (size_t i = 0; i < a.tasks.size(); ++i) {
    const TaskMetrics &x = a.tasks[i], &y = b.tasks[i];
    EXPECT_EQ(x.count, y.count);
    EXPECT_EQ(x.window_count, y.window_count);
    EXPECT_EQ(x.positives, y.positives);
    for (auto f :
         {&TaskMetrics::auc, &TaskMetrics::logloss, &TaskMetrics::rmse, &TaskMetrics::window_auc,
          &TaskMetrics::window_logloss, &TaskMetrics::window_rmse}) {
      ExpectSame(x.*f, y.*f);
    }
  }
  EXPECT_EQ(a.gates, b.gates);
  EXPECT_EQ(a.gate_counts, b.gate_counts);
}

TEST(ProgressiveMetricsTest, SerializationRoundTripKeepsReportsAndFutureBehaviour) {
  ProgressiveMetrics a(Tasks(), 3, 50), b(Tasks(), 3, 50);
  Rng rng(11);
  Feed(&a, &rng, 137);
  std::string bytes;
  a.Serialize(&bytes);
  ASSERT_TRUE(b.Deserialize(bytes).ok());
  ExpectSameReport(a.Report(), b.Report());
  Rng r1(12), r2(12);
  Feed(&a, &r1, 91);
  Feed(&b, &r2, 91);
  ExpectSameReport(a.Report(), b.Report());
  std::string sa, sb;
  a.Serialize(&sa);
  b.Serialize(&sb);
  EXPECT_EQ(sa, sb);
}

TEST(ProgressiveMetricsTest, DeserializeRejectsCorruptOrMismatchedState) {
  ProgressiveMetrics a(Tasks(), 3, 50);
  Rng rng(3);
  Feed(&a, &rng, 60);
  std::string bytes;
  a.Serialize(&bytes);

  ProgressiveMetrics target(Tasks(), 3, 50);
  Feed(&target, &rng, 5);
  std::string before;
  target.Serialize(&before);
  for (size_t cut : {size_t{0}, size_t{3}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    EXPECT_FALSE(target.Deserialize(std::string_view(bytes).substr(0, cut)).ok()) << cut;
  }
  std::string bad_magic = bytes;
  bad_magic[0] ^= 1;
  EXPECT_EQ(target.Deserialize(bad_magic).code(), Status::Code::kCorruption);
  EXPECT_EQ(target.Deserialize(bytes + "x").code(), Status::Code::kCorruption);
  std::string after;
  target.Serialize(&after);
  EXPECT_EQ(before, after);  // unchanged by failed restores

  ProgressiveMetrics other_window(Tasks(), 3, 51), other_experts(Tasks(), 2, 50);
  EXPECT_EQ(other_window.Deserialize(bytes).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(other_experts.Deserialize(bytes).code(), Status::Code::kInvalidArgument);
  std::vector<TaskSpec> renamed = Tasks();
  renamed[1].name = "dwell";
  ProgressiveMetrics other_tasks(renamed, 3, 50);
  EXPECT_EQ(other_tasks.Deserialize(bytes).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace ranker::learner
