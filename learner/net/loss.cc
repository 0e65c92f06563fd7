#include "learner/net/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "learner/event.h"

namespace ranker::learner {

double TransformLabel(const TaskSpec& task, double label) {
  if (!HasLabel(label)) return label;
  if (task.kind == TaskKind::kRegression && task.transform == LabelTransform::kLog1p) {
    return std::log1p(std::max(label, 0.0));
  }
  return label;
}

double ServePrediction(const TaskSpec& task, double output) {
  if (task.kind == TaskKind::kBinary) return Sigmoid(output);
  if (task.transform == LabelTransform::kLog1p) return std::max(std::expm1(output), 0.0);
  return output;
}

double Sigmoid(double z) {
  if (z >= 0) return 1 / (1 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1 + e);
}

LossValue LogisticLoss(double logit, double label) {
  // softplus(z) = max(z, 0) + log1p(exp(-|z|)) never overflows.
  const double softplus = std::max(logit, 0.0) + std::log1p(std::exp(-std::abs(logit)));
  return {softplus - label * logit, Sigmoid(logit) - label};
}

LossValue SquaredLoss(double prediction, double target) {
  const double r = prediction - target;
  return {0.5 * r * r, r};
}

LossValue TaskLoss(const TaskSpec& task, double output, double target) {
  return task.kind == TaskKind::kBinary ? LogisticLoss(output, target)
                                        : SquaredLoss(output, target);
}

double FakeNegativeWeight(double p, double label) {
  return label > 0.5 ? 1 + p : (1 - p) * (1 + p);
}

double PositiveUnlabeledWeight(double p, double label) {
  // p within 1e-9 of 1 (a saturated logit) keeps the weight finite; the
  // gradient then falls short of -1, never beyond it.
  return label > 0.5 ? 1 / std::max(1 - p, 1e-9) : 1.0;
}

double DeferWeight(double p, double label) { return label > 0.5 ? 2.0 : (1 - p) / (1 - p / 2); }

double DelayedFeedbackWeight(DelayedFeedback correction, double p, double label) {
  switch (correction) {
    case DelayedFeedback::kNone:
      return 1.0;
    case DelayedFeedback::kFakeNegativeWeighting:
      return FakeNegativeWeight(p, label);
    case DelayedFeedback::kPositiveUnlabeled:
      return PositiveUnlabeledWeight(p, label);
    case DelayedFeedback::kDefer:
      return DeferWeight(p, label);
  }
  return 1.0;
}

double BatchTaskLoss(const TaskSpec& task, const Vector& outputs, std::span<const double> targets,
                     Vector* grad, int* count, std::span<const double> weights) {
  const Eigen::Index n = outputs.size();
  grad->setZero(n);
  int labelled = 0;
  for (Eigen::Index i = 0; i < n; ++i) labelled += HasLabel(targets[i]) ? 1 : 0;
  *count = labelled;
  if (labelled == 0) return 0;
  double total = 0;
  const double scale = task.loss_weight / labelled;
  for (Eigen::Index i = 0; i < n; ++i) {
    if (!HasLabel(targets[i])) continue;
    const LossValue v = TaskLoss(task, outputs[i], targets[i]);
    const double w = weights.empty() ? 1.0 : weights[static_cast<size_t>(i)];
    total += w * v.loss;
    (*grad)[i] = static_cast<Real>(scale * w * v.grad);
  }
  return total / labelled;
}

namespace {

// One list [begin, end) of BatchListwiseLoss: softmax probabilities of its
// labelled members into *probs; returns the list's loss and adds
// scale * (softmax - y) into *grad, or returns NaN (and touches no
// gradient) when its labels sum to 0.
double OneListLoss(const Vector& z, std::span<const double> targets, size_t begin, size_t end,
                   double scale, Vector* grad, std::vector<double>* probs) {
  double max_z = -INFINITY, label_sum = 0;
  for (size_t i = begin; i < end; ++i) {
    if (!HasLabel(targets[i])) continue;
    max_z = std::max(max_z, static_cast<double>(z[static_cast<Eigen::Index>(i)]));
    label_sum += targets[i];
  }
  if (max_z == -INFINITY) return NAN;  // no labelled member
  double denom = 0;
  for (size_t i = begin; i < end; ++i) {
    if (!HasLabel(targets[i])) continue;
    (*probs)[i] = std::exp(z[static_cast<Eigen::Index>(i)] - max_z);
    denom += (*probs)[i];
  }
  double loss = max_z + std::log(denom);  // logsumexp
  for (size_t i = begin; i < end; ++i) {
    if (!HasLabel(targets[i])) continue;
    (*probs)[i] /= denom;
    if (label_sum <= 0) continue;
    const double y = targets[i] / label_sum;
    loss -= y * z[static_cast<Eigen::Index>(i)];
    (*grad)[static_cast<Eigen::Index>(i)] = static_cast<Real>(scale * ((*probs)[i] - y));
  }
  return label_sum > 0 ? loss : NAN;
}

}  // namespace

double BatchListwiseLoss(const TaskSpec& task, const Vector& outputs,
                         std::span<const double> targets, std::span<const uint64_t> groups,
                         Vector* grad, std::vector<double>* probs, int* lists) {
  const size_t n = targets.size();
  grad->setZero(static_cast<Eigen::Index>(n));
  probs->assign(n, 1.0);
  // First pass: count the lists with a click, for the mean's scale.
  std::vector<std::pair<size_t, size_t>> runs;
  for (size_t b = 0; b < n;) {
    size_t e = b + 1;
    while (groups[b] != 0 && e < n && groups[e] == groups[b]) ++e;
    runs.emplace_back(b, e);
    b = e;
  }
  int clicked = 0;
  for (const auto& [b, e] : runs) {
    double label_sum = 0;
    for (size_t i = b; i < e; ++i) label_sum += HasLabel(targets[i]) ? targets[i] : 0.0;
    clicked += label_sum > 0 ? 1 : 0;
  }
  *lists = clicked;
  const double scale = clicked > 0 ? task.loss_weight / clicked : 0.0;
  double total = 0;
  for (const auto& [b, e] : runs) {
    const double loss = OneListLoss(outputs, targets, b, e, scale, grad, probs);
    if (!std::isnan(loss)) total += loss;
  }
  return clicked > 0 ? total / clicked : 0.0;
}

void SoftmaxInPlace(std::span<double> logits) {
  if (logits.empty()) return;
  const double max_z = *std::max_element(logits.begin(), logits.end());
  double denom = 0;
  for (double& z : logits) denom += (z = std::exp(z - max_z));
  for (double& z : logits) z /= denom;
}

}  // namespace ranker::learner
