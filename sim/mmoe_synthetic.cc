#include "sim/mmoe_synthetic.h"

#include <cmath>
#include <vector>

#include "base/random.h"
#include "sim/event_json.h"

namespace ranker::sim {
namespace {

using Vec = std::vector<double>;

double Dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

Vec Gaussian(int n, Rng* rng) {
  Vec v(static_cast<size_t>(n));
  for (double& x : v) x = rng->Normal();
  return v;
}

void Normalise(Vec* v) {
  const double norm = std::sqrt(Dot(*v, *v));
  for (double& x : *v) x /= norm;
}

// The task weights w1, w2 of step 2.
std::pair<Vec, Vec> TaskWeights(const SyntheticOptions& o, Rng* rng) {
  Vec u1 = Gaussian(o.dim, rng);
  Normalise(&u1);
  Vec u2 = Gaussian(o.dim, rng);
  const double along = Dot(u1, u2);
  for (int i = 0; i < o.dim; ++i) u2[i] -= along * u1[i];  // Gram-Schmidt
  Normalise(&u2);
  const double p = o.correlation, q = std::sqrt(1 - p * p);
  Vec w1(u1.size()), w2(u1.size());
  for (size_t i = 0; i < u1.size(); ++i) {
    w1[i] = o.scale * u1[i];
    w2[i] = o.scale * (p * u1[i] + q * u2[i]);
  }
  return {w1, w2};
}

double Label(double wx, const Vec& alpha, const Vec& beta, Rng* rng) {
  double y = wx;
  for (size_t i = 0; i < alpha.size(); ++i) y += std::sin(alpha[i] * wx + beta[i]);
  return y + 0.1 * rng->Normal();  // eps ~ N(0, 0.01)
}

}  // namespace

Status SyntheticOptions::Validate() const {
  if (rows < 0) return Status::InvalidArgument("--events must be >= 0");
  if (!(correlation >= -1 && correlation <= 1)) {
    return Status::InvalidArgument("--correlation must be in [-1, 1]");
  }
  if (dim < 2) return Status::InvalidArgument("--dim must be >= 2");
  if (sinusoids < 0) return Status::InvalidArgument("--sinusoids must be >= 0");
  return Status::OK();
}

std::span<const std::string> SyntheticLabelNames() {
  static const std::string kNames[] = {"y1", "y2"};
  return kNames;
}

Status WriteSyntheticNdjson(const SyntheticOptions& o, std::ostream& out) {
  RANKER_RETURN_IF_ERROR(o.Validate());
  Rng rng(o.seed);
  const auto [w1, w2] = TaskWeights(o, &rng);
  const Vec alpha = Gaussian(o.sinusoids, &rng), beta = Gaussian(o.sinusoids, &rng);
  learner::Event event;
  event.type = learner::EventType::kExample;
  event.example.item_id = "synthetic";
  event.example.dense.resize(static_cast<size_t>(o.dim));
  for (int i = 0; i < o.dim; ++i) event.example.dense[i].name = "x" + std::to_string(i);
  Vec x(static_cast<size_t>(o.dim));
  for (int64_t row = 0; row < o.rows; ++row) {
    for (int i = 0; i < o.dim; ++i) event.example.dense[i].value = x[i] = rng.Normal();
    event.example.labels = {Label(Dot(w1, x), alpha, beta, &rng),
                            Label(Dot(w2, x), alpha, beta, &rng)};
    out << EncodeEventJson(event, SyntheticLabelNames()) << '\n';
    if (!out) return Status::IOError("synthetic stream: write failed");
  }
  return Status::OK();
}

}  // namespace ranker::sim
