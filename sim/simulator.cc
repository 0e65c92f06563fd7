#include "sim/simulator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "base/hash.h"

namespace ranker::sim {
namespace {

constexpr int64_t kMinDelayMs = 200;        // earliest engagement after its cause
constexpr int kCalibrationRequests = 4000;  // logged slates used to fit the bias

double MeanCtr(const std::vector<std::pair<double, double>>& exam_logit, double bias) {
  double sum = 0;
  for (const auto& [exam, logit] : exam_logit) sum += exam / (1.0 + std::exp(-(bias + logit)));
  return sum / static_cast<double>(exam_logit.size());
}

// "<prefix><n>" (via to_chars: GCC 12 warns falsely on "r" + to_string(n)).
std::string Tag(char prefix, uint64_t n) {
  char buf[24] = {prefix};
  const auto end = std::to_chars(buf + 1, buf + sizeof(buf), n).ptr;
  return std::string(buf, end);
}

}  // namespace

Simulator::Simulator(SimOptions options)
    : options_(std::move(options)),
      world_(options_),
      rng_(Mix64(options_.seed ^ 0x51a7e5ULL)),
      clock_ms_(static_cast<double>(options_.start_ts_ms)),
      seen_(static_cast<size_t>(options_.items), 0) {
  CalibrateBias();
}

// Fits the global attraction bias on logged slates drawn from a separate
// stream. The logging policy's ranking is invariant to the bias (a common
// shift of every logit), so one sample of slates serves every trial bias.
void Simulator::CalibrateBias() {
  Rng rng(Mix64(options_.seed ^ 0xca11b7a7eULL));
  double clock = 0;
  std::vector<std::pair<double, double>> exam_logit;
  for (int r = 0; r < kCalibrationRequests; ++r) {
    const SimRequest req = DrawRequest(&rng, &clock);
    const std::vector<int> slate = RankSlate(req, &rng);
    for (size_t p = 0; p < slate.size(); ++p) {
      exam_logit.emplace_back(options_.Examination(static_cast<int>(p) + 1, req.device),
                              world_.AffinityLogit(req.user, slate[p]));
    }
  }
  double lo = -30, hi = 30;
  for (int it = 0; it < 100; ++it) {
    const double mid = 0.5 * (lo + hi);
    (MeanCtr(exam_logit, mid) < options_.target_ctr ? lo : hi) = mid;
  }
  world_.set_bias(0.5 * (lo + hi));
}

SimRequest Simulator::DrawRequest(Rng* rng, double* clock_ms) {
  *clock_ms += -std::log(1.0 - rng->Uniform()) * 1000.0 / options_.requests_per_second;
  SimRequest req;
  req.ts_ms = static_cast<int64_t>(*clock_ms);
  req.user = world_.SampleUser(rng);
  req.device = world_.SampleDevice(rng);
  while (static_cast<int>(req.candidates.size()) < options_.candidates) {
    const int item = world_.SampleItem(rng);
    if (seen_[static_cast<size_t>(item)]) continue;
    seen_[static_cast<size_t>(item)] = 1;
    req.candidates.push_back(item);
  }
  for (int item : req.candidates) seen_[static_cast<size_t>(item)] = 0;
  return req;
}

std::vector<int> Simulator::RankSlate(const SimRequest& request, Rng* rng) const {
  std::vector<int> c = request.candidates;
  const size_t k = static_cast<size_t>(options_.slate_size);
  if (rng->Bernoulli(options_.epsilon)) {
    for (size_t i = 0; i < k; ++i) std::swap(c[i], c[i + rng->Below(c.size() - i)]);
    c.resize(k);
    return c;
  }
  std::vector<std::pair<double, int>> scored;
  for (int item : c) {
    scored.emplace_back(
        world_.AffinityLogit(request.user, item) + options_.ranking_noise * rng->Normal(), item);
  }
  std::partial_sort(scored.begin(), scored.begin() + static_cast<ptrdiff_t>(k), scored.end(),
                    [](const auto& a, const auto& b) {
                      return a.first != b.first ? a.first > b.first : a.second < b.second;
                    });
  for (size_t i = 0; i < k; ++i) c[i] = scored[i].second;
  c.resize(k);
  return c;
}

SimRequest Simulator::NextCandidates() {
  SimRequest req = DrawRequest(&rng_, &clock_ms_);
  req.request_id = Tag('r', ++requests_);
  return req;
}

std::vector<int> Simulator::LoggingPolicy(const SimRequest& request) {
  return RankSlate(request, &rng_);
}

learner::Example Simulator::CandidateExample(const SimRequest& request, int item) const {
  learner::Example ex;
  ex.request_id = request.request_id;
  ex.item_id = world_.ItemId(item);
  ex.device = options_.devices[static_cast<size_t>(request.device)].name;
  ex.ts_ms = request.ts_ms;
  ex.categorical = world_.UserCategorical(request.user);
  const auto& item_cat = world_.ItemCategorical(item);
  ex.categorical.insert(ex.categorical.end(), item_cat.begin(), item_cat.end());
  ex.categorical.push_back({"context.device", ex.device});
  ex.dense = world_.UserDense(request.user);
  const auto& item_dense = world_.ItemDense(item);
  ex.dense.insert(ex.dense.end(), item_dense.begin(), item_dense.end());
  ex.dense.push_back({"hour_of_day", static_cast<double>(request.ts_ms % 86'400'000) / 3.6e6});
  return ex;
}

void Simulator::Serve(const SimRequest& request, std::span<const int> slate,
                      std::vector<SimEvent>* out) {
  EmitDue(request.ts_ms, out);
  const size_t n = std::min(slate.size(), static_cast<size_t>(options_.slate_size));
  for (size_t p = 0; p < n; ++p) {
    const int item = slate[p];
    SimEvent imp;
    imp.event.type = learner::EventType::kImpression;
    imp.event.example = CandidateExample(request, item);
    imp.event.example.position = static_cast<int32_t>(p) + 1;
    Truth t;
    t.examination = options_.Examination(static_cast<int>(p) + 1, request.device);
    t.attraction = world_.Attraction(request.user, item);
    t.click_probability = t.examination * t.attraction;
    t.expected_watch_seconds = world_.ExpectedWatchSeconds(request.user, item);
    imp.truth = t;
    Emit(std::move(imp), out);
    if (rng_.Bernoulli(t.examination) && rng_.Bernoulli(t.attraction)) {
      Engage(request, item, t.expected_watch_seconds);
    }
  }
}

void Simulator::NextRequest(std::vector<SimEvent>* out) {
  const SimRequest req = NextCandidates();
  const std::vector<int> slate = LoggingPolicy(req);
  Serve(req, slate, out);
}

void Simulator::Flush(std::vector<SimEvent>* out) {
  EmitDue(std::numeric_limits<int64_t>::max(), out);
}

int64_t Simulator::DelayMs(double mean_s, int64_t cap_ms) {
  const double exp_ms = -std::log(1.0 - rng_.Uniform()) * mean_s * 1000.0;
  return std::min<int64_t>(cap_ms, kMinDelayMs + static_cast<int64_t>(exp_ms));
}

int64_t Simulator::TailDelayMs(double median_s, double sigma) {
  const double s = median_s * std::exp(sigma * rng_.Normal());
  return kMinDelayMs + static_cast<int64_t>(std::min(s, 1e9) * 1000.0);
}

// Schedules the click (and watch) of a clicked impression. On time, both land
// inside the join window; each is independently late with late_fraction.
void Simulator::Engage(const SimRequest& request, int item, double expected_watch) {
  const int64_t window = options_.join_window_ms;
  auto late_ts = [&] {
    return request.ts_ms + window + 1000 +
           static_cast<int64_t>(rng_.Uniform() * options_.late_max_s * 1000.0);
  };
  SimEvent click;
  click.event.type = learner::EventType::kClick;
  click.event.example.request_id = request.request_id;
  click.event.example.item_id = world_.ItemId(item);
  const double tail = options_.click_delay_tail_sigma;
  const int64_t click_on_time =
      request.ts_ms + (tail > 0 ? TailDelayMs(options_.click_delay_mean_s, tail)
                                : DelayMs(options_.click_delay_mean_s, window / 2));
  SimEvent watch = click;
  click.event.example.ts_ms = rng_.Bernoulli(options_.late_fraction) ? late_ts() : click_on_time;
  Schedule(click.event.example.ts_ms, std::move(click));

  const double ns = options_.watch_noise_sigma;
  watch.event.type = learner::EventType::kWatch;
  watch.event.watch_seconds = expected_watch * std::exp(ns * rng_.Normal() - 0.5 * ns * ns);
  const int64_t watch_cap =
      tail > 0 ? std::numeric_limits<int64_t>::max() / 4 : window / 2 - kMinDelayMs;
  const int64_t watch_on_time = click_on_time + DelayMs(options_.watch_delay_mean_s, watch_cap);
  watch.event.example.ts_ms = rng_.Bernoulli(options_.late_fraction) ? late_ts() : watch_on_time;
  Schedule(watch.event.example.ts_ms, std::move(watch));
}

void Simulator::Schedule(int64_t ts_ms, SimEvent event) {
  pending_.push_back({ts_ms, seq_++, std::move(event)});
  std::push_heap(pending_.begin(), pending_.end(), Later);
}

void Simulator::EmitDue(int64_t until_ts_ms, std::vector<SimEvent>* out) {
  while (!pending_.empty() && pending_.front().ts_ms <= until_ts_ms) {
    std::pop_heap(pending_.begin(), pending_.end(), Later);
    Emit(std::move(pending_.back().event), out);
    pending_.pop_back();
  }
}

void Simulator::Emit(SimEvent event, std::vector<SimEvent>* out) {
  event.event.event_id = Tag('e', ++emitted_);
  out->push_back(std::move(event));
}

Status WriteNdjson(const SimOptions& options, int64_t n_events, std::ostream& out) {
  RANKER_RETURN_IF_ERROR(options.Validate());
  if (n_events < 0) return Status::InvalidArgument("events must be >= 0");
  Simulator sim(options);
  std::vector<SimEvent> batch;
  int64_t written = 0;
  while (written < n_events && out) {
    batch.clear();
    sim.NextRequest(&batch);
    for (size_t k = 0; k < batch.size() && written < n_events; ++k, ++written) {
      out << EncodeEventJson(batch[k]) << '\n';
    }
  }
  out.flush();
  if (!out) return Status::IOError("simulate: writing the output stream failed");
  return Status::OK();
}

}  // namespace ranker::sim
