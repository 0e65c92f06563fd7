// Progressive click metrics against the simulator's ground truth (issue 16):
// the prediction each impression was scored with (once, before any training
// on it) against whether it was ever clicked, a click beyond the join window
// included, and its mean against the mean truth.click_probability. A short
// window looks calibrated against its own matured labels while it is biased
// down against the truth; these numbers show it.
//
// Thread-safety: none (the learner thread adds, then Evaluate at the end).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/truth_eval.h"

namespace ranker::sim {

struct TruthReport {
  int64_t count = 0;           // scored impressions found in the records
  int64_t clicked = 0;         // of them, clicked at any delay
  double auc = 0;              // NaN when either class is absent
  double mean_prediction = 0;  // over those impressions
  double mean_truth = 0;       // mean truth.click_probability
  double calibration = 0;      // mean_prediction / mean_truth (0 without truth)
};

class TruthProgressive {
 public:
  // The impression (request_id, item_id) was scored with `prediction`.
  void Scored(std::string_view request_id, std::string_view item_id, double prediction);
  size_t scored() const { return scored_.size(); }
  // Joins the predictions with `records` (ReadTruthRecords with a negative
  // join window, so that every click counts); impressions not in the
  // records are left out.
  TruthReport Evaluate(std::span<const TruthRecord> records) const;

 private:
  std::vector<std::pair<std::string, double>> scored_;  // "request_id\nitem_id"
};

}  // namespace ranker::sim
