#include "learner/loss.h"

#include <algorithm>
#include <cmath>

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

}  // namespace ranker::learner
