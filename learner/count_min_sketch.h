// A count-min sketch: approximate counts of 64-bit keys in fixed memory
// (embedding admission, learner/embedding_table.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/coding.h"
#include "base/hash.h"
#include "base/status.h"

namespace ranker::learner {

// Approximate counts of keys in fixed memory: 4 rows of `width` saturating
// 16-bit counters (a count-min sketch). A key's estimate is the minimum of
// its 4 counters: never below its true count, above it on collisions.
class CountMinSketch {
 public:
  CountMinSketch() = default;  // empty: counts nothing, estimates 0
  explicit CountMinSketch(int64_t bytes);
  bool empty() const { return cells_.empty(); }
  size_t width() const { return width_; }
  uint32_t Estimate(uint64_t key) const;
  // Adds n to each counter of `key` (saturating); every `width` additions
  // all counters are halved.
  void Add(uint64_t key, uint32_t n);
  // Takes min(n, counter) from each counter of `key`.
  void Subtract(uint64_t key, uint32_t n);
  void Digest(Digest64* d) const;
  void Serialize(std::string* out) const;
  // InvalidArgument when the saved sketch has another (non-zero) size.
  Status Deserialize(Decoder* in);

 private:
  static constexpr int kDepth = 4;
  size_t Cell(uint64_t key, int r) const;
  std::vector<uint16_t> cells_;  // kDepth x width_
  size_t width_ = 0;
  uint64_t since_aging_ = 0;  // additions since the counters were last halved
};

}  // namespace ranker::learner
