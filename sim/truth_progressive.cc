#include "sim/truth_progressive.h"

#include <unordered_map>

namespace ranker::sim {
namespace {

std::string Key(std::string_view request_id, std::string_view item_id) {
  std::string k(request_id);
  k += '\n';
  k += item_id;
  return k;
}

}  // namespace

void TruthProgressive::Scored(std::string_view request_id, std::string_view item_id,
                              double prediction) {
  scored_.emplace_back(Key(request_id, item_id), prediction);
}

TruthReport TruthProgressive::Evaluate(std::span<const TruthRecord> records) const {
  std::unordered_map<std::string, const TruthRecord*> by_key;
  by_key.reserve(records.size());
  for (const TruthRecord& r : records) by_key[Key(r.request_id, r.item_id)] = &r;
  std::vector<double> scores;
  std::vector<int> labels;
  double truth_sum = 0, prediction_sum = 0;
  for (const auto& [key, prediction] : scored_) {
    auto it = by_key.find(key);
    if (it == by_key.end()) continue;
    scores.push_back(prediction);
    labels.push_back(it->second->clicked || it->second->late_click ? 1 : 0);
    prediction_sum += prediction;
    truth_sum += it->second->truth.click_probability;
  }
  TruthReport r;
  r.count = static_cast<int64_t>(scores.size());
  if (r.count == 0) return r;
  for (int y : labels) r.clicked += y;
  r.auc = Auc(scores, labels);
  r.mean_prediction = prediction_sum / static_cast<double>(r.count);
  r.mean_truth = truth_sum / static_cast<double>(r.count);
  r.calibration = truth_sum > 0 ? prediction_sum / truth_sum : 0;
  return r;
}

}  // namespace ranker::sim
