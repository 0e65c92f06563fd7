// The hidden state of the simulated world: user, creator and item latent
// vectors, item biases, the observable features derived from them, and the
// truth functions (attraction, expected watch time). Immutable after
// construction except for the global attraction bias, which the Simulator
// calibrates once. Not thread-safe to mutate; const methods may be called
// from any thread.
#pragma once

#include <vector>

#include "base/random.h"
#include "learner/event.h"
#include "sim/sim_options.h"

namespace ranker::sim {

class World {
 public:
  // REQUIRES: options.Validate() is OK. Deterministic in options.seed.
  explicit World(const SimOptions& options);

  int users() const { return static_cast<int>(user_cat_.size()); }
  int items() const { return static_cast<int>(item_cat_.size()); }

  // affinity_scale * <u, i> + item_bias_i: the attraction logit without the
  // global bias. Latents are scaled so that <u, i> has variance ~1.
  double AffinityLogit(int user, int item) const;
  // sigmoid(bias + AffinityLogit(user, item)).
  double Attraction(int user, int item) const;
  double ExpectedWatchSeconds(int user, int item) const;
  double bias() const { return bias_; }
  void set_bias(double bias) { bias_ = bias; }

  // Draws a requesting user by activity, an item by popularity, a device by
  // share.
  int SampleUser(Rng* rng) const;
  int SampleItem(Rng* rng) const;
  int SampleDevice(Rng* rng) const;

  // Observable features. User: user_id, user.segment, user.country,
  // user.age_bucket; item: item_id, item.category, item.creator (field names
  // as in learner::CategoricalFeature). Dense: user_activity, user_p0,
  // user_p1; item_popularity, item_p0, item_p1, item_watch_p0 (noisy
  // projections of the latents, roughly standardised).
  const std::vector<learner::CategoricalFeature>& UserCategorical(int u) const {
    return user_cat_[u];
  }
  const std::vector<learner::CategoricalFeature>& ItemCategorical(int i) const {
    return item_cat_[i];
  }
  const std::vector<learner::DenseFeature>& UserDense(int u) const { return user_dense_[u]; }
  const std::vector<learner::DenseFeature>& ItemDense(int i) const { return item_dense_[i]; }
  const std::string& ItemId(int i) const { return item_cat_[i][0].value; }

 private:
  using Vec = std::vector<double>;
  double Dot(const Vec& a, const Vec& b) const;
  void BuildUsers(Rng* rng);
  void BuildItems(Rng* rng);

  const SimOptions options_;
  double bias_ = 0;
  double scale_ = 1;  // sd of one latent component
  std::vector<Vec> user_latent_, item_latent_, item_watch_;
  std::vector<double> item_bias_;
  std::vector<double> user_cdf_, item_cdf_, device_cdf_;
  std::vector<std::vector<learner::CategoricalFeature>> user_cat_, item_cat_;
  std::vector<std::vector<learner::DenseFeature>> user_dense_, item_dense_;
};

}  // namespace ranker::sim
