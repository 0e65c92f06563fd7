// Progressive (prequential) metrics: every example is scored before it is
// trained on, and the trainer reports that score here. Per task, over all
// examples and over the most recent `window` examples of that task:
//   binary tasks:     AUC and logloss (prediction = probability, label 0/1);
//   regression tasks: RMSE (prediction and label on the loss scale, i.e.
//                     after the task's label transform).
// Binary tasks with the listwise loss (TaskSpec::loss) report AUC of the
// within-list softmax probabilities and the list cross-entropy (the mean
// listwise loss of the lists seen, each scored before its step) in place
// of logloss.
// Plus expert utilisation: the mean gate weight per task and expert over the
// most recent `window` gate vectors of that task, and the gate's health
// over the same window (GateHealth).
//
// AUC is streaming: probabilities are binned into kAucBins equal bins of
// [0, 1]; pairs in different bins are ordered exactly, pairs in the same bin
// count 1/2 (as ties). The error is therefore at most
//   sum_b pos_b * neg_b / (2 * P * N),
// the share of positive/negative pairs that land in one bin, halved; for
// predictions spread over [0, 1] that is of order 1/kAucBins = 6e-5. Exact
// ties are scored 1/2, as in the usual Mann-Whitney definition.
//
// Undefined values (no examples yet; AUC without both classes) are NaN;
// renderers print them as null.
//
// Thread-safety: none; one writer (the trainer) owns it. Report() copies, so
// the trainer can publish the copy to readers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/coding.h"
#include "base/status.h"
#include "learner/event.h"
#include "learner/options.h"

namespace ranker::learner {

// One task's metrics at one moment.
struct TaskMetrics {
  std::string name;
  TaskKind kind = TaskKind::kBinary;
  int64_t count = 0;      // examples of this task seen so far
  int64_t positives = 0;  // binary only: examples with label 1
  double auc = 0;         // binary only
  double logloss = 0;     // binary only (natural log, p clamped to [1e-15, 1-1e-15])
  double rmse = 0;        // regression only
  // Binary only: the mean predicted probability (from the AUC histogram's
  // bins, within 1/kAucBins), for calibration against positives / count.
  double mean_prediction = 0;
  int64_t window_count = 0;  // min(count, window)
  double window_auc = 0;
  double window_logloss = 0;
  double window_rmse = 0;
  bool listwise = false;          // binary with ListLoss::kListwise
  int64_t lists = 0;              // listwise only: lists with a click seen so far
  double list_cross_entropy = 0;  // listwise only: mean loss of those lists
};

// The health of one task's gate over the recent window (NaN / empty before
// any gate vector). Entropies are normalised by log(experts) to [0, 1]:
// 1 = uniform, 0 = all weight on one expert.
struct GateHealth {
  // Entropy of the mean gate vector (GateMeans): low when the task routes
  // almost everything to one expert, whatever the example ("collapse").
  double entropy = 0;
  // Mean entropy of the individual gate vectors: low when each example is
  // routed sharply (healthy when `entropy` stays high: specialisation).
  double example_entropy = 0;
  // Per expert: the share of examples whose largest gate weight is its.
  std::vector<double> top_share;
  // entropy < the configured collapse threshold.
  bool collapsed = false;
};

// A snapshot of all metrics, for GET /v1/model, replay --json and /metrics.
struct MetricsReport {
  std::vector<TaskMetrics> tasks;  // in ModelOptions::tasks order
  // gates[task][expert]: mean gate weight over the task's recent gate vectors;
  // empty for a task that has had none (shared_bottom, independent).
  std::vector<std::vector<double>> gates;
  std::vector<int64_t> gate_counts;     // gate vectors in each task's window
  std::vector<GateHealth> gate_health;  // per task
  double gate_collapse_entropy = 0;     // the threshold of GateHealth::collapsed
};

class ProgressiveMetrics {
 public:
  static constexpr int kAucBins = 1 << 14;

  // REQUIRES: !tasks.empty(), num_experts >= 1, window >= 1.
  // collapse_entropy: GateHealth::collapsed below this normalised entropy.
  ProgressiveMetrics(std::vector<TaskSpec> tasks, int num_experts, int window,
                     double collapse_entropy = 0.1);

  // Records one prequential prediction. A missing label (kNoLabel) is
  // ignored. Binary: prediction in [0, 1] (clamped), label > 0.5 counts as a
  // positive. Regression: both finite, on the loss scale.
  // REQUIRES: 0 <= task < num_tasks().
  void Add(int task, double prediction, double label);

  // Records one gate vector (the softmax weights the task's gate gave the
  // experts for one example). REQUIRES: n == num_experts(), 0 <= task < num_tasks().
  void AddGates(int task, const float* weights, int n);
  void AddGates(int task, const double* weights, int n);
  // Records `lists` lists of a listwise task whose losses sum to loss_sum.
  void AddLists(int task, double loss_sum, int64_t lists);

  MetricsReport Report() const;

  int num_tasks() const { return static_cast<int>(tasks_.size()); }
  int num_experts() const { return num_experts_; }
  int window() const { return window_; }

  // Binary state (magic + version). Deserialize requires the same tasks
  // (names, kinds), num_experts and window as this object was built with;
  // on error the object is unchanged. A round trip gives identical reports
  // and identical future behaviour.
  void Serialize(std::string* dst) const;
  Status Deserialize(std::string_view src);

 private:
  // A histogram of binned predictions by label: the state of one AUC.
  struct AucHistogram {
    std::vector<int64_t> pos, neg;  // kAucBins each
    int64_t num_pos = 0, num_neg = 0;
    void Add(int bin, bool positive, int64_t delta);
    double Auc() const;
  };
  // One recent example: its bin (-1 for regression), label and loss
  // (logloss, or squared error).
  struct WindowEntry {
    double loss;
    int32_t bin;
    int32_t positive;
  };
  struct TaskState {
    int64_t count = 0;
    double loss_sum = 0;       // all-time sum of WindowEntry::loss
    AucHistogram all, recent;  // binary only (empty vectors for regression)
    // The last min(count, window) entries; entry i of the stream lives in
    // slot i % window.
    std::vector<WindowEntry> ring;
    // The last min(gate_count, window) gate vectors, num_experts values
    // each; vector i lives in row i % window.
    std::vector<double> gate_ring;
    // The normalised entropy of each gate_ring row, computed once as the row
    // is recorded (Report() runs at every publication: summing these is
    // O(window), recomputing them O(window x experts) logarithms). Derived:
    // not serialised, rebuilt on decode.
    std::vector<double> gate_entropy;
    int64_t gate_count = 0;  // vectors recorded (all time)
    int64_t lists = 0;       // listwise: lists recorded (all time)
    double list_loss_sum = 0;
  };

  template <typename T>
  void AddGatesImpl(int task, const T* weights, int n);
  TaskMetrics TaskReport(int task) const;
  static double MeanOfBins(const AucHistogram& h);
  std::vector<double> GateMeans(int task) const;
  GateHealth Health(int task, const std::vector<double>& means) const;
  static void SerializeTask(const TaskState& t, std::string* dst);
  Status DeserializeTask(Decoder* d, uint32_t version, bool binary, TaskState* t) const;

  std::vector<TaskSpec> tasks_;
  int num_experts_;
  int window_;
  double collapse_entropy_;
  std::vector<TaskState> state_;
};

}  // namespace ranker::learner
