#include "sim/world.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "base/hash.h"

namespace ranker::sim {
namespace {

using Vec = std::vector<double>;

constexpr double kFeatureNoise = 0.5;  // sd of the noise on derived features
// Standard-normal quantiles cutting N(0, 1) into equal-mass buckets.
constexpr double kSixths[] = {-0.967, -0.431, 0.0, 0.431, 0.967};
constexpr double kFifths[] = {-0.842, -0.253, 0.253, 0.842};
constexpr const char* kCountries[] = {"us", "de", "fr", "jp", "br", "in"};
constexpr const char* kAges[] = {"18-24", "25-34", "35-44", "45-54", "55+"};

Vec RandomVec(Rng* rng, int dim, double sd) {
  Vec v(static_cast<size_t>(dim));
  for (double& x : v) x = sd * rng->Normal();
  return v;
}

Vec UnitVec(Rng* rng, int dim) {
  Vec v = RandomVec(rng, dim, 1.0);
  double n = 0;
  for (double x : v) n += x * x;
  n = std::sqrt(n);
  for (double& x : v) x /= n;
  return v;
}

double Project(const Vec& v, const Vec& dir) {
  double s = 0;
  for (size_t k = 0; k < v.size(); ++k) s += v[k] * dir[k];
  return s;
}

// Index of the largest noisy component among the first `n`.
int NoisyArgmax(const Vec& v, double scale, int n, Rng* rng) {
  int best = 0;
  double best_value = -1e300;
  for (int k = 0; k < n; ++k) {
    const double x = v[static_cast<size_t>(k)] / scale + kFeatureNoise * rng->Normal();
    if (x > best_value) best_value = x, best = k;
  }
  return best;
}

// Bucket of a ~N(0, 1) value among equal-mass cut points.
template <size_t N>
int Bucket(double z, const double (&cuts)[N]) {
  return static_cast<int>(std::upper_bound(cuts, cuts + N, z) - cuts);
}

// Cumulative Zipf weights over a random permutation of n entities; `log_rel`
// receives log(weight / mean weight) of each entity.
Vec ZipfCdf(int n, double exponent, Rng* rng, Vec* log_rel) {
  std::vector<int> rank(static_cast<size_t>(n));
  for (int k = 0; k < n; ++k) rank[static_cast<size_t>(k)] = k;
  for (int k = n - 1; k > 0; --k) std::swap(rank[static_cast<size_t>(k)], rank[rng->Below(k + 1)]);
  Vec w(static_cast<size_t>(n)), cdf(static_cast<size_t>(n));
  double total = 0;
  for (size_t k = 0; k < w.size(); ++k) total += w[k] = std::pow(rank[k] + 1.0, -exponent);
  double acc = 0;
  log_rel->resize(w.size());
  for (size_t k = 0; k < w.size(); ++k) {
    acc += w[k] / total;
    cdf[k] = acc;
    (*log_rel)[k] = std::log(w[k] * n / total);
  }
  cdf.back() = 1.0;
  return cdf;
}

int SampleCdf(const Vec& cdf, Rng* rng) {
  const double u = rng->Uniform();
  const auto it = std::upper_bound(cdf.begin(), cdf.end(), u);
  return static_cast<int>(std::min<size_t>(it - cdf.begin(), cdf.size() - 1));
}

// "<prefix><n>", built by appending (GCC 12 warns falsely on "x" + to_string).
std::string Tag(std::string_view prefix, int n) {
  std::string s(prefix);
  s += std::to_string(n);
  return s;
}

}  // namespace

World::World(const SimOptions& options)
    : options_(options), scale_(std::pow(options.latent_dim, -0.25)) {
  Rng rng(Mix64(options.seed ^ 0x77041dULL));
  BuildUsers(&rng);
  BuildItems(&rng);
  double acc = 0, total = 0;
  for (const DeviceSpec& d : options_.devices) total += d.share;
  for (const DeviceSpec& d : options_.devices) device_cdf_.push_back(acc += d.share / total);
  device_cdf_.back() = 1.0;
}

void World::BuildUsers(Rng* rng) {
  const int n = options_.users, dim = options_.latent_dim;
  Vec log_activity;
  user_cdf_ = ZipfCdf(n, options_.user_activity_exponent, rng, &log_activity);
  const Vec country_dir = UnitVec(rng, dim), age_dir = UnitVec(rng, dim);
  const Vec p0 = UnitVec(rng, dim), p1 = UnitVec(rng, dim);
  for (int u = 0; u < n; ++u) {
    Vec z = RandomVec(rng, dim, scale_);
    const int segment = NoisyArgmax(z, scale_, std::min(dim, 8), rng);
    const double c = Project(z, country_dir) / scale_ + kFeatureNoise * rng->Normal();
    const double a = Project(z, age_dir) / scale_ + kFeatureNoise * rng->Normal();
    const double norm = std::sqrt(1 + kFeatureNoise * kFeatureNoise);
    user_cat_.push_back({{"user_id", Tag("u", u)},
                         {"user.segment", Tag("s", segment)},
                         {"user.country", kCountries[Bucket(c / norm, kSixths)]},
                         {"user.age_bucket", kAges[Bucket(a / norm, kFifths)]}});
    user_dense_.push_back({{"user_activity", log_activity[static_cast<size_t>(u)]},
                           {"user_p0", Project(z, p0) / scale_ + kFeatureNoise * rng->Normal()},
                           {"user_p1", Project(z, p1) / scale_ + kFeatureNoise * rng->Normal()}});
    user_latent_.push_back(std::move(z));
  }
}

void World::BuildItems(Rng* rng) {
  const int n = options_.items, dim = options_.latent_dim;
  Vec log_popularity;
  item_cdf_ = ZipfCdf(n, options_.item_popularity_exponent, rng, &log_popularity);
  std::vector<Vec> creators;
  for (int c = 0; c < options_.creators; ++c) creators.push_back(RandomVec(rng, dim, scale_));
  const Vec p0 = UnitVec(rng, dim), p1 = UnitVec(rng, dim), w0 = UnitVec(rng, dim);
  const double half = std::sqrt(0.5);
  for (int i = 0; i < n; ++i) {
    const int creator = static_cast<int>(rng->Below(static_cast<uint64_t>(options_.creators)));
    Vec z = RandomVec(rng, dim, scale_);
    for (size_t k = 0; k < z.size(); ++k) z[k] = half * (z[k] + creators[creator][k]);
    Vec w = RandomVec(rng, dim, scale_);
    item_bias_.push_back(options_.item_bias_std * rng->Normal());
    const int category = NoisyArgmax(z, scale_, std::min(dim, 8), rng);
    item_cat_.push_back({{"item_id", Tag("i", i)},
                         {"item.category", Tag("c", category)},
                         {"item.creator", Tag("cr", creator)}});
    item_dense_.push_back(
        {{"item_popularity", log_popularity[static_cast<size_t>(i)]},
         {"item_p0", Project(z, p0) / scale_ + kFeatureNoise * rng->Normal()},
         {"item_p1", Project(z, p1) / scale_ + kFeatureNoise * rng->Normal()},
         {"item_watch_p0", Project(w, w0) / scale_ + kFeatureNoise * rng->Normal()}});
    item_latent_.push_back(std::move(z));
    item_watch_.push_back(std::move(w));
  }
}

double World::Dot(const Vec& a, const Vec& b) const { return Project(a, b); }

double World::AffinityLogit(int user, int item) const {
  return options_.affinity_scale * Dot(user_latent_[user], item_latent_[item]) + item_bias_[item];
}

double World::Attraction(int user, int item) const {
  return 1.0 / (1.0 + std::exp(-(bias_ + AffinityLogit(user, item))));
}

double World::ExpectedWatchSeconds(int user, int item) const {
  const double c = options_.conflict;
  const double z = (1 - c) * Dot(user_latent_[user], item_latent_[item]) +
                   c * Dot(user_latent_[user], item_watch_[item]);
  return std::exp(options_.watch_mu + options_.watch_sigma * z);
}

int World::SampleUser(Rng* rng) const { return SampleCdf(user_cdf_, rng); }
int World::SampleItem(Rng* rng) const { return SampleCdf(item_cdf_, rng); }
int World::SampleDevice(Rng* rng) const { return SampleCdf(device_cdf_, rng); }

}  // namespace ranker::sim
