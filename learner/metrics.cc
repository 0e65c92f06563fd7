#include "learner/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>

namespace ranker::learner {
namespace {

constexpr uint32_t kMagic = 0x4d504b52;  // "RKPM"
// 2 added the listwise totals; version 1 states are read with none.
constexpr uint32_t kVersion = 2;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kProbEps = 1e-15;

int BinOf(double p) {
  const double clamped = std::clamp(p, 0.0, 1.0);
  const int bin = static_cast<int>(clamped * ProgressiveMetrics::kAucBins);
  return std::min(bin, ProgressiveMetrics::kAucBins - 1);
}

double LogLoss(double p, bool positive) {
  const double q = std::clamp(p, kProbEps, 1.0 - kProbEps);
  return positive ? -std::log(q) : -std::log1p(-q);
}

// Decoder::GetArray memcpy()s into out->data(), which is null for an empty,
// never-allocated vector: UB even for zero bytes (UBSan flags it). Giving the
// vector storage first avoids that.
template <typename T>
Status GetVector(Decoder* d, std::vector<T>* out, size_t expected = SIZE_MAX) {
  out->reserve(1);
  return d->GetArray(out, expected);
}

bool IsBinary(const TaskSpec& t) { return t.kind == TaskKind::kBinary; }
bool IsListwise(const TaskSpec& t) { return IsBinary(t) && t.loss == ListLoss::kListwise; }

// Entropy of a distribution over n >= 1 outcomes, divided by log(n) (0 for
// n == 1).
double NormalisedEntropy(const double* p, int n) {
  if (n <= 1) return 0;
  double h = 0;
  for (int k = 0; k < n; ++k) {
    if (p[k] > 0) h -= p[k] * std::log(p[k]);
  }
  return std::clamp(h / std::log(static_cast<double>(n)), 0.0, 1.0);
}

}  // namespace

void ProgressiveMetrics::AucHistogram::Add(int bin, bool positive, int64_t delta) {
  (positive ? pos : neg)[bin] += delta;
  (positive ? num_pos : num_neg) += delta;
}

double ProgressiveMetrics::AucHistogram::Auc() const {
  if (num_pos == 0 || num_neg == 0) return kNaN;
  double wins = 0;        // positive/negative pairs ordered correctly (ties 1/2)
  int64_t neg_below = 0;  // negatives in lower bins
  for (int b = 0; b < kAucBins; ++b) {
    if (pos[b] != 0) {
      wins += static_cast<double>(pos[b]) *
              (static_cast<double>(neg_below) + 0.5 * static_cast<double>(neg[b]));
    }
    neg_below += neg[b];
  }
  return wins / (static_cast<double>(num_pos) * static_cast<double>(num_neg));
}

ProgressiveMetrics::ProgressiveMetrics(std::vector<TaskSpec> tasks, int num_experts, int window,
                                       double collapse_entropy)
    : tasks_(std::move(tasks)),
      num_experts_(num_experts),
      window_(window),
      collapse_entropy_(collapse_entropy) {
  assert(!tasks_.empty() && num_experts_ >= 1 && window_ >= 1);
  state_.resize(tasks_.size());
  for (size_t i = 0; i < tasks_.size(); ++i) {
    if (!IsBinary(tasks_[i])) continue;
    for (AucHistogram* h : {&state_[i].all, &state_[i].recent}) {
      h->pos.assign(kAucBins, 0);
      h->neg.assign(kAucBins, 0);
    }
  }
}

void ProgressiveMetrics::Add(int task, double prediction, double label) {
  assert(task >= 0 && task < num_tasks());
  if (!HasLabel(label)) return;
  assert(std::isfinite(prediction) && std::isfinite(label));
  TaskState& t = state_[task];
  WindowEntry e{0, -1, 0};
  if (IsBinary(tasks_[task])) {
    const bool positive = label > 0.5;
    e = WindowEntry{LogLoss(prediction, positive), BinOf(prediction), positive ? 1 : 0};
    t.all.Add(e.bin, positive, 1);
  } else {
    const double err = prediction - label;
    e.loss = err * err;
  }
  const size_t slot = static_cast<size_t>(t.count % window_);
  if (t.ring.size() < static_cast<size_t>(window_)) {
    t.ring.push_back(e);
  } else {
    const WindowEntry& old = t.ring[slot];
    if (old.bin >= 0) t.recent.Add(old.bin, old.positive != 0, -1);
    t.ring[slot] = e;
  }
  if (e.bin >= 0) t.recent.Add(e.bin, e.positive != 0, 1);
  t.loss_sum += e.loss;
  ++t.count;
}

template <typename T>
void ProgressiveMetrics::AddGatesImpl(int task, const T* weights, int n) {
  assert(task >= 0 && task < num_tasks() && n == num_experts_);
  TaskState& t = state_[task];
  const size_t row = static_cast<size_t>(t.gate_count % window_) * num_experts_;
  if (t.gate_ring.size() < row + num_experts_) t.gate_ring.resize(row + num_experts_);
  for (int k = 0; k < n; ++k) t.gate_ring[row + k] = static_cast<double>(weights[k]);
  const size_t r = row / num_experts_;
  if (t.gate_entropy.size() <= r) t.gate_entropy.resize(r + 1);
  t.gate_entropy[r] = NormalisedEntropy(&t.gate_ring[row], num_experts_);
  ++t.gate_count;
}

void ProgressiveMetrics::AddGates(int task, const float* weights, int n) {
  AddGatesImpl(task, weights, n);
}

void ProgressiveMetrics::AddGates(int task, const double* weights, int n) {
  AddGatesImpl(task, weights, n);
}

// The mean prediction of a histogram, each bin at its centre.
double ProgressiveMetrics::MeanOfBins(const AucHistogram& h) {
  const int64_t n = h.num_pos + h.num_neg;
  if (n == 0) return kNaN;
  double sum = 0;
  for (size_t b = 0; b < h.pos.size(); ++b) {
    const int64_t count = h.pos[b] + h.neg[b];
    if (count != 0) sum += (static_cast<double>(b) + 0.5) * static_cast<double>(count);
  }
  return sum / kAucBins / static_cast<double>(n);
}

void ProgressiveMetrics::AddLists(int task, double loss_sum, int64_t lists) {
  assert(task >= 0 && task < num_tasks() && lists >= 0);
  state_[task].lists += lists;
  state_[task].list_loss_sum += loss_sum;
}

TaskMetrics ProgressiveMetrics::TaskReport(int task) const {
  const TaskState& t = state_[task];
  TaskMetrics m;
  m.name = tasks_[task].name;
  m.kind = tasks_[task].kind;
  m.count = t.count;
  m.window_count = static_cast<int64_t>(t.ring.size());
  double window_sum = 0;
  for (const WindowEntry& e : t.ring) window_sum += e.loss;
  const double mean = t.count > 0 ? t.loss_sum / static_cast<double>(t.count) : kNaN;
  const double window_mean =
      m.window_count > 0 ? window_sum / static_cast<double>(m.window_count) : kNaN;
  if (IsBinary(tasks_[task])) {
    m.positives = t.all.num_pos;
    m.auc = t.all.Auc();
    m.window_auc = t.recent.Auc();
    m.logloss = mean;
    m.window_logloss = window_mean;
    m.rmse = m.window_rmse = kNaN;
    m.mean_prediction = MeanOfBins(t.all);
    if (IsListwise(tasks_[task])) {
      // Logloss of within-list probabilities means nothing: lists are the unit.
      m.listwise = true;
      m.logloss = m.window_logloss = kNaN;
      m.lists = t.lists;
      m.list_cross_entropy = t.lists > 0 ? t.list_loss_sum / static_cast<double>(t.lists) : kNaN;
    }
  } else {
    m.rmse = std::sqrt(mean);
    m.window_rmse = std::sqrt(window_mean);
    m.auc = m.window_auc = m.logloss = m.window_logloss = kNaN;
  }
  return m;
}

std::vector<double> ProgressiveMetrics::GateMeans(int task) const {
  const TaskState& t = state_[task];
  const size_t rows = t.gate_ring.size() / num_experts_;
  if (rows == 0) return {};
  std::vector<double> mean(num_experts_, 0.0);
  for (size_t r = 0; r < rows; ++r) {
    for (int k = 0; k < num_experts_; ++k) mean[k] += t.gate_ring[r * num_experts_ + k];
  }
  for (double& v : mean) v /= static_cast<double>(rows);
  return mean;
}

GateHealth ProgressiveMetrics::Health(int task, const std::vector<double>& means) const {
  GateHealth h;
  if (means.empty()) {
    h.entropy = h.example_entropy = kNaN;
    return h;
  }
  const std::vector<double>& ring = state_[task].gate_ring;
  const std::vector<double>& entropy = state_[task].gate_entropy;
  const size_t rows = ring.size() / num_experts_;
  assert(entropy.size() == rows);
  h.top_share.assign(num_experts_, 0.0);
  double sum = 0;
  for (size_t r = 0; r < rows; ++r) {
    const double* p = &ring[r * num_experts_];
    sum += entropy[r];
    h.top_share[std::max_element(p, p + num_experts_) - p] += 1;
  }
  for (double& v : h.top_share) v /= static_cast<double>(rows);
  h.example_entropy = sum / static_cast<double>(rows);
  h.entropy = NormalisedEntropy(means.data(), num_experts_);
  h.collapsed = h.entropy < collapse_entropy_;
  return h;
}

MetricsReport ProgressiveMetrics::Report() const {
  MetricsReport r;
  r.gate_collapse_entropy = collapse_entropy_;
  for (int i = 0; i < num_tasks(); ++i) {
    r.tasks.push_back(TaskReport(i));
    r.gates.push_back(GateMeans(i));
    r.gate_health.push_back(Health(i, r.gates.back()));
    r.gate_counts.push_back(static_cast<int64_t>(state_[i].gate_ring.size() / num_experts_));
  }
  return r;
}

// ---- Serialisation. The window AUC histogram and the class totals are not
// stored: they are rebuilt from the ring and the all-time histogram, so a
// decoded state is consistent by construction.

void ProgressiveMetrics::SerializeTask(const TaskState& t, std::string* dst) {
  static_assert(std::is_trivially_copyable_v<WindowEntry> && sizeof(WindowEntry) == 16);
  PutFixed64(dst, static_cast<uint64_t>(t.count));
  PutDouble(dst, t.loss_sum);
  PutArray(dst, t.ring.data(), t.ring.size());
  PutFixed64(dst, static_cast<uint64_t>(t.gate_count));
  PutArray(dst, t.gate_ring.data(), t.gate_ring.size());
  PutArray(dst, t.all.pos.data(), t.all.pos.size());
  PutArray(dst, t.all.neg.data(), t.all.neg.size());
  PutFixed64(dst, static_cast<uint64_t>(t.lists));
  PutDouble(dst, t.list_loss_sum);
}

void ProgressiveMetrics::Serialize(std::string* dst) const {
  PutFixed32(dst, kMagic);
  PutFixed32(dst, kVersion);
  PutFixed32(dst, static_cast<uint32_t>(tasks_.size()));
  for (const TaskSpec& t : tasks_) {
    PutString(dst, t.name);
    PutFixed32(dst, static_cast<uint32_t>(t.kind));
  }
  PutFixed32(dst, static_cast<uint32_t>(num_experts_));
  PutFixed32(dst, static_cast<uint32_t>(window_));
  for (const TaskState& t : state_) SerializeTask(t, dst);
}

Status ProgressiveMetrics::DeserializeTask(Decoder* d, uint32_t version, bool binary,
                                           TaskState* t) const {
  const auto bad = [](std::string_view what) {
    return Status::Corruption("progressive metrics: inconsistent " + std::string(what));
  };
  uint64_t count = 0, gate_count = 0;
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&count));
  RANKER_RETURN_IF_ERROR(d->GetDouble(&t->loss_sum));
  RANKER_RETURN_IF_ERROR(GetVector(d, &t->ring));
  RANKER_RETURN_IF_ERROR(d->GetFixed64(&gate_count));
  RANKER_RETURN_IF_ERROR(GetVector(d, &t->gate_ring));
  const size_t bins = binary ? kAucBins : 0;
  RANKER_RETURN_IF_ERROR(GetVector(d, &t->all.pos, bins));
  RANKER_RETURN_IF_ERROR(GetVector(d, &t->all.neg, bins));
  uint64_t lists = 0;
  if (version >= 2) {
    RANKER_RETURN_IF_ERROR(d->GetFixed64(&lists));
    RANKER_RETURN_IF_ERROR(d->GetDouble(&t->list_loss_sum));
  }
  if (lists > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return bad("lists");
  t->lists = static_cast<int64_t>(lists);
  if (count > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
      gate_count > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return bad("counts");
  }
  t->count = static_cast<int64_t>(count);
  t->gate_count = static_cast<int64_t>(gate_count);
  const uint64_t w = static_cast<uint64_t>(window_);
  if (t->ring.size() != std::min(count, w)) return bad("window size");
  if (t->gate_ring.size() != std::min(gate_count, w) * num_experts_) return bad("gate window");
  t->gate_entropy.resize(t->gate_ring.size() / num_experts_);
  for (size_t r = 0; r < t->gate_entropy.size(); ++r) {
    t->gate_entropy[r] = NormalisedEntropy(&t->gate_ring[r * num_experts_], num_experts_);
  }
  t->recent.pos.assign(bins, 0);
  t->recent.neg.assign(bins, 0);
  for (const WindowEntry& e : t->ring) {
    if (!binary) {
      if (e.bin != -1) return bad("regression window entry");
      continue;
    }
    if (e.bin < 0 || e.bin >= kAucBins || (e.positive != 0 && e.positive != 1)) {
      return bad("window entry");
    }
    t->recent.Add(e.bin, e.positive != 0, 1);
  }
  int64_t total = 0;
  for (size_t b = 0; b < bins; ++b) {
    if (t->all.pos[b] < 0 || t->all.neg[b] < 0) return bad("AUC histogram");
    t->all.num_pos += t->all.pos[b];
    t->all.num_neg += t->all.neg[b];
    total += t->all.pos[b] + t->all.neg[b];
  }
  if (binary && total != t->count) return bad("AUC histogram total");
  return Status::OK();
}

