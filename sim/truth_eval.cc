#include "sim/truth_eval.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cassert>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>
#include <utility>

namespace ranker::sim {
namespace {

namespace json = boost::json;
using Key = std::pair<std::string, std::string>;

Status LineError(int64_t line, std::string_view what) {
  return Status::Corruption("line " + std::to_string(line) + ": " + std::string(what));
}

const json::string* GetString(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr ? v->if_string() : nullptr;
}

bool GetNumber(const json::object& o, std::string_view key, double* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_number()) return false;
  *out = v->to_number<double>();
  return true;
}

int64_t GetTs(const json::object& o) {
  double ts = -1;
  return GetNumber(o, "ts_ms", &ts) ? static_cast<int64_t>(ts) : -1;
}

Status ParseImpression(const json::object& o, int64_t line, TruthRecord* r) {
  const json::string* req = GetString(o, "request_id");
  const json::string* item = GetString(o, "item_id");
  double pos = 0;
  const json::value* truth = o.if_contains("truth");
  if (req == nullptr || item == nullptr || !GetNumber(o, "position", &pos) || truth == nullptr ||
      !truth->is_object()) {
    return LineError(line, "impression needs request_id, item_id, position and truth");
  }
  const json::object& t = truth->as_object();
  if (!GetNumber(t, "examination", &r->truth.examination) ||
      !GetNumber(t, "attraction", &r->truth.attraction) ||
      !GetNumber(t, "click_probability", &r->truth.click_probability) ||
      !GetNumber(t, "expected_watch_seconds", &r->truth.expected_watch_seconds)) {
    return LineError(line,
                     "truth needs examination, attraction, click_probability and "
                     "expected_watch_seconds");
  }
  r->request_id = *req;
  r->item_id = *item;
  r->position = static_cast<int>(pos);
  r->ts_ms = GetTs(o);
  if (const json::value* ctx = o.if_contains("context"); ctx != nullptr && ctx->is_object()) {
    if (const json::string* d = GetString(ctx->as_object(), "device")) r->device = *d;
  }
  return Status::OK();
}

// Joins one click or watch to its impression, if any and in time.
void JoinEngagement(const json::object& o, std::string_view type, int64_t window,
                    const std::map<Key, size_t>& index, std::vector<TruthRecord>* records) {
  const json::string* req = GetString(o, "request_id");
  const json::string* item = GetString(o, "item_id");
  if (req == nullptr || item == nullptr) return;
  const auto it = index.find(Key(*req, *item));
  if (it == index.end()) return;
  TruthRecord& r = (*records)[it->second];
  const int64_t ts = GetTs(o);
  const bool in_time = window < 0 || ts < 0 || r.ts_ms < 0 || ts - r.ts_ms <= window;
  if (type == "click") {
    (in_time ? r.clicked : r.late_click) = true;
  } else if (double w = 0; type == "watch" && in_time && GetNumber(o, "watch_seconds", &w)) {
    r.watch_seconds += w;
  }
}

}  // namespace

StatusOr<std::vector<TruthRecord>> ReadTruthRecords(std::istream& in, int64_t join_window_ms) {
  std::vector<TruthRecord> records;
  std::map<Key, size_t> index;
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) return LineError(n, "not a JSON object");
    const json::object& o = v.as_object();
    const json::string* type = GetString(o, "type");
    if (type == nullptr) return LineError(n, "missing type");
    if (*type == "impression") {
      TruthRecord r;
      RANKER_RETURN_IF_ERROR(ParseImpression(o, n, &r));
      index[Key(r.request_id, r.item_id)] = records.size();
      records.push_back(std::move(r));
    } else {
      JoinEngagement(o, *type, join_window_ms, index, &records);
    }
  }
  return records;
}

StatusOr<std::vector<TruthRecord>> ReadTruthFile(const std::string& path, int64_t join_window_ms) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot open " + path);
  return ReadTruthRecords(in, join_window_ms);
}

double Auc(std::span<const double> scores, std::span<const int> labels) {
  assert(scores.size() == labels.size());
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double pos = 0, rank_sum = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double mid_rank = 0.5 * static_cast<double>(i + 1 + j);  // mean of ranks i+1..j
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]] != 0) pos += 1, rank_sum += mid_rank;
    }
    i = j;
  }
  const double neg = static_cast<double>(scores.size()) - pos;
  if (pos == 0 || neg == 0) return std::numeric_limits<double>::quiet_NaN();
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

double BayesClickAuc(std::span<const TruthRecord> records, size_t last_n) {
  if (last_n > 0 && last_n < records.size()) records = records.last(last_n);
  std::vector<double> scores;
  std::vector<int> labels;
  for (const TruthRecord& r : records) {
    scores.push_back(r.truth.click_probability);
    labels.push_back(r.clicked ? 1 : 0);
  }
  return Auc(scores, labels);
}

PositionCurve TruePositionCurve(const SimOptions& options, int positions) {
  if (positions <= 0) positions = options.slate_size;
  PositionCurve c;
  c.mixed.assign(static_cast<size_t>(positions), 0.0);
  double total_share = 0;
  for (const DeviceSpec& d : options.devices) total_share += d.share;
  for (size_t d = 0; d < options.devices.size(); ++d) {
    c.devices.push_back(options.devices[d].name);
    std::vector<double> offsets;
    for (int p = 1; p <= positions; ++p) {
      const int dev = static_cast<int>(d);
      offsets.push_back(std::log(options.Examination(p, dev) / options.Examination(1, dev)));
      c.mixed[static_cast<size_t>(p - 1)] +=
          options.devices[d].share / total_share * offsets.back();
    }
    c.per_device.push_back(std::move(offsets));
  }
  return c;
}

PositionCurve ObservedPositionCurve(std::span<const TruthRecord> records) {
  PositionCurve c;
  int positions = 0;
  for (const TruthRecord& r : records) positions = std::max(positions, r.position);
  std::vector<std::vector<std::pair<double, int64_t>>> sums;  // [device][p-1]: (sum, count)
  std::vector<int64_t> device_count;
  for (const TruthRecord& r : records) {
    if (r.position < 1) continue;
    size_t d = std::find(c.devices.begin(), c.devices.end(), r.device) - c.devices.begin();
    if (d == c.devices.size()) {
      c.devices.push_back(r.device);
      sums.emplace_back(static_cast<size_t>(positions));
      device_count.push_back(0);
    }
    auto& cell = sums[d][static_cast<size_t>(r.position - 1)];
    cell.first += r.truth.examination;
    cell.second += 1;
    device_count[d] += 1;
  }
  const double total =
      static_cast<double>(std::accumulate(device_count.begin(), device_count.end(), int64_t{0}));
  c.mixed.assign(static_cast<size_t>(positions), 0.0);
  for (size_t d = 0; d < sums.size(); ++d) {
    std::vector<double> offsets;
    for (const auto& [sum, count] : sums[d]) {
      const double mean = count > 0 ? sum / static_cast<double>(count) : std::nan("");
      offsets.push_back(std::log(mean / (sums[d][0].first / sums[d][0].second)));
    }
    for (size_t p = 0; p < offsets.size(); ++p) {
      c.mixed[p] += static_cast<double>(device_count[d]) / total * offsets[p];
    }
    c.per_device.push_back(std::move(offsets));
  }
  return c;
}

}  // namespace ranker::sim
