// The synthetic two-regression-task stream of Ma et al. 2018 (KDD, "Modeling
// Task Relationships in Multi-task Learning with Multi-gate
// Mixture-of-Experts"), section 3.2, whose task correlation is a knob:
//   1. two orthogonal unit vectors u1, u2 in R^d (Gram-Schmidt on Gaussians);
//   2. w1 = c u1, w2 = c (p u1 + sqrt(1 - p^2) u2), p the correlation;
//   3. x in R^d with i.i.d. N(0, 1) elements;
//   4. y_k = w_k^T x + sum_{i=1..m} sin(alpha_i w_k^T x + beta_i) + eps_k,
//      eps_k ~ N(0, 0.01) (variance), alpha_i, beta_i ~ N(0, 1) drawn once
//      per seed (the paper's "given parameters").
// Each row is a contract-§1 `example` event: item_id "synthetic" (a
// constant), dense{x0..x<d-1>}, labels {"y1", "y2"} (regression on the raw
// label: tasks `y1:regression:1:1:none`, `y2:regression:1:1:none`).
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <string>

#include "base/status.h"

namespace ranker::sim {

struct SyntheticOptions {
  int64_t rows = 100000;
  double correlation = 0.5;  // p in [-1, 1]
  int dim = 100;             // d: dense inputs per row
  int sinusoids = 10;        // m
  double scale = 1.0;        // c
  uint64_t seed = 1;
  Status Validate() const;
};

// Task names of the labels, in order: {"y1", "y2"}.
std::span<const std::string> SyntheticLabelNames();

// Writes options.rows events as NDJSON to `out`; IOError if writing fails.
Status WriteSyntheticNdjson(const SyntheticOptions& options, std::ostream& out);

}  // namespace ranker::sim