Status ProgressiveMetrics::Deserialize(std::string_view src) {
  Decoder d(src, "progressive metrics");
  uint32_t magic = 0, version = 0, num_tasks = 0, experts = 0, window = 0;
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&magic));
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&version));
  if (magic != kMagic) return Status::Corruption("progressive metrics: bad magic");
  if (version < 1 || version > kVersion) {
    return Status::Corruption("progressive metrics: unknown version");
  }
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&num_tasks));
  if (num_tasks != tasks_.size()) {
    return Status::InvalidArgument("progressive metrics: snapshot has a different task count");
  }
  for (const TaskSpec& t : tasks_) {
    std::string name;
    uint32_t kind = 0;
    RANKER_RETURN_IF_ERROR(d.GetString(&name));
    RANKER_RETURN_IF_ERROR(d.GetFixed32(&kind));
    if (name != t.name || kind != static_cast<uint32_t>(t.kind)) {
      return Status::InvalidArgument("progressive metrics: snapshot task '" + name +
                                     "' does not match configured task '" + t.name + "'");
    }
  }
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&experts));
  RANKER_RETURN_IF_ERROR(d.GetFixed32(&window));
  if (experts != static_cast<uint32_t>(num_experts_) || window != static_cast<uint32_t>(window_)) {
    return Status::InvalidArgument(
        "progressive metrics: snapshot num_experts/metrics_window differ from the config");
  }
  std::vector<TaskState> state(tasks_.size());
  for (size_t i = 0; i < tasks_.size(); ++i) {
    RANKER_RETURN_IF_ERROR(DeserializeTask(&d, version, IsBinary(tasks_[i]), &state[i]));
  }
  if (!d.done()) return Status::Corruption("progressive metrics: trailing bytes");
  state_ = std::move(state);
  return Status::OK();
}

}  // namespace ranker::learner
