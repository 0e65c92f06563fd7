// A small deterministic random generator (xoshiro256**, seeded by SplitMix64).
// Unlike std::normal_distribution, its streams are identical on every
// platform and standard library, which the determinism guarantee needs.
#pragma once

#include <cmath>
#include <cstdint>

namespace ranker {

class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t NextU64();
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }
  // Uniform integer in [0, n). REQUIRES: n > 0.
  uint64_t Below(uint64_t n) { return NextU64() % n; }
  // Standard normal (Box-Muller; no cached second value, so the stream is a
  // pure function of the call sequence).
  double Normal();
  bool Bernoulli(double p) { return Uniform() < p; }

 private:
  uint64_t s_[4];
};

}  // namespace ranker
