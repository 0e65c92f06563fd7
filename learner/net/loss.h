// Per-task losses (contract §2): logistic loss on a logit for binary tasks,
// squared loss for regression on the transformed label (log1p by default).
// Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>

#include "learner/options.h"
#include "learner/tensor.h"

namespace ranker::learner {

// The label a task is trained on: the raw label for binary tasks and for
// regression with LabelTransform::kNone; log1p(max(label, 0)) for kLog1p
// (negative labels are clamped: the contract allows only non-negative
// labels there). kNoLabel stays kNoLabel.
double TransformLabel(const TaskSpec& task, double label);

// The inverse for serving: the regression prediction on the label's scale
// (expm1(output) clipped at >= 0 for kLog1p; raw for kNone); for binary
// tasks the probability sigmoid(output).
double ServePrediction(const TaskSpec& task, double output);

// Numerically stable sigmoid.
double Sigmoid(double z);

struct LossValue {
  double loss = 0;  // the loss of one example
  double grad = 0;  // dLoss/dOutput
};

// Logistic loss softplus(z) - y*z of a logit, stable for any |z|;
// y in [0, 1].
LossValue LogisticLoss(double logit, double label);
// 0.5 * (prediction - target)^2, so grad is the residual.
LossValue SquaredLoss(double prediction, double target);

// The loss of `task` for one example: output is the logit (binary) or the
// prediction on the transformed scale (regression); `target` is
// TransformLabel(task, label). REQUIRES: HasLabel(target).
LossValue TaskLoss(const TaskSpec& task, double output, double target);

// The importance weight of fake-negative weighting (Ktena et al., "Addressing
// delayed feedback for continuous training with neural networks in CTR
// prediction", RecSys 2019) for an example with label y in {0, 1}, where p is
// the model's predicted probability at this step: 1 + p for a positive,
// (1 - p)(1 + p) for a (possibly fake) negative. A constant of the step: no
// gradient flows through it.
double FakeNegativeWeight(double p, double label);

// The positive-unlabeled loss of the same paper as an importance weight:
// its positive duplicate's loss -log p + log(1 - p) retracts the fake
// negative it corrects, and has the logit gradient -1 = w (p - 1) with
// w = 1 / (1 - p); negatives keep the log loss (w = 1). A constant of the
// step, so the weighted log loss has the PU loss's gradient.
double PositiveUnlabeledWeight(double p, double label);

// DEFER's importance weight (Gu et al., "Real Negatives Matter: Continuous
// Training with Real Negatives for Delayed Feedback Modeling", KDD 2021)
// with a zero waiting window, where each impression is trained twice (at
// once as a negative, then with its real label): the duplicated stream has
// q(y=1|x) = p/2, so positives weigh 2 and negatives (1 - p) / (1 - p/2).
// A constant of the step.
double DeferWeight(double p, double label);

// The importance weight of `correction` (1 for kNone).
double DelayedFeedbackWeight(DelayedFeedback correction, double p, double label);

// Weighted mean of TaskLoss over the examples of `outputs` with a label,
// and its gradient: with w_i = weights[i] (1 when `weights` is empty),
// (*grad)[i] = loss_weight * w_i * dLoss_i/dOutput / count for labelled i,
// 0 otherwise. Returns sum(w_i * loss_i) / count (0 when no example has a
// label) and writes the number of labelled examples into *count.
// REQUIRES: targets.size() == outputs.size(); weights empty or of that
// size, each finite and >= 0.
double BatchTaskLoss(const TaskSpec& task, const Vector& outputs, std::span<const double> targets,
                     Vector* grad, int* count, std::span<const double> weights = {});

// The listwise loss of a binary task (ListLoss::kListwise) over a batch.
// Lists are the maximal runs of equal nonzero `groups` (0: a list of its
// own); within a list only the examples with a label take part. A list
// whose labels sum to s > 0 contributes the cross-entropy of its label
// distribution y_i = label_i / s to the softmax of its logits:
//   loss = logsumexp(z) - sum_i y_i z_i,  dloss/dz_i = softmax_i - y_i.
// Returns the mean over those lists (0 when none) and writes their number
// into *lists; (*grad)[i] = loss_weight * dloss/dz_i / lists (0 outside
// them); (*probs)[i] = the softmax of i within its list (1 for unlabelled
// examples). REQUIRES: targets.size() == groups.size() == outputs.size().
double BatchListwiseLoss(const TaskSpec& task, const Vector& outputs,
                         std::span<const double> targets, std::span<const uint64_t> groups,
                         Vector* grad, std::vector<double>* probs, int* lists);

// The softmax of `logits` in place (stable for any values): a listwise
// task's serving probabilities over the candidates of one request.
void SoftmaxInPlace(std::span<double> logits);

}  // namespace ranker::learner
