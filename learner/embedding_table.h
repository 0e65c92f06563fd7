// Embedding rows of categorical values, keyed by the 64-bit
// base::FeatureKey(field, value): no modulo buckets, so distinct values
// never share a row (barring a 64-bit collision). Each row stores its
// weights and its optimizer state side by side, in fixed-size chunks (rows
// never move, the table grows without copying old rows).
//
// Initialisation: a row's initial weights are a pure function of (key,
// seed): U(-init_scale, +init_scale) from Rng(HashCombine(key, seed)). The
// trainer creates the row on its first update; the scorer looks an unseen
// key up WITHOUT inserting and gets the same initial weights, so a value
// seen for the first time is scored in serving exactly as training would
// see it.
//
// Thread-safety: const methods may run concurrently; anything else needs
// exclusive access (one trainer writes; scorers read a published copy).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/coding.h"
#include "base/hash.h"
#include "learner/tensor.h"

namespace ranker::learner {

class EmbeddingTable {
 public:
  // state_width optimizer values per row, each initialised to state_init.
  EmbeddingTable(int dim, int state_width, Real state_init, uint64_t seed, double init_scale);

  int dim() const { return dim_; }
  int state_width() const { return state_width_; }
  size_t size() const { return keys_.size(); }

  // The weights [dim] of `key`, or nullptr when it has no row.
  // Valid until the table is destroyed (rows never move).
  const Real* Find(uint64_t key) const;
  // Writes the weights of `key` into out[0, dim): its row, or its initial
  // weights when it has none (the table is not changed).
  void Lookup(uint64_t key, Real* out) const;
  // Writes the deterministic initial weights of `key` into out[0, dim).
  void InitialWeights(uint64_t key, Real* out) const;

  // The row of `key` (weights, then state_width() optimizer values),
  // created with its initial weights and state when absent. Marks it dirty.
  std::span<Real> Mutable(uint64_t key);

  // Keys of the rows created or changed since the last ClearDirty(), in
  // the order they first became dirty (for incremental snapshots).
  const std::vector<uint64_t>& dirty_keys() const { return dirty_keys_; }
  void ClearDirty();

  // All keys, ascending.
  std::vector<uint64_t> SortedKeys() const;
  // Digests every row (key, weights, state) in ascending key order, so the
  // result does not depend on insertion or hash-table order.
  void Digest(Digest64* d) const;
  // Rows in ascending key order (restores identically regardless of the
  // insertion order). Dirty flags are not saved; a restored table is clean.
  void Serialize(std::string* out) const;
  Status Deserialize(Decoder* in);

 private:
  static constexpr size_t kRowsPerChunk = 4096;
  size_t stride() const { return static_cast<size_t>(dim_ + state_width_); }
  Real* RowPtr(size_t row);
  const Real* RowPtr(size_t row) const;
  size_t AppendRow(uint64_t key);
  // The row of `key`, or kNoRow.
  uint32_t RowOf(uint64_t key) const;
  void IndexInsert(uint64_t key, uint32_t row);

  // The key -> row index: open addressing with linear probing over a
  // power-of-two array at most half full (a lookup touches one or two
  // cache lines; std::unordered_map chases a node per lookup). Keys are
  // well-mixed 64-bit hashes, so their low bits pick the slot.
  static constexpr uint32_t kNoRow = UINT32_MAX;
  struct Slot {
    uint64_t key = 0;
    uint32_t row = kNoRow;
  };
  std::vector<Slot> slots_;

  int dim_;
  int state_width_;
  Real state_init_;
  uint64_t seed_;
  double init_scale_;
  std::vector<uint64_t> keys_;             // row -> key
  std::vector<std::vector<Real>> chunks_;  // kRowsPerChunk rows each
  std::vector<uint8_t> dirty_;             // row -> dirty since ClearDirty
  std::vector<uint64_t> dirty_keys_;
};

}  // namespace ranker::learner
