// Small synthetic examples for the model tests (tests/learner/model_*,
// scorer_*): a learnable world where clicks depend on the item.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "base/random.h"
#include "learner/event.h"
#include "learner/model.h"
#include "learner/options.h"

namespace ranker::learner::testing {

inline std::string Str(const char* prefix, uint64_t v) {
  std::string s(prefix);
  s += std::to_string(v);
  return s;
}

inline Example MakeExample(Rng* rng, bool with_dense = true) {
  Example e;
  const uint64_t item = rng->Below(20);
  const uint64_t user = rng->Below(50);
  e.item_id = Str("i", item);
  e.position = 1 + static_cast<int>(rng->Below(10));
  e.device = rng->Bernoulli(0.5) ? "mobile" : "desktop";
  e.categorical = {{"user_id", Str("u", user)},
                   {"item_id", e.item_id},
                   {"user.country", Str("c", user % 5)},
                   {"item.category", Str("k", item % 4)},
                   {"context.device", e.device}};
  if (with_dense) e.dense = {{"price", static_cast<double>(item)}, {"noise", rng->Normal()}};
  // Items below 5 are good: clicked often, watched long.
  const double p = item < 5 ? 0.8 : 0.1;
  const bool click = rng->Bernoulli(p);
  e.labels = {click ? 1.0 : 0.0, click ? 10.0 + static_cast<double>(item) : 0.0};
  return e;
}

inline std::vector<Example> MakeExamples(size_t n, uint64_t seed, bool with_dense = true) {
  Rng rng(seed);
  std::vector<Example> out;
  for (size_t i = 0; i < n; ++i) out.push_back(MakeExample(&rng, with_dense));
  return out;
}

// Create() that fails the test (and aborts it) on error.
inline std::unique_ptr<Model> MustCreate(const ModelOptions& o, const OptimizerOptions& opt) {
  StatusOr<std::unique_ptr<Model>> m = Model::Create(o, opt);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  if (!m.ok()) std::abort();
  return std::move(m).value();
}

// A small, fast model of the standard shape.
inline ModelOptions SmallModel() {
  ModelOptions o;
  o.categorical_slots = 6;
  o.embedding_dim = 4;
  o.dense_slots = 3;
  o.num_experts = 3;
  o.expert_hidden = {16, 8};
  o.tower_hidden = {8};
  return o;
}

}  // namespace ranker::learner::testing
