// Realistic synthetic examples for the benchmarks: the standard model's 8
// categorical fields (user_id, item_id, 3 user.*, 2 item.*, context.device)
// with skewed, realistic cardinalities, and 8 dense features.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "base/random.h"
#include "learner/event.h"

namespace ranker::bench {

// A skewed draw in [0, n): small ids are much more frequent (power law).
inline uint64_t Skewed(Rng* rng, uint64_t n) {
  const double u = rng->Uniform();
  return static_cast<uint64_t>(std::pow(u, 3.0) * static_cast<double>(n));
}

inline std::string Id(const char* prefix, uint64_t v) {
  std::string s(prefix);
  s += std::to_string(v);
  return s;
}

struct User {
  std::vector<learner::CategoricalFeature> features;  // user_id, user.*, context.device
  std::string device;
};

inline User MakeUser(Rng* rng) {
  static const char* kDevices[] = {"mobile", "desktop", "tablet", "tv"};
  User u;
  u.device = kDevices[Skewed(rng, 4)];
  u.features = {{"user_id", Id("u", Skewed(rng, 1000000))},
                {"user.country", Id("c", Skewed(rng, 60))},
                {"user.age_bucket", Id("a", rng->Below(8))},
                {"user.language", Id("l", Skewed(rng, 30))},
                {"context.device", u.device}};
  return u;
}

// The candidate-side features: item_id, item.*, dense{}.
inline learner::Example MakeCandidate(Rng* rng) {
  learner::Example e;
  e.item_id = Id("i", Skewed(rng, 200000));
  e.categorical = {{"item_id", e.item_id},
                   {"item.category", Id("cat", Skewed(rng, 300))},
                   {"item.creator", Id("cr", Skewed(rng, 20000))}};
  static const char* kDense[] = {"price",     "age_days", "length_s",  "ctr_7d",
                                 "views_log", "rating",   "freshness", "quality"};
  for (const char* name : kDense) e.dense.push_back({name, rng->Normal() * 3 + 1});
  return e;
}

// A full training example: user + candidate + position, device, labels.
inline learner::Example MakeExample(Rng* rng) {
  const User u = MakeUser(rng);
  learner::Example e = MakeCandidate(rng);
  e.categorical.insert(e.categorical.begin(), u.features.begin(), u.features.end());
  e.device = u.device;
  e.position = 1 + static_cast<int>(rng->Below(20));
  const bool click = rng->Bernoulli(0.1);
  e.labels = {click ? 1.0 : 0.0, click ? 30 * rng->Uniform() : 0.0};
  return e;
}

inline std::vector<learner::Example> MakeExamples(size_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<learner::Example> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(MakeExample(&rng));
  return out;
}

}  // namespace ranker::bench
