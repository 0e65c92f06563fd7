// Evaluation helpers over a simulated stream (the NDJSON of `ranker
// simulate`): the impressions with their ground truth and realised labels,
// the Bayes-optimal click AUC, and the true position-bias curve that the
// position tower should recover. Used by the learning tests and benchmarks.
#pragma once

#include <cstdint>
#include <istream>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "sim/event_json.h"
#include "sim/sim_options.h"

namespace ranker::sim {

// One impression of a simulated stream, with its engagements joined by
// (request_id, item_id) as the joiner would.
struct TruthRecord {
  std::string request_id;
  std::string item_id;
  std::string device;
  int position = 0;
  int64_t ts_ms = -1;
  Truth truth;
  bool clicked = false;      // a click arrived within the join window
  bool late_click = false;   // a click arrived, but only after the window
  double watch_seconds = 0;  // sum of watch_seconds within the window
};

// Reads the stream; returns its impressions in stream order. A click/watch
// joins the latest earlier impression of its (request_id, item_id) if its
// ts_ms - the impression's ts_ms <= join_window_ms (join_window_ms < 0: any
// delay joins; missing ts_ms always joins); other engagements are ignored.
// Corruption (naming the line) on a line that is not a JSON object or an
// impression without request_id, item_id, position or truth.
StatusOr<std::vector<TruthRecord>> ReadTruthRecords(std::istream& in,
                                                    int64_t join_window_ms = 60'000);
// The same from a file; IOError if it cannot be opened.
StatusOr<std::vector<TruthRecord>> ReadTruthFile(const std::string& path,
                                                 int64_t join_window_ms = 60'000);

// Area under the ROC curve of `scores` against 0/1 `labels` (ties count
// half); NaN if either class is absent. REQUIRES: equal sizes.
double Auc(std::span<const double> scores, std::span<const int> labels);

// The Bayes-optimal click AUC: truth.click_probability against `clicked`,
// over the last `last_n` records (0 = all).
double BayesClickAuc(std::span<const TruthRecord> records, size_t last_n = 0);

// Relative examination in logit-offset form, as GET /v1/model reports it:
// offset[p-1] = log(exam(p) / exam(1)) for p = 1..positions.
struct PositionCurve {
  std::vector<std::string> devices;
  std::vector<std::vector<double>> per_device;  // [device][p - 1]
  // Average of the per-device offsets weighted by the device mix.
  std::vector<double> mixed;
};

// The curve of the world of `options`, weighted by SimOptions device shares,
// for positions 1..positions (0 = slate_size). REQUIRES: options valid.
PositionCurve TruePositionCurve(const SimOptions& options, int positions = 0);
// The curve from the records' truth.examination, weighted by how often each
// device appears; devices in order of first appearance. A position never
// seen on a device gives NaN.
PositionCurve ObservedPositionCurve(std::span<const TruthRecord> records);

}  // namespace ranker::sim
