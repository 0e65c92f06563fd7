#include "sim/truth_progressive.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace ranker::sim {
namespace {

TruthRecord Record(const char* req, const char* item, double p, bool clicked, bool late) {
  TruthRecord r;
  r.request_id = req;
  r.item_id = item;
  r.truth.click_probability = p;
  r.clicked = clicked;
  r.late_click = late;
  return r;
}

// A click beyond the window counts as a click against the truth; the
// calibration is the mean prediction over the mean truth of the scored
// impressions; an impression not in the records is left out.
TEST(TruthProgressive, ScoresAgainstEveryClickAndTheTrueProbability) {
  const std::vector<TruthRecord> records = {
      Record("r1", "a", 0.1, false, false), Record("r1", "b", 0.3, true, false),
      Record("r2", "a", 0.2, false, true), Record("r2", "b", 0.2, false, false)};
  TruthProgressive t;
  t.Scored("r1", "a", 0.05);
  t.Scored("r1", "b", 0.40);
  t.Scored("r2", "a", 0.10);  // clicked late: a positive here
  t.Scored("r2", "b", 0.20);
  t.Scored("r3", "a", 0.90);  // not a simulated impression
  const TruthReport r = t.Evaluate(records);
  EXPECT_EQ(r.count, 4);
  EXPECT_EQ(r.clicked, 2);
  // Positives 0.40, 0.10 against negatives 0.05, 0.20: 3 of 4 pairs.
  EXPECT_DOUBLE_EQ(r.auc, 0.75);
  EXPECT_DOUBLE_EQ(r.mean_truth, 0.2);
  EXPECT_NEAR(r.mean_prediction, 0.1875, 1e-12);
  EXPECT_NEAR(r.calibration, 0.1875 / 0.2, 1e-12);
}

TEST(TruthProgressive, NothingScoredGivesAnEmptyReport) {
  const TruthReport r = TruthProgressive().Evaluate({});
  EXPECT_EQ(r.count, 0);
  EXPECT_EQ(r.calibration, 0);
}

}  // namespace
}  // namespace ranker::sim
