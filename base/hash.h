// Deterministic, platform-independent 64-bit hashing. Used for embedding keys
// (one row per distinct (field, value): unlike modulo buckets, two values
// share a row only on a 64-bit collision, odds ~N^2/2^65 for N values) and
// for parameter checksums.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ranker {

// The 64-bit finaliser of MurmurHash3: a bijection with full avalanche.
constexpr uint64_t Mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// FNV-1a over the bytes, finalised with Mix64. Stable across runs and builds.
constexpr uint64_t Hash64(std::string_view s, uint64_t seed = 0) {
  uint64_t h = 0xcbf29ce484222325ULL ^ Mix64(seed);
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return Mix64(h ^ s.size());
}

constexpr uint64_t HashCombine(uint64_t a, uint64_t b) {
  return Mix64(a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2)));
}

// The embedding key of one categorical value: distinct fields with equal
// values ("user.country=de" vs "item.country=de") get distinct keys.
constexpr uint64_t FeatureKey(std::string_view field, std::string_view value) {
  return HashCombine(Hash64(field), Hash64(value, 0x5eed));
}

// Incremental 64-bit digest of raw bytes (for param_checksum). Order-sensitive.
class Digest64 {
 public:
  void Update(const void* data, size_t n);
  void UpdateU64(uint64_t v) { Update(&v, sizeof(v)); }
  uint64_t value() const { return Mix64(h_ ^ n_); }
  // 16 lowercase hex digits.
  static std::string_view Hex(uint64_t v, char (&buf)[17]);

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
  uint64_t n_ = 0;
};

}  // namespace ranker
